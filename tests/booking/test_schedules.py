"""Staff schedules: patterns, breaks, exceptions, DST days, validation, tenancy and events."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.booking.exceptions import BookingErrorCode
from backend.booking.models import ExceptionKind, PatternKind, ScheduleException, WorkPattern
from backend.booking.selectors import working_intervals
from backend.booking.services.schedules import (
    schedule_exception_create,
    work_pattern_create,
    work_pattern_delete,
)
from backend.core.exceptions import NotFound, PermissionDenied, ValidationFailed
from backend.core.models import Event, EventAction
from backend.organizations.models import Branch, Organization, Role
from tests.conftest import member
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db

T = dt.time
D = dt.date
UTC = dt.UTC


def _branch(org: Organization, zone: str = "Europe/Vilnius") -> Branch:
    return BranchFactory(organization=org, time_zone=zone)


def _pattern(user: Any, branch: Branch, staff: Any, **kwargs: Any) -> WorkPattern:
    args: dict[str, Any] = {
        "kind": PatternKind.CYCLE,
        "anchor_date": D(2027, 2, 1),
        "end_date": D(2027, 12, 31),
        "day_start": T(9),
        "day_end": T(18),
        "cycle_on": 2,
        "cycle_off": 2,
    }
    args.update(kwargs)
    return work_pattern_create(
        user=user, organization_id=branch.organization_id, branch_id=branch.pk, staff_id=staff.pk, **args
    )


def _hours(intervals: list[tuple[dt.datetime, dt.datetime]]) -> float:
    return sum((end - start).total_seconds() for start, end in intervals) / 3600


def _read(user: Any, branch: Branch, staff: Any, first: dt.date, last: dt.date | None = None) -> list[Any]:
    return working_intervals(user=user, branch_id=branch.pk, staff_id=staff.pk, first_day=first, last_day=last or first)


@pytest.fixture
def master(org: Organization) -> Any:
    return member(org, Role.MASTER)


def test_two_on_two_off_over_a_month(manager, org, master) -> None:
    branch = _branch(org)
    _pattern(manager, branch, master, anchor_date=D(2027, 2, 1))
    intervals = _read(manager, branch, master, D(2027, 2, 1), D(2027, 2, 28))
    local_days = [start.astimezone(ZoneInfo(branch.effective_time_zone)).date() for start, _ in intervals]
    expected = [D(2027, 2, d) for d in range(1, 29) if (d - 1) % 4 < 2]
    assert local_days == expected
    assert len(expected) == 14
    # Vilnius is UTC+2 in February: 09:00 local is 07:00 UTC.
    assert intervals[0] == (dt.datetime(2027, 2, 1, 7, tzinfo=UTC), dt.datetime(2027, 2, 1, 16, tzinfo=UTC))
    assert all(start.tzinfo is not None and start.utcoffset() == dt.timedelta(0) for start, _ in intervals)


def test_a_cycle_stops_at_its_end_date(manager, org, master) -> None:
    branch = _branch(org)
    _pattern(manager, branch, master, anchor_date=D(2027, 2, 1), end_date=D(2027, 2, 5))
    days = [s.date() for s, _ in _read(manager, branch, master, D(2027, 1, 25), D(2027, 2, 28))]
    assert days == [D(2027, 2, 1), D(2027, 2, 2), D(2027, 2, 5)]


def test_weekly_pattern_works_on_its_weekdays(manager, org, master) -> None:
    branch = _branch(org, "Asia/Almaty")
    _pattern(manager, branch, master, kind=PatternKind.WEEKLY, weekdays=[0, 2, 4], cycle_on=None, cycle_off=None)
    intervals = _read(manager, branch, master, D(2027, 3, 1), D(2027, 3, 7))  # Monday..Sunday
    assert [s.date() for s, _ in intervals] == [D(2027, 3, 1), D(2027, 3, 3), D(2027, 3, 5)]
    stored = WorkPattern.objects.get()
    assert (stored.cycle_on, stored.cycle_off, stored.weekdays) == (None, None, [0, 2, 4])


def test_breaks_are_cut_out(manager, org, master) -> None:
    branch = _branch(org, "Europe/Moscow")
    _pattern(manager, branch, master, breaks=[(T(15), T(15, 30)), (T(13), T(14))])
    intervals = _read(manager, branch, master, D(2027, 2, 1))
    # Moscow is UTC+3 all year.
    assert intervals == [
        (dt.datetime(2027, 2, 1, 6, tzinfo=UTC), dt.datetime(2027, 2, 1, 10, tzinfo=UTC)),
        (dt.datetime(2027, 2, 1, 11, tzinfo=UTC), dt.datetime(2027, 2, 1, 12, tzinfo=UTC)),
        (dt.datetime(2027, 2, 1, 12, 30, tzinfo=UTC), dt.datetime(2027, 2, 1, 15, tzinfo=UTC)),
    ]
    assert WorkPattern.objects.get().breaks == [["13:00", "14:00"], ["15:00", "15:30"]]


def test_a_day_off_removes_a_working_day(manager, org, master) -> None:
    branch = _branch(org)
    _pattern(manager, branch, master)
    schedule_exception_create(
        user=manager,
        organization_id=org.id,
        branch_id=branch.pk,
        staff_id=master.pk,
        kind=ExceptionKind.DAY_OFF,
        start_date=D(2027, 2, 2),
    )
    assert [s.date() for s, _ in _read(manager, branch, master, D(2027, 2, 1), D(2027, 2, 4))] == [D(2027, 2, 1)]


def test_a_vacation_removes_every_day_of_its_range(manager, org, master) -> None:
    branch = _branch(org)
    _pattern(manager, branch, master)
    schedule_exception_create(
        user=manager,
        organization_id=org.id,
        branch_id=branch.pk,
        staff_id=master.pk,
        kind=ExceptionKind.VACATION,
        start_date=D(2027, 2, 4),
        end_date=D(2027, 2, 14),
    )
    days = [s.date() for s, _ in _read(manager, branch, master, D(2027, 2, 1), D(2027, 2, 20))]
    assert days == [D(2027, 2, 1), D(2027, 2, 2), D(2027, 2, 17), D(2027, 2, 18)]


def test_an_extra_day_works_with_its_own_hours(manager, org, master) -> None:
    branch = _branch(org)
    _pattern(manager, branch, master)
    for day in (D(2027, 2, 3), D(2027, 2, 1)):  # a rest day, and a working day whose hours it replaces
        schedule_exception_create(
            user=manager,
            organization_id=org.id,
            branch_id=branch.pk,
            staff_id=master.pk,
            kind=ExceptionKind.EXTRA_DAY,
            start_date=day,
            day_start=T(10),
            day_end=T(14),
            breaks=[(T(12), T(12, 30))],
        )
    intervals = _read(manager, branch, master, D(2027, 2, 1), D(2027, 2, 3))
    assert intervals == [
        (dt.datetime(2027, 2, 1, 8, tzinfo=UTC), dt.datetime(2027, 2, 1, 10, tzinfo=UTC)),
        (dt.datetime(2027, 2, 1, 10, 30, tzinfo=UTC), dt.datetime(2027, 2, 1, 12, tzinfo=UTC)),
        (dt.datetime(2027, 2, 2, 7, tzinfo=UTC), dt.datetime(2027, 2, 2, 16, tzinfo=UTC)),
        (dt.datetime(2027, 2, 3, 8, tzinfo=UTC), dt.datetime(2027, 2, 3, 10, tzinfo=UTC)),
        (dt.datetime(2027, 2, 3, 10, 30, tzinfo=UTC), dt.datetime(2027, 2, 3, 12, tzinfo=UTC)),
    ]


@pytest.mark.parametrize(
    ("day", "start", "end", "hours"),
    [
        (D(2027, 3, 27), T(0), T(12), 12),
        (D(2027, 3, 28), T(0), T(12), 11),  # 03:00 -> 04:00: the morning loses an hour
        (D(2027, 3, 28), T(2), T(5), 2),
        (D(2027, 3, 28), T(9), T(21), 12),  # entirely after the switch: a full 12 h
        (D(2027, 10, 31), T(0), T(12), 13),  # 04:00 -> 03:00: the morning gains an hour
        (D(2027, 10, 31), T(9), T(21), 12),
    ],
)
def test_dst_switch_days_in_vilnius(manager, org, master, day, start, end, hours) -> None:
    branch = _branch(org, "Europe/Vilnius")
    _pattern(manager, branch, master, anchor_date=day, end_date=day, day_start=start, day_end=end)
    assert _hours(_read(manager, branch, master, day)) == hours


def test_vilnius_switch_day_boundaries_in_utc(manager, org, master) -> None:
    branch = _branch(org, "Europe/Vilnius")
    _pattern(
        manager, branch, master, anchor_date=D(2027, 3, 28), end_date=D(2027, 3, 28), day_start=T(0), day_end=T(12)
    )
    assert _read(manager, branch, master, D(2027, 3, 28)) == [
        (dt.datetime(2027, 3, 27, 22, tzinfo=UTC), dt.datetime(2027, 3, 28, 9, tzinfo=UTC))
    ]


@pytest.mark.parametrize("zone", ["Asia/Almaty", "Europe/Moscow"])
@pytest.mark.parametrize("day", [D(2027, 3, 28), D(2027, 10, 31)])
def test_zones_without_dst_keep_every_day_whole(manager, org, master, zone, day) -> None:
    branch = _branch(org, zone)
    _pattern(manager, branch, master, anchor_date=day, end_date=day, day_start=T(0), day_end=T(23, 59))
    assert _hours(_read(manager, branch, master, day)) == pytest.approx(23 + 59 / 60)
    _pattern(manager, branch, master, anchor_date=day, end_date=day, day_start=T(0), day_end=T(12))
    assert _hours(_read(manager, branch, master, day)) == pytest.approx(23 + 59 / 60)  # merged, still one day
    WorkPattern.objects.all().delete()
    _pattern(manager, branch, master, anchor_date=day, end_date=day, day_start=T(0), day_end=T(12))
    assert _hours(_read(manager, branch, master, day)) == 12


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"cycle_on": 0}, "cycle_on", BookingErrorCode.INVALID_PATTERN),
        ({"cycle_off": 0}, "cycle_off", BookingErrorCode.INVALID_PATTERN),
        ({"cycle_off": None}, "cycle_off", BookingErrorCode.INVALID_PATTERN),
        ({"kind": PatternKind.WEEKLY, "weekdays": []}, "weekdays", BookingErrorCode.INVALID_PATTERN),
        ({"kind": PatternKind.WEEKLY, "weekdays": [7]}, "weekdays", BookingErrorCode.INVALID_PATTERN),
        ({"kind": PatternKind.WEEKLY, "weekdays": [1, 1]}, "weekdays", BookingErrorCode.INVALID_PATTERN),
        ({"kind": "fortnightly"}, "kind", BookingErrorCode.INVALID_PATTERN),
        ({"day_start": T(18), "day_end": T(9)}, "day_end", BookingErrorCode.INVALID_HOURS),
        ({"day_end": T(9)}, "day_end", BookingErrorCode.INVALID_HOURS),
        ({"breaks": [(T(8), T(10))]}, "breaks", BookingErrorCode.INVALID_BREAKS),
        ({"breaks": [(T(17), T(19))]}, "breaks", BookingErrorCode.INVALID_BREAKS),
        ({"breaks": [(T(13), T(12))]}, "breaks", BookingErrorCode.INVALID_BREAKS),
        ({"breaks": [(T(12), T(13)), (T(12, 30), T(14))]}, "breaks", BookingErrorCode.INVALID_BREAKS),
        ({"end_date": D(2027, 1, 31)}, "end_date", BookingErrorCode.INVALID_DATES),
        ({"end_date": D(2028, 2, 3)}, "end_date", BookingErrorCode.HORIZON_TOO_LONG),
        ({"anchor_date": D(1, 1, 1)}, "anchor_date", BookingErrorCode.INVALID_DATES),
        ({"end_date": D(9999, 12, 31)}, "end_date", BookingErrorCode.INVALID_DATES),
    ],
)
def test_bad_patterns_are_refused_and_change_nothing(manager, org, master, kwargs, field, code) -> None:
    branch = _branch(org)
    events = Event.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        _pattern(manager, branch, master, **kwargs)
    assert caught.value.code == code
    assert field in caught.value.fields
    assert WorkPattern.objects.count() == 0
    assert Event.objects.count() == events


def test_the_longest_horizon_is_accepted(manager, org, master) -> None:
    branch = _branch(org)
    _pattern(manager, branch, master, anchor_date=D(2027, 1, 1), end_date=D(2028, 1, 2))  # 366 days later
    assert WorkPattern.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": ExceptionKind.EXTRA_DAY}, "day_start"),
        ({"kind": ExceptionKind.EXTRA_DAY, "day_start": T(10), "day_end": T(9)}, "day_end"),
        ({"kind": ExceptionKind.DAY_OFF, "end_date": D(2027, 2, 3)}, "end_date"),
        ({"kind": ExceptionKind.DAY_OFF, "day_start": T(9), "day_end": T(10)}, "day_start"),
        ({"kind": ExceptionKind.VACATION, "end_date": D(2027, 1, 1)}, "end_date"),
    ],
)
def test_bad_exceptions_are_refused_and_change_nothing(manager, org, master, kwargs, field) -> None:
    branch = _branch(org)
    events = Event.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        schedule_exception_create(
            user=manager,
            organization_id=org.id,
            branch_id=branch.pk,
            staff_id=master.pk,
            start_date=D(2027, 2, 2),
            **kwargs,
        )
    assert field in caught.value.fields
    assert ScheduleException.objects.count() == 0
    assert Event.objects.count() == events


def test_the_staff_must_be_a_master_of_the_organization_and_the_branch_its_own(manager, org, other_org, master) -> None:
    theirs = _branch(other_org)
    with pytest.raises(ValidationFailed) as caught:
        work_pattern_create(
            user=manager,
            organization_id=org.id,
            branch_id=theirs.pk,
            staff_id=manager.pk,  # a manager, not a master
            kind=PatternKind.CYCLE,
            anchor_date=D(2027, 2, 1),
            end_date=D(2027, 2, 10),
            day_start=T(9),
            day_end=T(18),
            cycle_on=1,
            cycle_off=1,
        )
    assert caught.value.code == BookingErrorCode.INVALID_REFERENCE
    assert set(caught.value.fields) == {"branch_id", "staff_id"}
    assert WorkPattern.objects.count() == 0


def test_events_are_written_for_each_write(manager, org, master) -> None:
    branch = _branch(org)
    pattern = _pattern(manager, branch, master)
    created = Event.objects.get(entity_type="booking.workpattern", entity_id=str(pattern.pk), action=EventAction.CREATE)
    assert created.organization_id == org.id
    assert created.actor_id == manager.pk
    assert created.after["cycle_on"] == 2
    exception = schedule_exception_create(
        user=manager,
        organization_id=org.id,
        branch_id=branch.pk,
        staff_id=master.pk,
        kind=ExceptionKind.DAY_OFF,
        start_date=D(2027, 2, 2),
    )
    assert (
        Event.objects.filter(
            entity_type="booking.scheduleexception", entity_id=str(exception.pk), action=EventAction.CREATE
        ).count()
        == 1
    )
    work_pattern_delete(user=manager, pattern_id=pattern.pk)
    deleted = Event.objects.get(entity_type="booking.workpattern", entity_id=str(pattern.pk), action=EventAction.DELETE)
    assert deleted.before["kind"] == PatternKind.CYCLE
    assert not WorkPattern.objects.exists()


def test_another_tenants_pattern_is_not_found_and_stays(manager, org, other_org, other_manager) -> None:
    their_master = member(other_org, Role.MASTER)
    theirs = _pattern(other_manager, _branch(other_org), their_master)
    events = Event.objects.count()
    with pytest.raises(NotFound):
        work_pattern_delete(user=manager, pattern_id=theirs.pk)
    assert WorkPattern.objects.filter(pk=theirs.pk).exists()
    assert Event.objects.count() == events


def test_writing_into_another_tenant_is_not_found(manager, other_org) -> None:
    their_master = member(other_org, Role.MASTER)
    with pytest.raises(NotFound):
        _pattern(manager, _branch(other_org), their_master)
    assert WorkPattern.objects.count() == 0


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.MASTER, Role.ANALYST])
def test_roles_without_the_change_right_are_forbidden(manager, org, master, role) -> None:
    branch = _branch(org)
    pattern = _pattern(manager, branch, master)
    user = master if role == Role.MASTER else member(org, role)
    events = Event.objects.count()
    with pytest.raises(PermissionDenied):
        _pattern(user, branch, master)
    with pytest.raises(PermissionDenied):
        work_pattern_delete(user=user, pattern_id=pattern.pk)
    assert list(WorkPattern.objects.values_list("pk", flat=True)) == [pattern.pk]
    assert Event.objects.count() == events


def test_reading_another_tenants_schedule_is_not_found(manager, other_org, other_manager) -> None:
    their_master = member(other_org, Role.MASTER)
    branch = _branch(other_org)
    _pattern(other_manager, branch, their_master)
    with pytest.raises(NotFound):
        _read(manager, branch, their_master, D(2027, 2, 1))


def test_who_may_read_a_schedule(manager, org, master) -> None:
    branch = _branch(org)
    _pattern(manager, branch, master)
    colleague = member(org, Role.MASTER)
    dispatcher = member(org, Role.DISPATCHER)
    assert _read(master, branch, master, D(2027, 2, 1))  # their own
    assert _read(dispatcher, branch, master, D(2027, 2, 1))
    with pytest.raises(PermissionDenied):
        _read(colleague, branch, master, D(2027, 2, 1))
    with pytest.raises(PermissionDenied):
        _read(member(org, Role.WORKER), branch, master, D(2027, 2, 1))


@pytest.mark.parametrize(
    ("first", "last"),
    [(D(2027, 2, 2), D(2027, 2, 1)), (D(2027, 1, 1), D(2028, 6, 1)), (D(1, 1, 1), D(1, 1, 2))],
)
def test_bad_read_ranges_are_refused(manager, org, master, first, last) -> None:
    branch = _branch(org)
    with pytest.raises(ValidationFailed) as caught:
        _read(manager, branch, master, first, last)
    assert caught.value.code == BookingErrorCode.INVALID_DATES
