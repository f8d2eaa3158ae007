"""The shift itself: check-in/out against the site's radius, the foreman's no-shows, excused absences and scores,
and a no-show's immediate, visible effect on reliability and rank (in the same transaction as the mark)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from backend.core.exceptions import ApplicationError, NotFound, PermissionDenied
from backend.core.models import Event
from backend.organizations.models import Role
from backend.staffing.models import (
    Attendance,
    Offer,
    OfferStatus,
    ReliabilityChange,
    ReliabilityReason,
    Shift,
    Site,
    Worker,
)
from backend.staffing.services.attendance import (
    attendance_check_in,
    attendance_check_out,
    attendance_mark,
    attendance_rate,
    distance_m,
    worker_rating,
)
from backend.staffing.services.reliability import newcomer_figures
from tests.conftest import member
from tests.staffing.world import SITE_POINT, World, order_with_shift, staffing_world

pytestmark = pytest.mark.django_db

AT_SITE = (SITE_POINT[0] + Decimal("0.001"), SITE_POINT[1])  # about 111 m north of the site
FAR = (SITE_POINT[0] + Decimal("0.01"), SITE_POINT[1])  # about 1.1 km


def shift_starting(
    world: World, start: dt.datetime, *, headcount: int = 3, hours: int = 12, site_: Site | None = None
) -> Shift:
    """A one-day order of the franchise whose shift runs ``hours`` from ``start`` (at ``site_``, or a new site)."""
    _, shift = order_with_shift(
        world.franchise, headcount=headcount, call_cap=headcount + 2, day=start.date(), site_=site_
    )
    Shift.objects.filter(pk=shift.pk).update(starts_at=start, ends_at=start + dt.timedelta(hours=hours))
    shift.refresh_from_db()
    return shift


def accepted_offer(shift: Shift, worker: Worker, *, confirmed: bool = True) -> Offer:
    """An offer the worker accepted (and confirmed), with the shift's counters as the offer services leave them."""
    now = timezone.now()
    offer = Offer.objects.create(
        organization_id=shift.organization_id,
        shift=shift,
        worker=worker,
        wave=1,
        status=OfferStatus.CONFIRMED if confirmed else OfferStatus.ACCEPTED,
        offered_at=now,
        responded_at=now,
        confirmed_at=now if confirmed else None,
    )
    Shift.objects.filter(pk=shift.pk).update(
        offered_count=shift.offered_count + 1,
        accepted_count=shift.accepted_count + 1,
        confirmed_count=shift.confirmed_count + (1 if confirmed else 0),
    )
    shift.refresh_from_db()
    return offer


def consistent_world(n_workers: int) -> World:
    """``staffing_world`` whose workers start with a newcomer's figures (the builder's defaults are arbitrary)."""
    world = staffing_world(n_workers)
    Worker.objects.filter(organization=world.hq).update(**newcomer_figures(pool_id=world.hq.pk).stored())
    for worker in world.workers:
        worker.refresh_from_db()
    return world


@pytest.fixture
def day() -> tuple[World, Shift, list[Offer]]:
    world = consistent_world(3)
    shift = shift_starting(world, timezone.now() - dt.timedelta(minutes=10))
    offers = [accepted_offer(shift, w) for w in world.workers]
    return world, shift, offers


def _state(shift: Shift) -> tuple:
    shift.refresh_from_db()
    return (
        list(Offer.objects.filter(shift=shift).order_by("pk").values_list("status", flat=True)),
        Attendance.objects.count(),
        ReliabilityChange.objects.count(),
        Event.objects.count(),
        list(Worker.objects.order_by("pk").values_list("reliability", "rank")),
        (shift.accepted_count, shift.confirmed_count, shift.checked_in_count, shift.no_show_count),
    )


def test_distance_is_great_circle_metres() -> None:
    assert distance_m(55.0, 37.0, 55.0, 37.0) == 0.0
    assert distance_m(55.0, 37.0, 55.001, 37.0) == pytest.approx(111.2, abs=0.5)


def test_a_worker_checks_in_at_the_site_and_the_show_counts_at_once(day) -> None:
    world, shift, offers = day
    worker = world.workers[0]

    attendance = attendance_check_in(user=worker.user, latitude=AT_SITE[0], longitude=AT_SITE[1])

    offers[0].refresh_from_db()
    shift.refresh_from_db()
    assert offers[0].status == OfferStatus.CHECKED_IN
    assert attendance.checked_in_at is not None and 100 < attendance.check_in_distance_m < 125
    assert (shift.checked_in_count, shift.accepted_count) == (1, 3)
    change = ReliabilityChange.objects.get(worker=worker)
    assert change.reason == ReliabilityReason.SHOW and change.shift_id == shift.pk
    assert change.reliability_after > change.reliability_before
    assert Event.objects.filter(entity_type="staffing.attendance", entity_id=str(attendance.pk)).exists()


