"""Staff schedule writes: work patterns and exceptions, validated here, each with its event in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from backend.booking.exceptions import BookingErrorCode
from backend.booking.models import ExceptionKind, PatternKind, ScheduleException, WorkPattern
from backend.core.events import event_record, snapshot
from backend.core.exceptions import ValidationFailed
from backend.core.models import EventAction
from backend.organizations.models import Branch, Membership, Role
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, tenant_row_for_change

#: A pattern or an exception spans at most this many days after its first day: schedules are generated up to the
#: end date, so an unbounded one would make every availability read walk years.
MAX_HORIZON_DAYS = 366
MAX_CYCLE_DAYS = 366
MIN_YEAR, MAX_YEAR = 1900, 2100

TimeRange = tuple[dt.time, dt.time]


class _Errors:
    """Field errors with the code of the first one, raised together so a form can show every problem at once."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}
        self.code: str | None = None

    def add(self, field: str, message: str, code: BookingErrorCode) -> None:
        self.fields.setdefault(field, []).append(message)
        self.code = self.code or code

    def raise_any(self) -> None:
        if self.fields:
            raise ValidationFailed(_("Some fields are invalid."), code=self.code, fields=self.fields)


def _dates_check(errors: _Errors, first: dt.date, last: dt.date, first_field: str) -> None:
    for field, value in ((first_field, first), ("end_date", last)):
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            errors.add(
                field,
                _("Enter a date between %(min)d and %(max)d.") % {"min": MIN_YEAR, "max": MAX_YEAR},
                BookingErrorCode.INVALID_DATES,
            )
    if "end_date" in errors.fields or first_field in errors.fields:
        return
    if last < first:
        errors.add("end_date", _("The end date is before the start."), BookingErrorCode.INVALID_DATES)
    elif (last - first).days > MAX_HORIZON_DAYS:
        errors.add(
            "end_date",
            _("A schedule spans at most %(n)d days.") % {"n": MAX_HORIZON_DAYS},
            BookingErrorCode.HORIZON_TOO_LONG,
        )


def _hours_check(errors: _Errors, day_start: dt.time, day_end: dt.time, breaks: Sequence[TimeRange]) -> None:
    if day_start.tzinfo is not None or day_end.tzinfo is not None:
        errors.add("day_start", _("Enter a local time without a zone."), BookingErrorCode.INVALID_HOURS)
        return
    if day_end <= day_start:
        # Overnight shifts are not modelled yet: a day's hours lie inside that calendar day.
        errors.add("day_end", _("The day must end after it starts."), BookingErrorCode.INVALID_HOURS)
        return
    previous_end: dt.time | None = None
    for start, end in sorted(breaks):
        if end <= start:
            errors.add("breaks", _("A break must end after it starts."), BookingErrorCode.INVALID_BREAKS)
        elif start < day_start or end > day_end:
            errors.add("breaks", _("A break must lie inside the working hours."), BookingErrorCode.INVALID_BREAKS)
        elif previous_end is not None and start < previous_end:
            errors.add("breaks", _("Breaks must not overlap."), BookingErrorCode.INVALID_BREAKS)
        previous_end = max(end, previous_end) if previous_end is not None else end


def schedule_pattern_validate(
    *,
    kind: str,
    anchor_date: dt.date,
    end_date: dt.date,
    day_start: dt.time,
    day_end: dt.time,
    breaks: Sequence[TimeRange] = (),
    cycle_on: int | None = None,
    cycle_off: int | None = None,
    weekdays: Sequence[int] = (),
) -> None:
    """Raise ValidationFailed (field errors, a BookingErrorCode) unless the pattern is a well-formed schedule."""
    errors = _Errors()
    if kind not in PatternKind.values:
        errors.add("kind", _("Unknown pattern kind."), BookingErrorCode.INVALID_PATTERN)
    elif kind == PatternKind.CYCLE:
        for field, value in (("cycle_on", cycle_on), ("cycle_off", cycle_off)):
            if value is None or not 1 <= value <= MAX_CYCLE_DAYS:
                errors.add(
                    field,
                    _("Enter whole days between 1 and %(max)d.") % {"max": MAX_CYCLE_DAYS},
                    BookingErrorCode.INVALID_PATTERN,
                )
    else:
        if not weekdays or len(set(weekdays)) != len(weekdays) or any(not 0 <= d <= 6 for d in weekdays):
            errors.add("weekdays", _("Choose distinct weekdays."), BookingErrorCode.INVALID_PATTERN)
    _dates_check(errors, anchor_date, end_date, "anchor_date")
    _hours_check(errors, day_start, day_end, breaks)
    errors.raise_any()


