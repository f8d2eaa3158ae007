"""A suspended worker keeps no offer and no place: suspending withdraws their live offers (places back to standby,
the worker told, the board moved), and every answer of theirs (accept, confirm, check-in) is refused with 409
``worker_not_active``. A check-in also needs the worker's membership to still hold."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.core.exceptions import ApplicationError
from backend.notifications.models import OutboxMessage
from backend.organizations.models import Membership
from backend.staffing.models import Attendance, Offer, OfferStatus, Shift, Worker, WorkerStatus
from backend.staffing.services.attendance import attendance_check_in
from backend.staffing.services.confirmations import offer_confirm
from backend.staffing.services.offers import offer_accept
from backend.staffing.services.pool import worker_status_change
from tests.staffing.test_attendance import AT_SITE, accepted_offer, consistent_world, shift_starting

pytestmark = pytest.mark.django_db


def _offer(shift: Shift, worker: Worker, status: str, *, offered: bool = True) -> Offer:
    now = timezone.now()
    return Offer.objects.create(
        organization_id=shift.organization_id,
        shift=shift,
        worker=worker,
        wave=1,
        status=status,
        offered_at=now if offered else None,
        expires_at=now + dt.timedelta(hours=2),
    )


def test_suspending_withdraws_live_offers_and_offers_the_freed_place_to_standby(
    django_capture_on_commit_callbacks,
) -> None:
    world = consistent_world(3)
    suspended, other, standby = world.workers
    shift = shift_starting(world, timezone.now() + dt.timedelta(days=2), headcount=1)
    Shift.objects.filter(pk=shift.pk).update(call_cap=1)
    held = accepted_offer(shift, suspended, confirmed=False)
    later = shift_starting(world, timezone.now() + dt.timedelta(days=3), site_=shift.order.site)
    waiting = _offer(later, suspended, OfferStatus.OFFERED)
    Shift.objects.filter(pk=later.pk).update(offered_count=1)
    next_in_line = _offer(shift, standby, OfferStatus.STANDBY, offered=False)
    untouched = _offer(later, other, OfferStatus.OFFERED)

    with django_capture_on_commit_callbacks(execute=False) as published:
        worker_status_change(user=world.hq_dispatcher, worker_id=suspended.pk, status=WorkerStatus.SUSPENDED)

    statuses = dict(Offer.objects.values_list("pk", "status"))
    assert statuses[held.pk] == statuses[waiting.pk] == OfferStatus.WITHDRAWN
    assert statuses[next_in_line.pk] == OfferStatus.OFFERED  # the freed place went to standby
    assert statuses[untouched.pk] == OfferStatus.OFFERED
    shift.refresh_from_db()
    assert (shift.accepted_count, shift.offered_count) == (0, 2)
    told = OutboxMessage.objects.filter(payload__kind="staffing.withdrawn")
    assert sorted(m.payload["offer_id"] for m in told) == sorted([held.pk, waiting.pk])
    assert published  # the board publishes after commit


def test_a_suspended_worker_cannot_accept_confirm_or_check_in() -> None:
    world = consistent_world(2)
    worker = world.workers[0]
    future = shift_starting(world, timezone.now() + dt.timedelta(days=2))
    offered = _offer(future, worker, OfferStatus.OFFERED)
    today = shift_starting(world, timezone.now() - dt.timedelta(minutes=10), site_=future.order.site)
    on_the_day = accepted_offer(today, worker, confirmed=False)
    Worker.objects.filter(pk=worker.pk).update(status=WorkerStatus.SUSPENDED)

    for answer in (
        lambda: offer_accept(user=worker.user, offer_id=offered.pk),
        lambda: offer_confirm(user=worker.user, offer_id=on_the_day.pk),
        lambda: attendance_check_in(user=worker.user, latitude=AT_SITE[0], longitude=AT_SITE[1]),
    ):
        with pytest.raises(ApplicationError) as refused:
            answer()
        assert (refused.value.status, refused.value.code) == (409, "worker_not_active")
    assert dict(Offer.objects.values_list("pk", "status")) == {
        offered.pk: OfferStatus.OFFERED,
        on_the_day.pk: OfferStatus.ACCEPTED,
    }
    assert not Attendance.objects.exists()


def test_a_worker_who_left_the_organization_cannot_check_in() -> None:
    world = consistent_world(1)
    worker = world.workers[0]
    today = shift_starting(world, timezone.now() - dt.timedelta(minutes=10))
    offer = accepted_offer(today, worker)
    Membership.objects.filter(user=worker.user).delete()

    with pytest.raises(ApplicationError) as refused:
        attendance_check_in(user=worker.user, latitude=AT_SITE[0], longitude=AT_SITE[1])

    assert refused.value.status in (403, 404)
    offer.refresh_from_db()
    assert offer.status == OfferStatus.CONFIRMED and not Attendance.objects.exists()