def test_a_check_in_too_far_from_the_site_is_refused_and_changes_nothing(day) -> None:
    world, shift, _ = day
    before = _state(shift)

    with pytest.raises(ApplicationError) as refused:
        attendance_check_in(user=world.workers[0].user, latitude=FAR[0], longitude=FAR[1])

    assert refused.value.status == 422 and refused.value.code == "too_far_from_site"
    assert 1000 < int(refused.value.fields["distance_m"][0]) < 1200
    assert _state(shift) == before


def test_the_site_radius_is_configurable(day) -> None:
    world, shift, offers = day
    shift.order.site.check_in_radius_m = 2000
    shift.order.site.save()

    attendance_check_in(user=world.workers[0].user, latitude=FAR[0], longitude=FAR[1])

    offers[0].refresh_from_db()
    assert offers[0].status == OfferStatus.CHECKED_IN


def test_no_check_in_long_before_the_shift_or_for_someone_outside_the_pool() -> None:
    world = staffing_world(1)
    shift = shift_starting(world, timezone.now() + dt.timedelta(hours=5))
    accepted_offer(shift, world.workers[0])
    before = _state(shift)

    with pytest.raises(ApplicationError) as early:
        attendance_check_in(user=world.workers[0].user, latitude=AT_SITE[0], longitude=AT_SITE[1])
    with pytest.raises(NotFound) as stranger:
        attendance_check_in(user=world.dispatcher, latitude=AT_SITE[0], longitude=AT_SITE[1])

    assert (early.value.status, early.value.code) == (409, "no_shift_to_check_in")
    assert stranger.value.code == "not_a_worker"
    assert _state(shift) == before
    # An hour before the start it opens.
    attendance_check_in(
        user=world.workers[0].user,
        latitude=AT_SITE[0],
        longitude=AT_SITE[1],
        now=shift.starts_at - dt.timedelta(minutes=59),
    )


def test_check_out_freezes_hours_and_the_money_they_earn(day) -> None:
    world, shift, offers = day
    user = world.workers[0].user
    early = shift.starts_at - dt.timedelta(minutes=20)
    attendance_check_in(user=user, latitude=AT_SITE[0], longitude=AT_SITE[1], now=early)

    attendance = attendance_check_out(
        user=user, latitude=AT_SITE[0], longitude=AT_SITE[1], now=shift.starts_at + dt.timedelta(hours=8, minutes=8)
    )

    offers[0].refresh_from_db()
    assert offers[0].status == OfferStatus.COMPLETED
    # From the shift's start (not the early check-in) to 8 h 8 min: 8.25 h at the nearest quarter.
    assert attendance.hours == Decimal("8.25")
    assert attendance.pay_amount == Decimal("3300.00")  # 8.25 x 400.00
    assert attendance.bill_amount == Decimal("5362.50")  # 8.25 x 650.00
    with pytest.raises(ApplicationError) as again:
        attendance_check_out(user=user, latitude=AT_SITE[0], longitude=AT_SITE[1])
    assert again.value.code == "not_checked_in"


def test_a_no_show_lowers_reliability_and_rank_at_once_with_a_reason_the_worker_sees(day) -> None:
    world, shift, offers = day
    worker = world.workers[1]
    before = Worker.objects.get(pk=worker.pk)

    attendance = attendance_mark(user=world.dispatcher, offer_id=offers[1].pk, outcome="no_show")

    after = Worker.objects.get(pk=worker.pk)
    assert after.reliability < before.reliability and after.rank < before.rank
    assert after.no_shows_count == 1 and attendance.no_show and not attendance.excused
    shift.refresh_from_db()
    # The place is given up (accepted and confirmed drop), the no-show is counted.
    assert (shift.accepted_count, shift.confirmed_count, shift.no_show_count) == (2, 2, 1)
    worker_seen, changes = worker_rating(user=worker.user)
    assert worker_seen.rank == after.rank
    assert [c.reason for c in changes] == [ReliabilityReason.NO_SHOW]
    assert "after accepting it" in changes[0].reason_text and shift.order.title in changes[0].reason_text
    assert (changes[0].rank_before, changes[0].rank_after) == (before.rank, after.rank)


def test_a_no_show_and_its_reliability_change_roll_back_together(day) -> None:
    world, shift, offers = day
    before = _state(shift)

    with pytest.raises(RuntimeError), transaction.atomic():
        attendance_mark(user=world.dispatcher, offer_id=offers[1].pk, outcome="no_show")
        raise RuntimeError("the caller's transaction fails after the mark")

    assert _state(shift) == before


