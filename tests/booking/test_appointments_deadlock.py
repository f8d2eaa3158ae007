"""A real deadlock inside an appointment write (PostgreSQL, SQLSTATE 40P01) is retried, then answered 409, never
500, and leaves the database as it was. No mock: a second transaction takes the rows of the visit in the opposite
order to the reschedule's, once per attempt, and PostgreSQL's deadlock detector picks the reschedule as the victim
(the test's transaction waits longer before checking: ``deadlock_timeout``)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, connections, transaction

from backend.booking.models import Appointment, Occupancy
from backend.booking.services.appointments import ATTEMPTS, appointment_reschedule
from backend.core.exceptions import ApplicationError
from tests.booking.appointments_world import NOW, World, local, world_build
from tests.booking.test_appointments import book

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def w() -> World:
    return world_build()


def _state(appointment_id: int) -> dict[str, Any]:
    appointment = Appointment.objects.get(pk=appointment_id)
    return {
        "appointment": (
            appointment.staff_id,
            appointment.starts_at,
            appointment.ends_at,
            appointment.rescheduled_count,
        ),
        "lines": sorted(appointment.lines.values_list("staff_id", "starts_at", "ends_at")),
        "occupancies": sorted(Occupancy.objects.values_list("id", "staff_id", "starts_at", "ends_at", "is_active")),
    }


def _wait_until_blocked_on(cursor: Any, table: str) -> None:
    """Until another backend waits for a lock in a statement on ``table``."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            " AND query LIKE %s",
            [f'%"{table}"%'],
        )
        if cursor.fetchone()[0]:
            return
        time.sleep(0.02)
    raise AssertionError(f"nobody waited on {table}")


def test_a_deadlock_in_every_attempt_of_a_reschedule_is_a_409_and_changes_nothing(w: World) -> None:
    appointment = book(w, local(2, 10))
    line = appointment.lines.get()
    occupancy = Occupancy.objects.get(line=line)
    before = _state(appointment.pk)
    answer: dict[str, Any] = {}

    def reschedule() -> None:
        try:
            appointment_reschedule(user=w.customer, appointment_id=appointment.pk, start=local(2, 15), now=NOW)
            answer["result"] = "moved"
        except ApplicationError as exc:
            answer["result"] = (exc.status, exc.code)
        except Exception as exc:  # anything else is what this test exists to catch
            answer["result"] = f"unexpected {type(exc).__name__}: {exc}"
        finally:
            connections.close_all()

    worker = threading.Thread(target=reschedule)
    with transaction.atomic(), connection.cursor() as cursor:
        # the test's transaction is never the victim: it checks for deadlocks long after the reschedule does
        cursor.execute("SET LOCAL deadlock_timeout = '30s'")
        # it holds the visit's line; the reschedule takes the occupancies first, then waits for the line
        cursor.execute("SELECT id FROM booking_appointmentline WHERE id = %s FOR UPDATE", [line.pk])
        worker.start()
        for _ in range(ATTEMPTS):
            _wait_until_blocked_on(cursor, "booking_appointmentline")
            # and now waits for an occupancy the reschedule holds: a cycle, which PostgreSQL breaks by aborting the
            # reschedule's attempt; then the occupancy is released again for the next attempt
            savepoint = transaction.savepoint()
            cursor.execute("SELECT id FROM booking_occupancy WHERE id = %s FOR UPDATE", [occupancy.pk])
            transaction.savepoint_rollback(savepoint)
        worker.join(timeout=30)
    assert not worker.is_alive()
    # then every attempt deadlocked and the answer is a 409, not a 500
    assert answer["result"] == (409, "slot_taken"), answer
    # and nothing changed
    assert _state(appointment.pk) == before


def test_one_deadlock_is_retried_and_the_move_counts_once(w: World) -> None:
    appointment = book(w, local(2, 10))
    line = appointment.lines.get()
    occupancy = Occupancy.objects.get(line=line)
    answer: dict[str, Any] = {}

    def reschedule() -> None:
        try:
            moved = appointment_reschedule(user=w.customer, appointment_id=appointment.pk, start=local(2, 15), now=NOW)
            answer["result"] = moved.rescheduled_count
        except Exception as exc:
            answer["result"] = f"{type(exc).__name__}: {exc}"
        finally:
            connections.close_all()

    worker = threading.Thread(target=reschedule)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL deadlock_timeout = '30s'")
        cursor.execute("SELECT id FROM booking_appointmentline WHERE id = %s FOR UPDATE", [line.pk])
        worker.start()
        _wait_until_blocked_on(cursor, "booking_appointmentline")
        cursor.execute("SELECT id FROM booking_occupancy WHERE id = %s FOR UPDATE", [occupancy.pk])
    # the test's transaction ends: the second attempt goes through
    worker.join(timeout=30)
    assert answer["result"] == 1, answer
    state = _state(appointment.pk)
    assert state["appointment"][1:] == (local(2, 15), local(2, 16), 1)
    assert state["lines"] == [(w.master.pk, local(2, 15), local(2, 16))]
    assert sorted((s, e, a) for _, _, s, e, a in state["occupancies"]) == [
        (local(2, 15), local(2, 16), True),
        (local(2, 15), local(2, 16, 10), True),
    ]
