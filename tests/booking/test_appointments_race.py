"""Concurrent bookings on PostgreSQL: 50 requests for one slot, 20 rounds, give exactly one 201 and 49 × 409
``slot_taken``; one client booked with two masters at once gets one visit;
back to back both win; a cancelled slot is won again by exactly one; a class takes exactly its
capacity. Every request runs in its own thread with its own database connection, through the real HTTP stack (auth,
Idempotency-Key middleware, router, service, database constraint) or the service."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from backend.booking.models import Appointment, AppointmentStatus, Occupancy
from backend.booking.services.appointments import appointment_cancel, appointment_create_for_customer
from backend.core.exceptions import ApplicationError
from backend.crm.models import Client
from tests.booking.appointments_world import NOW, ZONE, World, local, world_build
from tests.conftest import ApiClient
from tests.factories import UserFactory
from tests.storms import STORM_ROUNDS

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENTS = 50
ROUNDS = STORM_ROUNDS  # 20 unless CI's PostgreSQL leg asks for fewer (tests/storms.py)


def _storm(calls: list[Callable[[], str]]) -> Counter[str]:
    """Run ``calls`` at once (a barrier releases them together), each in its own thread and connection; count the
    outcomes (a status code or an error code; anything unexpected is named with its type)."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], str]) -> str:
        try:
            barrier.wait()
            return call()
        except ApplicationError as exc:
            return exc.code
        except Exception as exc:  # a test that must name whatever went wrong
            return f"unexpected {type(exc).__name__}: {exc}"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return Counter(pool.map(run, calls))


@pytest.fixture
def w() -> World:
    return world_build()


def _http_booking(client: ApiClient, w: World, start: dt.datetime) -> Callable[[], str]:
    body = {"branch_id": w.branch.pk, "service_id": w.haircut.pk, "staff_id": w.master.pk, "start": start.isoformat()}

    def call() -> str:
        response = client.post("/api/v1/booking/appointments", body, headers={"Idempotency-Key": uuid.uuid4().hex})
        if response.status_code == 409:
            return str(response.json()["error"]["code"])
        return str(response.status_code)

    return call


def test_fifty_requests_for_one_slot_give_one_201_and_49_slot_taken_twenty_rounds(w: World) -> None:
    # given 50 customers, each with a token
    clients = [ApiClient(UserFactory()) for _ in range(CLIENTS)]
    for round_no in range(ROUNDS):
        # a slot of its own each round, on the days ahead (within the horizon from the real clock)
        start = _future_slot(round_no)
        # when all of them ask for it at once
        outcomes = _storm([_http_booking(c, w, start) for c in clients])
        # then exactly one wins and 49 are told the slot is taken; nothing else (no 500, no deadlock)
        assert outcomes == Counter({"201": 1, "slot_taken": CLIENTS - 1}), (round_no, outcomes)
        assert Occupancy.objects.filter(staff=w.master, starts_at=start, is_active=True).count() == 1