def test_an_excused_absence_is_recorded_apart_and_does_not_count(day) -> None:
    world, shift, offers = day
    worker = world.workers[2]
    before = Worker.objects.get(pk=worker.pk)

    attendance = attendance_mark(
        user=world.dispatcher, offer_id=offers[2].pk, outcome="excused", excuse_reason="sick note"
    )

    after = Worker.objects.get(pk=worker.pk)
    assert (after.reliability, after.rank) == (before.reliability, before.rank)
    assert (after.excused_count, after.no_shows_count) == (1, 0)
    assert attendance.excused and attendance.excuse_reason == "sick note"
    shift.refresh_from_db()
    assert (shift.accepted_count, shift.no_show_count) == (2, 0)
    assert ReliabilityChange.objects.get(worker=worker).reason == ReliabilityReason.EXCUSED


def test_excusing_a_no_show_undoes_its_effect(day) -> None:
    world, shift, offers = day
    worker = world.workers[1]
    original = Worker.objects.get(pk=worker.pk)
    attendance_mark(user=world.dispatcher, offer_id=offers[1].pk, outcome="no_show")

    attendance_mark(user=world.dispatcher, offer_id=offers[1].pk, outcome="excused", excuse_reason="hospital")

    restored = Worker.objects.get(pk=worker.pk)
    assert (restored.reliability, restored.rank) == (original.reliability, original.rank)
    assert (restored.no_shows_count, restored.excused_count) == (0, 1)
    shift.refresh_from_db()
    assert (shift.accepted_count, shift.no_show_count) == (2, 0)
    reasons = list(ReliabilityChange.objects.filter(worker=worker).order_by("id").values_list("reason", flat=True))
    assert reasons == [ReliabilityReason.NO_SHOW, ReliabilityReason.EXCUSED]


def test_marks_are_refused_before_the_start_twice_or_outside_the_tenancy(day) -> None:
    world, shift, offers = day
    later = shift_starting(world, timezone.now() + dt.timedelta(days=1), site_=shift.order.site)
    future = accepted_offer(later, world.workers[0])
    attendance_mark(user=world.dispatcher, offer_id=offers[0].pk, outcome="no_show")
    before = _state(shift)
    stranger = member(staffing_world(0).franchise, Role.DISPATCHER)

    cases = [
        (dict(user=world.dispatcher, offer_id=future.pk, outcome="no_show"), 409, "shift_not_started"),
        (dict(user=world.dispatcher, offer_id=offers[0].pk, outcome="no_show"), 409, "attendance_already_marked"),
        (dict(user=world.dispatcher, offer_id=offers[1].pk, outcome="present"), 422, "validation_error"),
        (dict(user=world.dispatcher, offer_id=offers[1].pk, outcome="late"), 422, "validation_error"),
        (dict(user=stranger, offer_id=offers[1].pk, outcome="no_show"), 404, "not_found"),
    ]
    for kwargs, status, code in cases:
        with pytest.raises(ApplicationError) as refused:
            attendance_mark(**kwargs)
        assert (refused.value.status, refused.value.code) == (status, code), kwargs
    with pytest.raises(PermissionDenied):
        attendance_mark(user=world.workers[1].user, offer_id=offers[1].pk, outcome="no_show")
    assert _state(shift) == before


def test_present_without_the_phone_and_the_quality_score_moves_rank(day) -> None:
    world, shift, offers = day
    worker = world.workers[0]

    attendance = attendance_mark(user=world.dispatcher, offer_id=offers[0].pk, outcome="present", hours=Decimal("6"))
    rank_after_show = Worker.objects.get(pk=worker.pk).rank
    attendance_rate(user=world.dispatcher, offer_id=offers[0].pk, quality_score=10)

    assert attendance.hours == Decimal("6.00") and attendance.pay_amount == Decimal("2400.00")
    assert Worker.objects.get(pk=worker.pk).rank > rank_after_show
    shift.refresh_from_db()
    assert shift.checked_in_count == 1
    with pytest.raises(ApplicationError) as bad:
        attendance_rate(user=world.dispatcher, offer_id=offers[0].pk, quality_score=11)
    assert bad.value.code == "invalid_quality"
    with pytest.raises(ApplicationError) as absent:
        attendance_rate(user=world.dispatcher, offer_id=offers[1].pk, quality_score=5)
    assert absent.value.code == "not_present"
    reasons = list(ReliabilityChange.objects.filter(worker=worker).order_by("id").values_list("reason", flat=True))
    assert reasons == [ReliabilityReason.SHOW, ReliabilityReason.QUALITY]


def test_attendance_rows_are_in_the_replay_visibility_check(day: tuple[World, Shift, list[Offer]]) -> None:
    from backend.core.visibility import entities_visible, visibility_registered

    world, _shift, _offers = day
    attendance = attendance_check_in(user=world.workers[0].user, latitude=AT_SITE[0], longitude=AT_SITE[1])
    entities = {"staffing.attendance": [str(attendance.pk)]}
    stranger = staffing_world(0).dispatcher

    assert visibility_registered("staffing.attendance")
    assert entities_visible(world.workers[0].user, entities) and entities_visible(world.dispatcher, entities)
    assert not entities_visible(world.workers[1].user, entities)
    assert not entities_visible(stranger, entities)
