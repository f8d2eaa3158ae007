"""Availability by whole days, the way a worker answers it on a phone keyboard: "free on Tuesday", "not on
Wednesday". Days are calendar days in the pool's time zone (the HQ's; ``Organization.time_zone``).

Built on the windows of ``pool.availability_declare``: a free day is one window over the day (merged with its
neighbours as usual); a day marked not free cuts the day out of every window that overlaps it, keeping the parts
before and after. Both are all-or-nothing, recorded in the event log, and under the worker's lock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.events import event_record, snapshot
from backend.core.exceptions import ValidationFailed
from backend.core.models import EventAction
from backend.staffing.exceptions import StaffingErrorCode
from backend.staffing.models import Worker, WorkerAvailability
from backend.staffing.selectors import worker_self_get
from backend.staffing.services.pool import AVAILABILITY_HORIZON_DAYS, availability_declare, window_delete

#: How many days ahead the day-by-day view shows, today included.
DAYS_AHEAD = 7


class DayState(StrEnum):
    FREE = "free"  # the whole (remaining) day is inside the worker's windows
    PARTLY = "partly"  # some of it
    BUSY = "busy"  # none of it


@dataclass(frozen=True)
class DayAvailability:
    day: dt.date
    state: DayState
    #: The windows that touch the day, clipped to it, in the pool's time zone.
    windows: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)


def pool_zone(worker: Worker) -> ZoneInfo:
    """The pool's time zone (UTC when the organization's is unknown)."""
    try:
        return ZoneInfo(worker.organization.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start, end


def _day_state(
    day: dt.date, zone: ZoneInfo, windows: list[tuple[dt.datetime, dt.datetime]], now: dt.datetime
) -> DayAvailability:
    start, end = _day_bounds(day, zone)
    lo = max(start, now)
    touching = [(max(s, start), min(e, end)) for s, e in windows if s < end and e > start]
    covered = sum(max(0.0, (e - max(s, lo)).total_seconds()) for s, e in touching)
    need = (end - lo).total_seconds()
    state = DayState.FREE if covered >= need - 1 else DayState.PARTLY if covered > 0 else DayState.BUSY
    return DayAvailability(
        day=day, state=state, windows=[(s.astimezone(zone), e.astimezone(zone)) for s, e in touching]
    )


def _windows(worker: Worker, now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    return list(
        WorkerAvailability.objects.filter(worker=worker, ends_at__gt=now)
        .order_by("starts_at")
        .values_list("starts_at", "ends_at")
    )


def availability_days(*, user: Any, days: int = DAYS_AHEAD, now: dt.datetime | None = None) -> list[DayAvailability]:
    """The caller's availability for ``days`` (1-31) calendar days from today (pool time): free, partly or busy."""
    now = now or timezone.now()
    worker = worker_self_get(user)
    zone = pool_zone(worker)
    today = now.astimezone(zone).date()
    windows = _windows(worker, now)
    return [_day_state(today + dt.timedelta(days=i), zone, windows, now) for i in range(max(1, min(days, 31)))]


def _day_check(day: dt.date, today: dt.date) -> None:
    if day < today or day > today + dt.timedelta(days=AVAILABILITY_HORIZON_DAYS):
        raise ValidationFailed(
            _("Choose a day from today to %(n)d days ahead.") % {"n": AVAILABILITY_HORIZON_DAYS},
            code=StaffingErrorCode.INVALID_AVAILABILITY,
            fields={"day": [day.isoformat()]},
        )


@transaction.atomic
def availability_day_set(*, user: Any, day: dt.date, free: bool, now: dt.datetime | None = None) -> DayAvailability:
    """The caller says whether they can work on ``day`` (pool time): free all day, or not at all. Returns the day
    as it now stands. 422 ``invalid_availability`` for a day in the past or beyond the horizon."""
    now = now or timezone.now()
    worker = Worker.objects.select_for_update().select_related("organization").get(pk=worker_self_get(user).pk)
    zone = pool_zone(worker)
    _day_check(day, now.astimezone(zone).date())
    start, end = _day_bounds(day, zone)
    if free:
        availability_declare(user=user, windows=[(max(start, now), end)])
    else:
        overlapping = WorkerAvailability.objects.select_for_update().filter(
            worker=worker, starts_at__lt=end, ends_at__gt=start
        )
        for row in list(overlapping.order_by("starts_at")):
            pieces = [(row.starts_at, start)] if row.starts_at < start else []
            if row.ends_at > end:
                pieces.append((end, row.ends_at))
            window_delete(row, actor=user, organization_id=worker.organization_id)
            for piece_start, piece_end in pieces:
                piece = WorkerAvailability.objects.create(worker=worker, starts_at=piece_start, ends_at=piece_end)
                event_record(
                    entity=piece,
                    action=EventAction.CREATE,
                    actor=user,
                    organization_id=worker.organization_id,
                    after=snapshot(piece, ("starts_at", "ends_at")),
                )
    return _day_state(day, zone, _windows(worker, now), now)


__all__ = ["DAYS_AHEAD", "DayAvailability", "DayState", "availability_day_set", "availability_days", "pool_zone"]
