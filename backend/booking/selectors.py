"""Staff schedule reads: a master's working intervals in UTC, computed day by day in the branch's zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils.translation import gettext as _

from backend.core.exceptions import NotFound, ValidationFailed
from backend.organizations.models import Branch
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for

from .exceptions import BookingErrorCode
from .models import ExceptionKind, PatternKind, ScheduleException, WorkPattern
from .services.schedules import MAX_HORIZON_DAYS, MAX_YEAR, MIN_YEAR

Interval = tuple[dt.datetime, dt.datetime]
LocalRange = tuple[dt.time, dt.time]


def _parse_breaks(raw: Iterable[Sequence[str]]) -> list[LocalRange]:
    return sorted((dt.time.fromisoformat(start), dt.time.fromisoformat(end)) for start, end in raw)


def day_segments(day_start: dt.time, day_end: dt.time, breaks: Sequence[LocalRange]) -> list[LocalRange]:
    """The local working ranges of one day: its hours with the (validated, non-overlapping) breaks cut out."""
    segments: list[LocalRange] = []
    cursor = day_start
    for start, end in sorted(breaks):
        if start > cursor:
            segments.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < day_end:
        segments.append((cursor, day_end))
    return segments


def pattern_works_on(pattern: WorkPattern, day: dt.date) -> bool:
    """Whether ``day`` is a working day of the pattern (inside anchor..end, on the cycle or the weekdays)."""
    if not pattern.anchor_date <= day <= pattern.end_date:
        return False
    if pattern.kind == PatternKind.CYCLE:
        on, off = pattern.cycle_on or 0, pattern.cycle_off or 0
        return (day - pattern.anchor_date).days % (on + off) < on
    return day.weekday() in (pattern.weekdays or [])


def _to_utc(day: dt.date, local: dt.time, zone: ZoneInfo) -> dt.datetime:
    # fold=0: a wall time skipped by a spring-forward gap maps with the offset before the change (so 03:30 on a
    # 03:00 -> 04:00 day means 04:30 summer time); a repeated autumn hour means its first occurrence.
    return dt.datetime.combine(day, local, tzinfo=zone).astimezone(dt.UTC)


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _range_check(first_day: dt.date, last_day: dt.date) -> None:
    fields: dict[str, list[str]] = {}
    for field, value in (("first_day", first_day), ("last_day", last_day)):
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            fields[field] = [_("Enter a date between %(min)d and %(max)d.") % {"min": MIN_YEAR, "max": MAX_YEAR}]
    if not fields and last_day < first_day:
        fields["last_day"] = [_("The end date is before the start.")]
    elif not fields and (last_day - first_day).days > MAX_HORIZON_DAYS:
        fields["last_day"] = [_("A schedule spans at most %(n)d days.") % {"n": MAX_HORIZON_DAYS}]
    if fields:
        raise ValidationFailed(_("Some fields are invalid."), code=BookingErrorCode.INVALID_DATES, fields=fields)


def working_intervals(
    *, user: Any, branch_id: int, staff_id: int, first_day: dt.date, last_day: dt.date
) -> list[Interval]:
    """A master's working time at a branch on the local days ``first_day``..``last_day``, as sorted, merged
    ``[start, end)`` pairs of aware UTC datetimes: patterns minus breaks, days off and vacations removed, extra days
    added with their own hours (an extra day replaces the patterns' hours that day).

    Another tenant's branch is a 404; reading another master's schedule needs the schedule-view right, one's own
    the staffing-self right.
    """
    branch = (
        Branch.objects.select_related("organization")
        .filter(id=branch_id, organization_id__in=organization_ids_for(user))
        .first()
    )
    if branch is None:
        raise NotFound(_("Not found."))
    own = staff_id == getattr(user, "pk", None)
    if own and branch.organization_id in organization_ids_for(user, Perm.STAFFING_SELF):
        organization_access_check(user, branch.organization_id, Perm.STAFFING_SELF)
    else:
        organization_access_check(user, branch.organization_id, Perm.SCHEDULE_VIEW)
    _range_check(first_day, last_day)
    zone = ZoneInfo(branch.effective_time_zone)

    scope = Q(organization_id=branch.organization_id, branch_id=branch.pk, staff_id=staff_id)
    patterns = list(WorkPattern.objects.filter(scope, anchor_date__lte=last_day, end_date__gte=first_day))
    exceptions = list(ScheduleException.objects.filter(scope, start_date__lte=last_day, end_date__gte=first_day))

    intervals: list[Interval] = []
    day = first_day
    while day <= last_day:
        todays = [e for e in exceptions if e.start_date <= day <= e.end_date]
        extra = [e for e in todays if e.kind == ExceptionKind.EXTRA_DAY]
        ranges: list[LocalRange] = []
        if extra:
            for e in extra:
                assert e.day_start is not None and e.day_end is not None  # the service requires them
                ranges += day_segments(e.day_start, e.day_end, _parse_breaks(e.breaks))
        elif not todays:
            for p in patterns:
                if pattern_works_on(p, day):
                    ranges += day_segments(p.day_start, p.day_end, _parse_breaks(p.breaks))
        for start, end in ranges:
            utc_start, utc_end = _to_utc(day, start, zone), _to_utc(day, end, zone)
            if utc_end > utc_start:
                intervals.append((utc_start, utc_end))
        day += dt.timedelta(days=1)
    return _merge(intervals)
