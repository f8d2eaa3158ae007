"""One client is never in two visits at once (decision 0009): the database holds the client's time as it holds a
master's and a resource's, so a double tap with "any master" and two Idempotency-Keys books once; the second answer
is 409 ``client_busy`` and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from backend.booking.exceptions import BookingErrorCode
from backend.booking.models import Appointment, AppointmentStatus, Occupancy
from backend.booking.services.appointments import (
    appointment_cancel,
    appointment_create_for_client,
    appointment_reschedule,
)
from backend.core.exceptions import Conflict
from tests.booking.appointments_world import NOW, World, local, world_build
from tests.booking.test_appointments import book, refused
from tests.booking.test_appointments_api import URL, at
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db: Any) -> World:
    return world_build()


def test_a_double_tap_with_any_master_and_two_keys_books_once(w: World) -> None:
    customer = ApiClient(w.customer)
    request = {"branch_id": w.branch.pk, "service_id": w.haircut.pk, "start": at(2, 10).isoformat()}
    # when the same customer sends the same "any master" booking twice, with two different keys
    first = customer.post(URL, request, headers={"Idempotency-Key": "tap-1"})
    second = customer.post(URL, request, headers={"Idempotency-Key": "tap-2"})
    # then the first is booked and the second is told the client already has a visit then (another master was free)
    assert first.status_code == 201, first.content
    assert second.status_code == 409, second.content
    assert second.json()["error"]["code"] == BookingErrorCode.CLIENT_BUSY
    assert Appointment.objects.filter(customer=w.customer, starts_at=at(2, 10)).count() == 1
    # and the other master's time was not taken by the refused attempt
    assert not Occupancy.objects.filter(staff=w.other_master, is_active=True).exists()


def test_staff_cannot_book_a_client_into_an_overlapping_visit_with_another_master(w: World) -> None:
    appointment = book(w, local(2, 10))
    # a walk-in booking of the same client 10:30 with the other master
    refused(
        lambda: appointment_create_for_client(
            user=w.manager,
            branch_id=w.branch.pk,
            client_id=appointment.client_id,
            service_ids=[w.haircut.pk],
            staff_id=w.other_master.pk,
            start=local(2, 10, 30),
            now=NOW,
        ),
        BookingErrorCode.CLIENT_BUSY,
        Conflict,
    )
    # back to back is fine (the master's buffer does not hold the client), and so is the time once cancelled
    after = appointment_create_for_client(
        user=w.manager,
        branch_id=w.branch.pk,
        client_id=appointment.client_id,
        service_ids=[w.haircut.pk],
        staff_id=w.other_master.pk,
        start=local(2, 11),
        now=NOW,
    )
    assert after.starts_at == local(2, 11)
    appointment_cancel(user=w.manager, appointment_id=after.pk, now=NOW)
    again = book(w, local(2, 11, 30), staff=w.other_master)
    assert again.status == AppointmentStatus.BOOKED


def test_a_place_in_a_class_holds_the_client(w: World) -> None:
    place = book(w, local(2, 10), w.yoga)
    assert place.group_session_id is not None
    # the client cannot be in a haircut during the class
    refused(lambda: book(w, local(2, 10), staff=w.other_master), BookingErrorCode.CLIENT_BUSY, Conflict)
    # until they leave the class
    appointment_cancel(user=w.customer, appointment_id=place.pk, now=NOW)
    assert book(w, local(2, 10), staff=w.other_master).status == AppointmentStatus.BOOKED


def test_a_reschedule_onto_the_clients_other_visit_is_refused(w: World) -> None:
    morning = book(w, local(2, 10))
    book(w, local(2, 15), staff=w.other_master)
    refused(
        lambda: appointment_reschedule(user=w.customer, appointment_id=morning.pk, start=local(2, 15), now=NOW),
        BookingErrorCode.CLIENT_BUSY,
        Conflict,
    )
    # and onto a free time the client's hold moves with the visit
    moved = appointment_reschedule(user=w.customer, appointment_id=morning.pk, start=local(2, 11, 30), now=NOW)
    held = Occupancy.objects.get(appointment=moved)
    assert (held.starts_at, held.ends_at, held.is_active) == (local(2, 11, 30), local(2, 12, 30), True)
