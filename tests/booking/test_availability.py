"""Availability: schedules and breaks, bookings and their buffers, resources, group sessions, the grid, lead time and
horizon, the fair choice of "any master" with its reasons, visits of several services, and DST days."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.booking.models import AppointmentStatus, Occupancy
from backend.booking.selectors import next_free_slots, slot_search, visit_plan
from backend.booking.services.availability import Slot
from backend.catalog.models import ResourceKind, StaffService
from backend.core.exceptions import NotFound, ValidationFailed
from tests.booking.booking_world import (
    book,
    branch_of,
    master_at,
    public_org,
    resource_at,
    service_at,
    session,
)
from tests.conftest import member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

D, T = dt.date, dt.time
VILNIUS = ZoneInfo("Europe/Vilnius")
EARLY = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)  # "now" for searches that should not be cut by the lead time


def at(day: dt.date, hour: int, minute: int = 0, zone: ZoneInfo = VILNIUS) -> dt.datetime:
    return dt.datetime.combine(day, T(hour, minute), tzinfo=zone)


def local_starts(slots: list[Slot], zone: ZoneInfo = VILNIUS) -> list[str]:
    return [s.start.astimezone(zone).strftime("%H:%M") for s in slots]


def search(user: Any, branch: Any, services: list[Any], day: dt.date, **kwargs: Any) -> list[Slot]:
    kwargs.setdefault("now", EARLY)
    return slot_search(
        user=user, branch_id=branch.pk, service_ids=[s.pk for s in services], first_day=day, **kwargs
    ).slots


@pytest.fixture
def customer() -> Any:
    return UserFactory()


def test_a_day_follows_the_schedule_the_break_and_the_grid(customer: Any) -> None:
    # given a master working 09:00-18:00 with a lunch break, a 60-minute service and a 30-minute grid
    branch = branch_of(public_org(booking_slot_step_minutes=30))
    cut = service_at(branch, 60)
    master_at(branch, [cut], breaks=[("13:00", "14:00")])
    # when a customer searches a day
    slots = search(customer, branch, [cut], D(2027, 2, 1))
    # then every start is on the grid, the visit never crosses the break nor the end of the day
    assert local_starts(slots) == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00",
        "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00",
    ]  # fmt: skip
    assert all(s.end - s.start == dt.timedelta(hours=1) for s in slots)
    # Vilnius is UTC+2 in February
    assert slots[0].start == dt.datetime(2027, 2, 1, 7, tzinfo=dt.UTC)


def test_bookings_and_both_buffers_hold_the_master_and_a_cancelled_visit_frees_its_time(customer: Any) -> None:
    branch = branch_of(public_org())
    cut = service_at(branch, 60, buffer_after_minutes=15)
    master = master_at(branch, [cut])
    book(branch, master, cut, at(D(2027, 2, 1), 10))  # holds 10:00-11:15
    book(branch, master, cut, at(D(2027, 2, 1), 14), status=AppointmentStatus.CANCELLED)
    starts = local_starts(search(customer, branch, [cut], D(2027, 2, 1)))
    # 08:45 would need 08:45-10:00 of work; 09:00 would hold 09:00-10:15 (its own buffer overlaps the booking)
    assert "09:00" not in starts and "10:00" not in starts and "11:00" not in starts
    assert starts[0] == "11:15"
    assert "14:00" in starts  # the cancelled visit holds nothing
    assert starts[-1] == "16:45"  # 16:45-17:45 plus its 15-minute buffer ends at 18:00


def test_a_service_that_needs_a_bay_needs_a_free_one(customer: Any) -> None:
    branch = branch_of(public_org(), "Asia/Almaty")
    almaty = ZoneInfo("Asia/Almaty")
    wash = service_at(branch, 60, resource_kind=ResourceKind.BAY)
    first, second = master_at(branch, [wash]), master_at(branch, [wash])
    bay = resource_at(branch, ResourceKind.BAY, "Bay 1")
    book(branch, first, wash, at(D(2027, 2, 1), 10, zone=almaty), resource=bay)
    # one bay: the second master is free at 10:00 but there is nothing to wash the car in
    slots = search(customer, branch, [wash], D(2027, 2, 1))
    assert "10:00" not in local_starts(slots, almaty)
    assert all(s.lines[0].resource_ids == (bay.pk,) for s in slots)
    # a second bay: the second master takes 10:00 in it
    bay2 = resource_at(branch, ResourceKind.BAY, "Bay 2")
    ten = [s for s in search(customer, branch, [wash], D(2027, 2, 1)) if s.start == at(D(2027, 2, 1), 10, zone=almaty)]
    assert [(s.staff_id, s.lines[0].resource_ids) for s in ten] == [(second.pk, (bay2.pk,))]


def test_a_bay_of_another_kind_or_an_inactive_one_does_not_count(customer: Any) -> None:
    branch = branch_of(public_org())
    wash = service_at(branch, 60, resource_kind=ResourceKind.BAY)
    master_at(branch, [wash])
    resource_at(branch, ResourceKind.CABINET, "Cabinet 1")
    retired = resource_at(branch, ResourceKind.BAY, "Old bay")
    retired.is_active = False
    retired.save(update_fields=["is_active"])
    assert search(customer, branch, [wash], D(2027, 2, 1)) == []


def test_any_master_is_the_least_booked_that_day_and_the_reason_is_given(customer: Any) -> None:
    branch = branch_of(public_org())
    cut = service_at(branch, 60)
    busy, lighter = master_at(branch, [cut]), master_at(branch, [cut])
    day = D(2027, 2, 1)
    book(branch, busy, cut, at(day, 9))
    book(branch, busy, cut, at(day, 10))
    book(branch, lighter, cut, at(day, 9))
    slot = next(s for s in search(customer, branch, [cut], day) if s.start == at(day, 15))
    assert slot.staff_id == lighter.pk
    assert (slot.why[0].booked_minutes, slot.why[0].candidates) == (60, 2)
    assert slot.why[0].waited_since == at(day, 10)


def test_on_equal_minutes_the_master_who_waited_longest_gets_the_client(customer: Any) -> None:
    branch = branch_of(public_org())
    cut = service_at(branch, 60)
    early, late = master_at(branch, [cut]), master_at(branch, [cut])
    day = D(2027, 2, 1)
    book(branch, early, cut, at(day, 10))  # free since 11:00
    book(branch, late, cut, at(day, 12))  # free since 13:00
    slot = next(s for s in search(customer, branch, [cut], day) if s.start == at(day, 15))
    assert slot.staff_id == early.pk
    assert (slot.why[0].booked_minutes, slot.why[0].waited_since) == (60, at(day, 11))
    # nobody booked yet: who started the day first has waited longest
    quiet = D(2027, 2, 2)
    late.work_patterns.update(day_start=T(8))
    slot = next(s for s in search(customer, branch, [cut], quiet) if s.start == at(quiet, 11))
    assert slot.staff_id == late.pk
    assert (slot.why[0].booked_minutes, slot.why[0].waited_since) == (0, at(quiet, 8))


def test_a_named_master_gets_only_their_slots_and_no_reason(customer: Any) -> None:
    branch = branch_of(public_org())
    cut = service_at(branch, 60)
    first, second = master_at(branch, [cut]), master_at(branch, [cut])
    book(branch, second, cut, at(D(2027, 2, 1), 9))
    slots = search(customer, branch, [cut], D(2027, 2, 1), staff_id=second.pk)
    assert {s.staff_id for s in slots} == {second.pk}
    assert local_starts(slots)[0] == "10:00" and all(s.why == () for s in slots)
    assert first.pk != second.pk


def test_a_master_who_does_not_perform_the_service_is_not_found(customer: Any) -> None:
    branch = branch_of(public_org())
    cut, colour = service_at(branch, 60), service_at(branch, 90, name="Colour")
    master = master_at(branch, [cut])
    with pytest.raises(NotFound):
        search(customer, branch, [colour], D(2027, 2, 1), staff_id=master.pk)


def test_several_services_follow_each_other_with_their_buffers(customer: Any) -> None:
    branch = branch_of(public_org())
    wash = service_at(branch, 30, name="Wash", buffer_after_minutes=10)
    cut = service_at(branch, 45, name="Cut", buffer_before_minutes=5)
    washer, cutter = master_at(branch, [wash]), master_at(branch, [cut])
    day = D(2027, 2, 1)
    slots = search(customer, branch, [wash, cut], day)
    first = slots[0]
    assert [(line.service_id, line.staff_id) for line in first.lines] == [(wash.pk, washer.pk), (cut.pk, cutter.pk)]
    # the cut starts after the wash's after-buffer and its own before-buffer: 09:30 + 10 + 5 minutes
    assert [(line.start, line.end) for line in first.lines] == [
        (at(day, 9), at(day, 9, 30)),
        (at(day, 9, 45), at(day, 10, 30)),
    ]
    assert (first.start, first.end) == (at(day, 9), at(day, 10, 30))
    # the cutter's 09:45 taken: the 09:00 visit no longer fits, the 09:15 one does not either (10:00 cut)
    book(branch, cutter, cut, at(day, 9, 45))
    assert local_starts(search(customer, branch, [wash, cut], day))[0] == "10:00"


def test_a_group_session_takes_clients_until_it_is_full(customer: Any) -> None:
    branch = branch_of(public_org())
    yoga = service_at(branch, 60, name="Yoga", is_group=True, capacity=3)
    coach = master_at(branch, [yoga])
    day = D(2027, 2, 1)
    session(branch, coach, yoga, at(day, 10), taken=2)
    session(branch, coach, yoga, at(day, 12), taken=3)
    slots = {s.start: s for s in search(customer, branch, [yoga], day)}
    assert slots[at(day, 10)].lines[0].seats_left == 1
    assert at(day, 12) not in slots  # full
    assert at(day, 11, 30) not in slots  # a new session would overlap the coach's full one
    assert slots[at(day, 14)].lines[0].seats_left == 3  # a new session


def test_a_group_service_is_booked_on_its_own(customer: Any) -> None:
    branch = branch_of(public_org())
    yoga = service_at(branch, 60, name="Yoga", is_group=True, capacity=3)
    cut = service_at(branch, 60)
    master_at(branch, [yoga, cut])
    with pytest.raises(ValidationFailed):
        search(customer, branch, [cut, yoga], D(2027, 2, 1))


def test_a_master_busy_at_another_branch_is_busy_here(customer: Any) -> None:
    org = public_org()
    here, there = branch_of(org), branch_of(org)
    cut = service_at(here, 60)
    master = master_at(here, [cut])
    other_cut = service_at(there, 60, name="There")
    StaffService.objects.create(organization=org, staff=master, service=other_cut)
    book(there, master, other_cut, at(D(2027, 2, 1), 10))
    assert "10:00" not in local_starts(search(customer, here, [cut], D(2027, 2, 1)))


def test_customers_book_after_the_lead_time_and_within_the_horizon_staff_from_now(customer: Any) -> None:
    org = public_org(booking_lead_time_minutes=120, booking_horizon_days=1)
    branch = branch_of(org)
    cut = service_at(branch, 60)
    master_at(branch, [cut])
    manager = member(org)
    now = at(D(2027, 2, 1), 10, 5)
    assert local_starts(search(customer, branch, [cut], D(2027, 2, 1), now=now))[0] == "12:15"
    assert local_starts(search(manager, branch, [cut], D(2027, 2, 1), now=now))[0] == "10:15"
    # the horizon: the next day up to 10:05, nothing the day after (for the customer)
    assert local_starts(search(customer, branch, [cut], D(2027, 2, 2), now=now))[-1] == "10:00"
    assert search(customer, branch, [cut], D(2027, 2, 3), now=now) == []
    assert search(manager, branch, [cut], D(2027, 2, 3), now=now) != []


def test_a_branch_step_overrides_the_organization_step(customer: Any) -> None:
    branch = branch_of(public_org(booking_slot_step_minutes=15), booking_slot_step_minutes=60)
    cut = service_at(branch, 30)
    master_at(branch, [cut], hours=(T(9), T(12)))
    assert local_starts(search(customer, branch, [cut], D(2027, 2, 1))) == ["09:00", "10:00", "11:00"]


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        # Vilnius springs forward at 03:00 -> 04:00: the hour 03:00 never shows on the clock
        ("Europe/Vilnius", D(2027, 3, 28), ["00:00+02", "01:00+02", "02:00+02", "04:00+03", "05:00+03"]),
        # and falls back at 04:00 -> 03:00: the hour 03:00 comes twice, once in each offset
        (
            "Europe/Vilnius",
            D(2027, 10, 31),
            ["00:00+03", "01:00+03", "02:00+03", "03:00+03", "03:00+02", "04:00+02", "05:00+02"],
        ),
        # no DST at all
        ("Asia/Almaty", D(2027, 3, 28), ["00:00+05", "01:00+05", "02:00+05", "03:00+05", "04:00+05", "05:00+05"]),
        ("Europe/Moscow", D(2027, 10, 31), ["00:00+03", "01:00+03", "02:00+03", "03:00+03", "04:00+03", "05:00+03"]),
    ],
)
def test_night_hours_on_dst_days_give_the_slots_the_clock_has(
    customer: Any, zone: str, day: dt.date, expected: list[str]
) -> None:
    branch = branch_of(public_org(booking_slot_step_minutes=60), zone)
    service = service_at(branch, 60)
    master_at(branch, [service], hours=(T(0), T(6)))
    slots = search(customer, branch, [service], day)
    assert [s.start.astimezone(ZoneInfo(zone)).strftime("%H:%M%z")[:-2] for s in slots] == expected
    # one real hour apart, every one of them
    assert all(b.start - a.start == dt.timedelta(hours=1) for a, b in itertools.pairwise(slots))


def test_a_visit_across_the_spring_gap_lasts_its_real_duration(customer: Any) -> None:
    branch = branch_of(public_org(booking_slot_step_minutes=60))
    service = service_at(branch, 120)
    master_at(branch, [service], hours=(T(0), T(6)))
    slots = search(customer, branch, [service], D(2027, 3, 28))
    two = next(s for s in slots if s.start.astimezone(VILNIUS).hour == 2)
    assert two.end.astimezone(VILNIUS).strftime("%H:%M") == "05:00"  # 02:00 + 2 real hours, the clock skipped 03
    assert two.end - two.start == dt.timedelta(hours=2)


def test_customers_see_only_what_accepts_online_booking(customer: Any) -> None:
    branch = branch_of(public_org())
    offline = service_at(branch, 60, name="By phone only", online_booking=False)
    offline_here = service_at(branch, 60, name="Not online here", offer_online=False)
    cut = service_at(branch, 60)
    online_master = master_at(branch, [cut, offline, offline_here])
    shy = master_at(branch, [cut])
    StaffService.objects.filter(staff=shy).update(online_booking=False)
    manager = member(branch.organization)
    for service in (offline, offline_here):
        with pytest.raises(NotFound):
            search(customer, branch, [service], D(2027, 2, 1))
        assert search(manager, branch, [service], D(2027, 2, 1)) != []
    assert {s.staff_id for s in search(customer, branch, [cut], D(2027, 2, 1))} == {online_master.pk}
    with pytest.raises(NotFound):
        search(customer, branch, [cut], D(2027, 2, 1), staff_id=shy.pk)
    # an organization that does not accept online booking is not there for customers at all
    branch.organization.online_booking = False
    branch.organization.save(update_fields=["online_booking"])
    with pytest.raises(NotFound):
        search(customer, branch, [cut], D(2027, 2, 1))
    assert search(manager, branch, [cut], D(2027, 2, 1)) != []


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        (D(2026, 12, 31), None, "date"),  # yesterday, in the branch's zone
        (D(2027, 2, 1), D(2027, 1, 31), "date_to"),
        (D(2027, 2, 1), D(2027, 3, 4), "date_to"),  # 32 days
    ],
)
def test_bad_ranges_are_refused(customer: Any, first: dt.date, last: dt.date | None, field: str) -> None:
    branch = branch_of(public_org())
    cut = service_at(branch, 60)
    master_at(branch, [cut])
    with pytest.raises(ValidationFailed) as refused:
        search(customer, branch, [cut], first, last_day=last, now=at(D(2027, 1, 1), 12))
    assert field in refused.value.fields


def test_next_free_slots_start_after_the_taken_one(customer: Any) -> None:
    branch = branch_of(public_org())
    cut = service_at(branch, 60)
    master = master_at(branch, [cut])
    day = D(2027, 2, 1)
    book(branch, master, cut, at(day, 10))
    found = next_free_slots(branch_id=branch.pk, service_ids=[cut.pk], after=at(day, 10), staff_id=master.pk, now=EARLY)
    assert [s.start for s in found] == [at(day, 11), at(day, 11, 15), at(day, 11, 30)]
    # unknown services give nothing rather than an error: the caller is answering a 409 already
    assert next_free_slots(branch_id=branch.pk, service_ids=[10**9], after=at(day, 10), now=EARLY) == []


def test_visit_plan_lays_out_the_visit_the_search_offers(customer: Any) -> None:
    branch = branch_of(public_org())
    cut = service_at(branch, 60, buffer_before_minutes=5)
    first, second = master_at(branch, [cut]), master_at(branch, [cut])
    day = D(2027, 2, 1)
    book(branch, first, cut, at(day, 9, 5))
    offered = next(s for s in search(customer, branch, [cut], day) if s.start == at(day, 12))
    planned = visit_plan(branch_id=branch.pk, service_ids=[cut.pk], start=at(day, 12), now=EARLY)
    assert planned == offered and planned is not None and planned.staff_id == second.pk
    assert (
        visit_plan(branch_id=branch.pk, service_ids=[cut.pk], start=at(day, 9, 5), staff_id=first.pk, now=EARLY) is None
    )
    assert Occupancy.objects.count() == 1  # a plan books nothing


def test_only_active_masters_of_the_branch_with_an_active_link_qualify(customer: Any) -> None:
    # The slot search reads who qualifies in one plain query: each rule it repeats is pinned here.
    from backend.organizations.models import Membership

    branch = branch_of(public_org())
    elsewhere = branch_of(branch.organization, name="Elsewhere")
    cut = service_at(branch, 60)
    kept = master_at(branch, [cut], durations={cut.pk: 45})
    narrowed, left, gone, unlinked = (master_at(branch, [cut]) for _ in range(4))
    Membership.objects.filter(user=narrowed).update(branch=elsewhere)
    Membership.objects.filter(user=left).update(is_active=False)
    type(gone).objects.filter(pk=gone.pk).update(is_active=False)
    StaffService.objects.filter(staff=unlinked).update(is_active=False)
    slots = search(customer, branch, [cut], D(2027, 2, 1))
    assert {s.staff_id for s in slots} == {kept.pk}
    assert {s.end - s.start for s in slots} == {dt.timedelta(minutes=45)}  # the master's own duration
    for other in (narrowed, left, gone, unlinked):
        with pytest.raises(NotFound):
            search(customer, branch, [cut], D(2027, 2, 1), staff_id=other.pk)


def test_an_archived_or_withdrawn_service_is_not_found(customer: Any) -> None:
    from django.utils import timezone

    from backend.catalog.models import BranchService

    branch = branch_of(public_org())
    archived, withdrawn, elsewhere = (service_at(branch, 60, name=f"Service {i}") for i in range(3))
    master_at(branch, [archived, withdrawn, elsewhere])
    type(archived).objects.filter(pk=archived.pk).update(deleted_at=timezone.now())
    BranchService.objects.filter(service=withdrawn).update(is_active=False)
    BranchService.objects.filter(service=elsewhere).update(branch=branch_of(branch.organization, name="Other"))
    manager = member(branch.organization)
    for service in (archived, withdrawn, elsewhere):
        for user in (customer, manager):
            with pytest.raises(NotFound):
                search(user, branch, [service], D(2027, 2, 1))
