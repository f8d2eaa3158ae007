"""Offline writes replayed into a world that moved on: a 409 with the refusal's code and, under
``error.fields.current``, the object as the caller's read route shows it now (mobile_api.conflicts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from backend.booking.services import appointments as booking
from backend.staffing.models import Offer, OfferStatus
from backend.staffing.services import offers as staffing
from tests.booking.appointments_world import ZONE, World, world_build
from tests.conftest import ApiClient
from tests.factories import UserFactory
from tests.staffing.world import order_with_shift, pool_worker, staffing_world

pytestmark = pytest.mark.django_db
KEY = {"Idempotency-Key": "queued-offline-1"}


def at(days: int, hour: int) -> dt.datetime:
    day = timezone.now().astimezone(ZONE).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=ZONE)


@pytest.fixture
def w(db: Any) -> World:
    return world_build()


def _book(w: World, user: Any, start: dt.datetime) -> Any:
    return booking.appointment_create_for_customer(
        user=user, branch_id=w.branch.pk, service_ids=[w.haircut.pk], start=start, staff_id=w.master.pk
    )


def test_an_expired_offer_accepted_offline_is_409_with_the_offer_as_it_is_now() -> None:
    world = staffing_world(0)
    _, shift = order_with_shift(world.franchise, call_cap=1)
    offer = Offer.objects.create(organization=world.franchise, shift=shift, worker=pool_worker(world.hq))
    staffing.offers_send(shift=shift, offers=[offer], wave=1)
    Offer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = ApiClient(offer.worker.user).post(f"/api/v1/staffing/offers/{offer.pk}/accept", headers=KEY)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "offer_expired"
    assert error["fields"]["current"]["id"] == offer.pk and error["fields"]["current"]["status"] == OfferStatus.OFFERED
    assert Offer.objects.get(pk=offer.pk).status == OfferStatus.OFFERED  # nothing changed


def test_a_place_taken_meanwhile_is_409_shift_full_with_my_offer_now_on_standby() -> None:
    world = staffing_world(0)
    _, shift = order_with_shift(world.franchise, call_cap=1)
    offers = [
        Offer.objects.create(organization=world.franchise, shift=shift, worker=pool_worker(world.hq), position=i)
        for i in range(2)
    ]
    staffing.offers_send(shift=shift, offers=offers, wave=1)
    staffing.offer_accept(user=offers[0].worker.user, offer_id=offers[0].pk)
    response = ApiClient(offers[1].worker.user).post(f"/api/v1/staffing/offers/{offers[1].pk}/accept", headers=KEY)
    error = response.json()["error"]
    assert response.status_code == 409 and error["code"] == "shift_full"
    assert error["fields"]["current"]["id"] == offers[1].pk


def test_a_slot_taken_meanwhile_is_409_with_my_visit_unmoved_and_the_next_free_slots(w: World) -> None:
    mine = _book(w, w.customer, at(2, 10))
    other = UserFactory()  # another customer takes the time first
    _book(w, other, at(3, 10))
    response = ApiClient(w.customer).post(
        f"/api/v1/booking/appointments/{mine.pk}/reschedule", {"start": at(3, 10).isoformat()}, headers=KEY
    )
    error = response.json()["error"]
    assert response.status_code == 409 and error["code"] == "slot_taken"
    assert error["fields"]["next_slots"]
    current = error["fields"]["current"]
    assert current["id"] == mine.pk and dt.datetime.fromisoformat(current["start"]) == at(2, 10)


def test_a_visit_the_salon_cancelled_meanwhile_is_409_with_its_cancelled_state(w: World) -> None:
    mine = _book(w, w.customer, at(2, 10))
    booking.appointment_cancel(user=w.manager, appointment_id=mine.pk, reason="master ill")
    response = ApiClient(w.customer).post(f"/api/v1/booking/appointments/{mine.pk}/confirm", headers=KEY)
    error = response.json()["error"]
    assert response.status_code == 409 and error["code"] == "invalid_transition"
    assert error["fields"]["current"]["status"] == "cancelled"


def test_someone_elses_visit_is_still_a_bare_404(w: World) -> None:
    mine = _book(w, w.customer, at(2, 10))
    stranger = world_build("Salon B").manager
    response = ApiClient(stranger).post(f"/api/v1/booking/appointments/{mine.pk}/cancel", {})
    assert response.status_code == 404 and "current" not in response.json()["error"]["fields"]
