"""The booking side of the catalog: a branch's booking policy and how a visit's services line up in time.

Both are shared rules: the appointment services book by them and the availability search offers slots by them, so a
slot it offers is a slot the booking accepts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from backend.organizations.models import Branch


@dataclass(frozen=True)
class BookingPolicy:
    """A branch's effective booking rules (the branch's overrides, else its organization's; defaults in
    ``backend.organizations.models``: step 15 min, lead time 60 min, horizon 60 days, cutoff 120 min, reminders
    24 h and 2 h before).

    ``online`` is the organization's and the branch's switch together; the service's, the branch offer's and the
    master's switches are checked per booking.
    """

    slot_step_minutes: int
    lead_time_minutes: int
    horizon_days: int
    cancel_cutoff_minutes: int
    reminder_offsets_minutes: tuple[int, ...]
    online: bool
    time_zone: str

    @property
    def slot_step(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.slot_step_minutes)

    @property
    def lead_time(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.lead_time_minutes)

    @property
    def horizon(self) -> dt.timedelta:
        return dt.timedelta(days=self.horizon_days)

    @property
    def cancel_cutoff(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.cancel_cutoff_minutes)


def booking_policy(branch: Branch) -> BookingPolicy:
    """The effective booking policy of ``branch`` (its organization must be loaded or loadable)."""
    org = branch.organization
    offsets = org.booking_reminder_offsets_minutes or []
    return BookingPolicy(
        slot_step_minutes=branch.booking_slot_step_minutes or org.booking_slot_step_minutes,
        lead_time_minutes=(
            branch.booking_lead_time_minutes
            if branch.booking_lead_time_minutes is not None
            else org.booking_lead_time_minutes
        ),
        horizon_days=branch.booking_horizon_days or org.booking_horizon_days,
        cancel_cutoff_minutes=org.booking_cancel_cutoff_minutes,
        reminder_offsets_minutes=tuple(sorted({int(m) for m in offsets}, reverse=True)),
        online=bool(org.online_booking and org.is_active and branch.online_booking and branch.is_active),
        time_zone=branch.effective_time_zone,
    )


@dataclass(frozen=True)
class LineTiming:
    """Where one service of a visit lies: the service itself and the interval it holds (with its buffers)."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    occupied_from: dt.datetime
    occupied_until: dt.datetime


@dataclass(frozen=True)
class LineShape:
    """What a line's timing depends on: its duration and buffers, in minutes."""

    duration_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0


def visit_line_timings(start: dt.datetime, shapes: Sequence[LineShape]) -> list[LineTiming]:
    """The timings of a visit's services in sequence, the first one starting at ``start``.

    Each line holds ``[start - buffer_before, end + buffer_after)``; the next line starts when the previous one's
    held time ends plus its own buffer before, so the held intervals of one visit touch and never overlap (the
    database would refuse an overlap even within one visit when one master does two lines).
    """
    timings: list[LineTiming] = []
    cursor = start
    for index, shape in enumerate(shapes):
        before = dt.timedelta(minutes=shape.buffer_before_minutes)
        after = dt.timedelta(minutes=shape.buffer_after_minutes)
        starts_at = cursor if index == 0 else cursor + before
        ends_at = starts_at + dt.timedelta(minutes=shape.duration_minutes)
        timings.append(LineTiming(starts_at, ends_at, starts_at - before, ends_at + after))
        cursor = ends_at + after
    return timings
