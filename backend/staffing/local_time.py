"""A shift's times as the worker reads them: in the time zone of the site they travel to.

Shifts are stored in UTC; every text a worker receives (a call-up, a confirmation request, the bot's lists) shows
the site's wall-clock time, because that is the clock on the warehouse wall when they arrive. The site's own zone
wins, else its organization's (``Site.effective_time_zone``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from backend.staffing.models import Shift


def site_zone(shift: Shift) -> ZoneInfo:
    """The zone of the shift's site (the order's site)."""
    return ZoneInfo(shift.order.site.effective_time_zone)


def at_site(shift: Shift, moment: dt.datetime) -> dt.datetime:
    """``moment`` on the wall clock of the shift's site."""
    return moment.astimezone(site_zone(shift))


def shift_span(shift: Shift) -> str:
    """``dd.mm HH:MM-HH:MM`` in the site's zone (the end's day is implied: night shifts end the next morning)."""
    start, end = at_site(shift, shift.starts_at), at_site(shift, shift.ends_at)
    return f"{start:%d.%m %H:%M}-{end:%H:%M}"