def schedule_exception_validate(
    *,
    kind: str,
    start_date: dt.date,
    end_date: dt.date,
    day_start: dt.time | None = None,
    day_end: dt.time | None = None,
    breaks: Sequence[TimeRange] = (),
) -> None:
    """Raise ValidationFailed unless the exception is well formed: a day off is one day, an extra day has hours."""
    errors = _Errors()
    if kind not in ExceptionKind.values:
        errors.add("kind", _("Unknown exception kind."), BookingErrorCode.INVALID_PATTERN)
    _dates_check(errors, start_date, end_date, "start_date")
    if kind in (ExceptionKind.DAY_OFF, ExceptionKind.EXTRA_DAY) and start_date != end_date:
        errors.add("end_date", _("This exception covers one day."), BookingErrorCode.INVALID_DATES)
    if kind == ExceptionKind.EXTRA_DAY:
        if day_start is None or day_end is None:
            errors.add("day_start", _("Enter the hours of the extra day."), BookingErrorCode.INVALID_HOURS)
        else:
            _hours_check(errors, day_start, day_end, breaks)
    elif day_start is not None or day_end is not None or breaks:
        errors.add("day_start", _("Only an extra working day has hours."), BookingErrorCode.INVALID_HOURS)
    errors.raise_any()


def _references_check(*, organization_id: int, branch_id: int, staff_id: int) -> None:
    errors = _Errors()
    if not Branch.objects.filter(id=branch_id, organization_id=organization_id).exists():
        errors.add("branch_id", _("Unknown branch."), BookingErrorCode.INVALID_REFERENCE)
    if not Membership.objects.filter(
        user_id=staff_id, organization_id=organization_id, role=Role.MASTER, is_active=True, user__is_active=True
    ).exists():
        errors.add("staff_id", _("Not a master of this organization."), BookingErrorCode.INVALID_REFERENCE)
    errors.raise_any()


def _breaks_json(breaks: Sequence[TimeRange]) -> list[list[str]]:
    return [[start.isoformat("minutes"), end.isoformat("minutes")] for start, end in sorted(breaks)]


@transaction.atomic
def work_pattern_create(
    *,
    user: Any,
    organization_id: int,
    branch_id: int,
    staff_id: int,
    kind: str,
    anchor_date: dt.date,
    end_date: dt.date,
    day_start: dt.time,
    day_end: dt.time,
    breaks: Sequence[TimeRange] = (),
    cycle_on: int | None = None,
    cycle_off: int | None = None,
    weekdays: Sequence[int] = (),
) -> WorkPattern:
    """Create a master's work pattern at a branch (schedule-change right); one event."""
    organization_access_check(user, organization_id, Perm.SCHEDULE_CHANGE)
    schedule_pattern_validate(
        kind=kind,
        anchor_date=anchor_date,
        end_date=end_date,
        day_start=day_start,
        day_end=day_end,
        breaks=breaks,
        cycle_on=cycle_on,
        cycle_off=cycle_off,
        weekdays=weekdays,
    )
    _references_check(organization_id=organization_id, branch_id=branch_id, staff_id=staff_id)
    is_cycle = kind == PatternKind.CYCLE
    pattern = WorkPattern.objects.create(
        organization_id=organization_id,
        branch_id=branch_id,
        staff_id=staff_id,
        kind=kind,
        anchor_date=anchor_date,
        end_date=end_date,
        day_start=day_start,
        day_end=day_end,
        breaks=_breaks_json(breaks),
        cycle_on=cycle_on if is_cycle else None,
        cycle_off=cycle_off if is_cycle else None,
        weekdays=[] if is_cycle else sorted(weekdays),
    )
    event_record(entity=pattern, action=EventAction.CREATE, actor=user, after=snapshot(pattern))
    return pattern


@transaction.atomic
def work_pattern_delete(*, user: Any, pattern_id: int) -> None:
    """Delete a work pattern (schedule-change right; another tenant's is a 404); one event with what it was."""
    pattern = tenant_row_for_change(WorkPattern, pattern_id, user=user, perm=Perm.SCHEDULE_CHANGE)
    before = snapshot(pattern)
    event_record(entity=pattern, action=EventAction.DELETE, actor=user, before=before)
    pattern.delete()


@transaction.atomic
def schedule_exception_create(
    *,
    user: Any,
    organization_id: int,
    branch_id: int,
    staff_id: int,
    kind: str,
    start_date: dt.date,
    end_date: dt.date | None = None,
    day_start: dt.time | None = None,
    day_end: dt.time | None = None,
    breaks: Sequence[TimeRange] = (),
) -> ScheduleException:
    """Record a day off, a vacation or an extra working day for a master (schedule-change right); one event."""
    organization_access_check(user, organization_id, Perm.SCHEDULE_CHANGE)
    last = end_date if end_date is not None else start_date
    schedule_exception_validate(
        kind=kind, start_date=start_date, end_date=last, day_start=day_start, day_end=day_end, breaks=breaks
    )
    _references_check(organization_id=organization_id, branch_id=branch_id, staff_id=staff_id)
    exception = ScheduleException.objects.create(
        organization_id=organization_id,
        branch_id=branch_id,
        staff_id=staff_id,
        kind=kind,
        start_date=start_date,
        end_date=last,
        day_start=day_start,
        day_end=day_end,
        breaks=_breaks_json(breaks),
    )
    event_record(entity=exception, action=EventAction.CREATE, actor=user, after=snapshot(exception))
    return exception


@transaction.atomic
def schedule_exception_delete(*, user: Any, exception_id: int) -> None:
    """Delete a schedule exception (schedule-change right; another tenant's is a 404); one event."""
    exception = tenant_row_for_change(ScheduleException, exception_id, user=user, perm=Perm.SCHEDULE_CHANGE)
    event_record(entity=exception, action=EventAction.DELETE, actor=user, before=snapshot(exception))
    exception.delete()