def _future_slot(n: int) -> dt.datetime:
    """Round ``n``'s slot: working hours, days ahead of the real clock (the HTTP path books as of now)."""
    day = timezone.now().astimezone(ZONE).date() + dt.timedelta(days=2 + n // 4)
    return dt.datetime.combine(day, dt.time((9, 11, 14, 16)[n % 4]), tzinfo=ZONE)


def _service_booking(w: World, start: dt.datetime, service: Any = None) -> Callable[[], str]:
    user = UserFactory()

    def call() -> str:
        appointment_create_for_customer(
            user=user,
            branch_id=w.branch.pk,
            service_ids=[(service or w.haircut).pk],
            staff_id=w.master.pk,
            start=start,
            now=NOW,
        )
        return "booked"

    return call


def test_back_to_back_requests_both_win_and_overlapping_ones_lose(w: World) -> None:
    # given 25 requests for 10:00-11:00 (+10 min buffer) and 25 for 11:10, right after it
    calls = [_service_booking(w, local(2, 10)) for _ in range(25)] + [
        _service_booking(w, local(2, 11, 10)) for _ in range(25)
    ]
    outcomes = _storm(calls)
    # then one of each wins
    assert outcomes == Counter({"booked": 2, "slot_taken": 48}), outcomes
    starts = sorted(Appointment.objects.values_list("starts_at", flat=True))
    assert starts == [local(2, 10), local(2, 11, 10)]


def test_a_cancelled_slot_is_won_again_by_exactly_one(w: World) -> None:
    # given a booked then cancelled slot
    first = _service_booking(w, local(2, 10))
    assert first() == "booked"
    appointment = Appointment.objects.get()
    appointment_cancel(user=appointment.customer, appointment_id=appointment.pk, now=NOW)
    # when 50 ask for it at once
    outcomes = _storm([_service_booking(w, local(2, 10)) for _ in range(CLIENTS)])
    # then exactly one gets it
    assert outcomes == Counter({"booked": 1, "slot_taken": CLIENTS - 1}), outcomes
    assert Appointment.objects.filter(status=AppointmentStatus.BOOKED).count() == 1


#: Requests per round of the group class race: enough to overfill a class of 3 several times over, few enough that
#: 20 rounds stay quick.
CLASS_REQUESTS = 12


def test_a_group_class_takes_exactly_its_capacity_under_concurrency(w: World) -> None:
    for round_no in range(ROUNDS):
        start = local(2 + round_no, 10)
        outcomes = _storm([_service_booking(w, start, w.yoga) for _ in range(CLASS_REQUESTS)])
        assert outcomes == Counter({"booked": 3, "group_full": CLASS_REQUESTS - 3}), (round_no, outcomes)
        session_appointments = Appointment.objects.filter(starts_at=start, group_session__isnull=False)
        assert session_appointments.values("group_session").distinct().count() == 1
        assert session_appointments.count() == 3


def test_one_client_booked_with_two_masters_at_once_gets_one_visit_twenty_rounds(w: World) -> None:
    """The client guard under concurrency: one customer, the same time, two different masters (so neither the
    master's nor the resource's guard is involved), ten requests at once: exactly one visit, 20 rounds."""
    customer = UserFactory()

    def booking(staff: Any, start: dt.datetime) -> Callable[[], str]:
        def call() -> str:
            appointment_create_for_customer(
                user=customer,
                branch_id=w.branch.pk,
                service_ids=[w.haircut.pk],
                staff_id=staff.pk,
                start=start,
                now=NOW,
            )
            return "booked"

        return call

    for round_no in range(ROUNDS):
        start = local(2 + round_no // 4, (9, 11, 14, 16)[round_no % 4])
        outcomes = _storm([booking(w.master if i % 2 else w.other_master, start) for i in range(10)])
        # one wins; the others are told the client is busy then (or the slot is taken, for the winner's master)
        assert outcomes["booked"] == 1, (round_no, outcomes)
        assert outcomes["client_busy"] + outcomes["slot_taken"] == 9, (round_no, outcomes)
        assert outcomes["client_busy"] >= 1, (round_no, outcomes)
        assert Appointment.objects.filter(customer=customer, starts_at=start).count() == 1, round_no
        assert Occupancy.objects.filter(client__isnull=False, starts_at=start, is_active=True).count() == 1


def test_one_new_customer_booking_twice_at_once_gets_one_client_card(w: World) -> None:
    # given a customer the organization has never seen, booking two different times at the same moment
    customer = UserFactory()

    def booking(hour: int) -> Callable[[], str]:
        def call() -> str:
            appointment_create_for_customer(
                user=customer,
                branch_id=w.branch.pk,
                service_ids=[w.haircut.pk],
                staff_id=w.master.pk,
                start=local(2, hour),
                now=NOW,
            )
            return "booked"

        return call

    outcomes = _storm([booking(10), booking(15)])
    # then both are booked, on one card found by the phone
    assert outcomes == Counter({"booked": 2}), outcomes
    assert Client.objects.filter(organization=w.org, phone=customer.phone).count() == 1
    assert Appointment.objects.values("client").distinct().count() == 1
