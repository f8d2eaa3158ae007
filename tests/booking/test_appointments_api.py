"""The appointment routes: book, my visits, cancel, reschedule, the status steps, a master's day; bad input gets a 4xx
with its code and changes nothing (the tables are compared before and after)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from backend.booking.models import Appointment
from backend.crm.models import Client
from tests.booking.appointments_world import ZONE, World, world_build
from tests.booking.test_appointments import tables
from tests.conftest import ApiClient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/booking/appointments"


@pytest.fixture
def w(db: Any) -> World:
    return world_build()


def at(days: int, hour: int, minute: int = 0) -> dt.datetime:
    """A wall-clock time at the branch ``days`` after today (the routes book as of the real clock)."""
    day = timezone.now().astimezone(ZONE).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZONE)


def body(w: World, start: dt.datetime | str, **extra: Any) -> dict[str, Any]:
    return {
        "branch_id": w.branch.pk,
        "service_id": w.haircut.pk,
        "staff_id": w.master.pk,
        "start": start if isinstance(start, str) else start.isoformat(),
        **extra,
    }


def test_a_customer_books_lists_and_reads_their_visit(w: World) -> None:
    customer = ApiClient(w.customer)
    # when the customer books a haircut then colouring in two days at 10:00
    response = customer.post(URL, body(w, at(2, 10), service_ids=[w.colouring.pk], notes="first time"))
    # then it is created with both lines, in the branch's zone, at the master's price
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["channel"], data["notes"], data["time_zone"]) == (
        "booked",
        "customer",
        "first time",
        "Asia/Almaty",
    )
    assert [line["service_id"] for line in data["lines"]] == [w.haircut.pk, w.colouring.pk]
    assert data["price"] == "14000.00"
    assert dt.datetime.fromisoformat(data["start"]) == at(2, 10)
    # and it is in their list and readable alone
    mine = customer.get(URL).json()["items"]
    assert [a["id"] for a in mine] == [data["id"]]
    assert customer.get(f"{URL}/{data['id']}").json()["id"] == data["id"]
    # and nobody else's list shows it
    assert ApiClient(UserFactory()).get(URL).json()["items"] == []


def test_a_taken_slot_is_a_409_slot_taken_with_the_next_free_slots_and_nothing_changes(w: World) -> None:
    assert ApiClient(w.customer).post(URL, body(w, at(2, 10))).status_code == 201
    before = tables()
    response = ApiClient(UserFactory()).post(URL, body(w, at(2, 10, 30)))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "slot_taken"
    assert error["fields"]["next_slots"], error
    assert dt.datetime.fromisoformat(error["fields"]["next_slots"][0]["start"]) >= at(2, 11, 10)
    assert tables() == before


def test_a_retry_with_the_same_idempotency_key_books_once_and_answers_the_same(w: World) -> None:
    customer = ApiClient(w.customer)
    headers = {"Idempotency-Key": "book-1"}
    first = customer.post(URL, body(w, at(2, 10)), headers=headers)
    second = customer.post(URL, body(w, at(2, 10)), headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert Appointment.objects.count() == 1


def _too_many_services(w: World) -> dict[str, Any]:
    return body(w, at(2, 10), service_ids=[w.colouring.pk] * 5)


BAD_INPUT = {
    "year 1 with an offset": (lambda w: body(w, "0001-01-01T00:00:00+05:00"), 422, "validation_error"),
    "year 9999 with an offset": (lambda w: body(w, "9999-12-31T23:59:00-05:00"), 422, "validation_error"),
    "no offset": (lambda w: body(w, at(2, 10).replace(tzinfo=None).isoformat()), 422, "validation_error"),
    "an offset off the grid": (lambda w: body(w, at(2, 10).strftime("%Y-%m-%dT%H:%M:00+05:17")), 422, "invalid_time"),
    "an offset with seconds": (
        lambda w: body(w, at(2, 10).strftime("%Y-%m-%dT%H:%M:00+05:00:30")),
        422,
        "validation_error",
    ),
    "seconds": (lambda w: body(w, at(2, 10).replace(second=30)), 422, "invalid_time"),
    "in the past": (lambda w: body(w, at(-1, 10)), 422, "in_past"),
    "outside the schedule": (lambda w: body(w, at(2, 20)), 422, "outside_schedule"),
    "into the break": (lambda w: body(w, at(2, 12, 30)), 422, "outside_schedule"),
    "beyond the horizon": (lambda w: body(w, at(90, 10)), 422, "too_far"),
    "unknown service": (lambda w: {**body(w, at(2, 10)), "service_id": 10**12}, 404, "not_found"),
    "another branch's master": (
        lambda w: {**body(w, at(2, 10)), "staff_id": w.other_branch_master.pk},
        422,
        "staff_unavailable",
    ),
    "over-long notes": (lambda w: body(w, at(2, 10), notes="x" * 1001), 422, "validation_error"),
    "a NUL in the notes": (lambda w: body(w, at(2, 10), notes="a\x00b"), 422, "validation_error"),
    "too many services": (_too_many_services, 422, "validation_error"),
    "an id out of range": (lambda w: {**body(w, at(2, 10)), "branch_id": 2**63}, 422, "validation_error"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_a_4xx_with_its_code_and_changes_nothing(w: World, case: str) -> None:
    make, status, code = BAD_INPUT[case]
    before = tables()
    response = ApiClient(w.customer).post(URL, make(w))
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert tables() == before


def test_an_archived_service_is_not_found_and_changes_nothing(w: World) -> None:
    w.haircut.deleted_at = timezone.now()
    w.haircut.save(update_fields=["deleted_at"])
    before = tables()
    response = ApiClient(w.customer).post(URL, body(w, at(2, 10)))
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert tables() == before


def test_a_reschedule_after_the_cutoff_is_refused_and_changes_nothing(w: World) -> None:
    # given a cutoff of ten days and a visit in two
    w.org.booking_cancel_cutoff_minutes = 10 * 24 * 60
    w.org.save(update_fields=["booking_cancel_cutoff_minutes"])
    customer = ApiClient(w.customer)
    booked = customer.post(URL, body(w, at(2, 10))).json()
    before = tables()
    # when the customer tries to move or cancel it, then it is too late
    for path, payload in (("reschedule", {"start": at(3, 10).isoformat()}), ("cancel", {})):
        response = customer.post(f"{URL}/{booked['id']}/{path}", payload)
        assert (response.status_code, response.json()["error"]["code"]) == (409, "cutoff_passed")
    assert tables() == before
    # and a reschedule with a bad time is refused as well
    response = customer.post(f"{URL}/{booked['id']}/reschedule", {"start": "9999-12-31T23:59:00+14:00"})
    assert response.status_code == 422
    assert tables() == before


def test_a_customer_cancels_and_reschedules_in_time(w: World) -> None:
    customer = ApiClient(w.customer)
    booked = customer.post(URL, body(w, at(2, 10))).json()
    moved = customer.post(f"{URL}/{booked['id']}/reschedule", {"start": at(3, 15).isoformat()})
    assert moved.status_code == 200, moved.content
    assert dt.datetime.fromisoformat(moved.json()["start"]) == at(3, 15)
    cancelled = customer.post(f"{URL}/{booked['id']}/cancel", {"reason": "plans changed"})
    assert (cancelled.status_code, cancelled.json()["status"], cancelled.json()["cancel_reason"]) == (
        200,
        "cancelled",
        "plans changed",
    )
    # the freed time is bookable again
    assert ApiClient(UserFactory()).post(URL, body(w, at(3, 15))).status_code == 201


def test_staff_book_for_a_client_and_the_master_works_through_the_day(w: World) -> None:
    client = Client.objects.create(organization=w.org, phone="+77015557777", first_name="Caller")
    manager = ApiClient(w.manager)
    # a customer booking without client_id is refused to staff
    refused = manager.post(URL, body(w, at(2, 10)))
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "client_required")
    booked = manager.post(URL, body(w, at(2, 10), client_id=client.pk))
    assert booked.status_code == 201, booked.content
    appointment_id = booked.json()["id"]
    # the master sees it on their day
    master = ApiClient(w.master)
    day = master.get("/api/v1/booking/staff/day", {"date": at(2, 10).date().isoformat(), "branch_id": w.branch.pk})
    assert [a["id"] for a in day.json()["items"]] == [appointment_id]
    # a no-show before the start is refused, the steps go in order, and a step twice is a 409
    early = master.post(f"{URL}/{appointment_id}/no_show")
    assert (early.status_code, early.json()["error"]["code"]) == (409, "too_soon")
    for step, status in (("confirm", "confirmed"), ("arrived", "arrived"), ("done", "done")):
        response = master.post(f"{URL}/{appointment_id}/{step}")
        assert (response.status_code, response.json()["status"]) == (200, status)
    again = master.post(f"{URL}/{appointment_id}/done")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "invalid_transition")
    # the other master may not touch it
    other = ApiClient(w.other_master).post(f"{URL}/{appointment_id}/arrived")
    assert other.status_code in (403, 404)
