"""The database refuses to double-book a master, a resource or a client (decision 0009), whatever wrote the row.

These tests write occupancy rows directly, past every service check: only the exclusion constraints (PostgreSQL)
or the triggers (SQLite) stand between them and a double booking.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from backend.booking.models import (
    Appointment,
    AppointmentLine,
    BookingChannel,
    GroupSession,
    Occupancy,
)
from backend.catalog.models import Resource, ResourceKind, Service
from backend.crm.models import Client
from backend.organizations.models import Branch, Organization, Role
from tests.conftest import member
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)


def _at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def world(org: Organization) -> dict[str, Any]:
    branch = BranchFactory(organization=org)
    return {
        "org": org,
        "branch": branch,
        "master": member(org, Role.MASTER),
        "other_master": member(org, Role.MASTER),
        "service": Service.objects.create(organization=org, name="Haircut", duration_minutes=60),
        "client": Client.objects.create(organization=org, phone="+77015550001"),
        "chair": Resource.objects.create(branch=branch, kind=ResourceKind.CHAIR, name="1"),
    }


def _occupy(
    world: dict[str, Any],
    start: int,
    end: int,
    *,
    staff: Any = None,
    resource: Resource | None = None,
    active: bool = True,
) -> Occupancy:
    branch: Branch = world["branch"]
    staff = staff if staff is not None else world["master"]
    appointment = Appointment.objects.create(
        organization=world["org"],
        branch=branch,
        client=world["client"],
        staff=staff,
        starts_at=_at(start),
        ends_at=_at(end),
        channel=BookingChannel.STAFF,
        price=Decimal("10"),
        currency="KZT",
    )
    line = AppointmentLine.objects.create(
        appointment=appointment,
        position=0,
        service=world["service"],
        staff=staff,
        resource=resource,
        starts_at=_at(start),
        ends_at=_at(end),
        duration_minutes=end - start,
        price=Decimal("10"),
    )
    return Occupancy.objects.create(
        organization=world["org"],
        branch=branch,
        staff=staff,
        resource=resource,
        starts_at=_at(start),
        ends_at=_at(end),
        is_active=active,
        line=line,
    )


def test_an_overlapping_active_interval_of_one_master_is_refused_and_nothing_is_written(
    world: dict[str, Any],
) -> None:
    # given a master held 09:00-10:00
    _occupy(world, 0, 60)
    # when another row claims 09:30-10:30 for them, then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        _occupy(world, 30, 90)
    # and only the first visit's time is held
    assert Occupancy.objects.count() == 1


def test_back_to_back_and_other_masters_are_allowed(world: dict[str, Any]) -> None:
    # given 09:00-10:00 held
    _occupy(world, 0, 60)
    # when the same master takes 10:00-11:00 and another master 09:00-10:00
    _occupy(world, 60, 120)
    _occupy(world, 0, 60, staff=world["other_master"])
    # then all three stand
    assert Occupancy.objects.filter(is_active=True).count() == 3


def test_an_inactive_interval_does_not_hold_the_time_and_cannot_come_back_over_a_new_one(
    world: dict[str, Any],
) -> None:
    # given a cancelled (inactive) visit 09:00-10:00 and a new one over it
    cancelled = _occupy(world, 0, 60, active=False)
    _occupy(world, 15, 75)
    # when the cancelled one is made active again, then the database refuses it
    cancelled.is_active = True
    with pytest.raises(IntegrityError), transaction.atomic():
        cancelled.save(update_fields=["is_active"])
    cancelled.refresh_from_db()
    assert cancelled.is_active is False


def test_one_resource_is_not_held_twice_even_by_two_masters(world: dict[str, Any]) -> None:
    # given chair 1 held 09:00-10:00 by one master
    _occupy(world, 0, 60, resource=world["chair"])
    # when another master takes the same chair at 09:59, then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        _occupy(world, 59, 120, staff=world["other_master"], resource=world["chair"])
    # and moving one's own row onto another's time is refused as well (the update path)
    mine = _occupy(world, 120, 180, staff=world["other_master"], resource=world["chair"])
    mine.starts_at = _at(30)
    with pytest.raises(IntegrityError), transaction.atomic():
        mine.save(update_fields=["starts_at"])


def test_a_group_session_and_an_individual_visit_of_one_master_cannot_overlap(world: dict[str, Any]) -> None:
    # given a group class 09:00-10:00 holding its master
    session = GroupSession.objects.create(
        organization=world["org"],
        branch=world["branch"],
        service=world["service"],
        staff=world["master"],
        starts_at=_at(0),
        ends_at=_at(60),
        capacity=10,
        price=Decimal("5"),
    )
    Occupancy.objects.create(
        organization=world["org"],
        branch=world["branch"],
        staff=world["master"],
        starts_at=_at(0),
        ends_at=_at(60),
        group_session=session,
    )
    # when an individual visit claims 09:45, then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        _occupy(world, 45, 105)
    assert Occupancy.objects.count() == 1


def _hold_client(world: dict[str, Any], start: int, end: int, *, client: Client | None = None) -> Occupancy:
    """An appointment's row for its client only (another master each time: nothing but the client is shared)."""
    client = client or world["client"]
    appointment = Appointment.objects.create(
        organization=world["org"],
        branch=world["branch"],
        client=client,
        staff=member(world["org"], Role.MASTER),
        starts_at=_at(start),
        ends_at=_at(end),
        channel=BookingChannel.STAFF,
        price=Decimal("10"),
        currency="KZT",
    )
    return Occupancy.objects.create(
        organization=world["org"],
        branch=world["branch"],
        client=client,
        starts_at=_at(start),
        ends_at=_at(end),
        appointment=appointment,
    )


def test_one_client_in_two_overlapping_visits_is_refused_by_the_database(world: dict[str, Any]) -> None:
    # given the client held 09:00-10:00 (with one master)
    _hold_client(world, 0, 60)
    # when a row claims 09:30-10:30 for the same client (with another master), then the database refuses it
    with pytest.raises(IntegrityError, match="client"), transaction.atomic():
        _hold_client(world, 30, 90)
    # and back to back, or another client at the same time, is allowed
    _hold_client(world, 60, 120)
    _hold_client(world, 0, 60, client=Client.objects.create(organization=world["org"], phone="+77015550002"))
    assert Occupancy.objects.filter(client__isnull=False, is_active=True).count() == 3


def test_a_client_row_holds_only_the_client(world: dict[str, Any]) -> None:
    row = _hold_client(world, 0, 60)
    # a client row that also claims a master is refused by a check constraint (on both databases)
    with pytest.raises(IntegrityError), transaction.atomic():
        Occupancy.objects.filter(pk=row.pk).update(staff=world["master"])
    # and a line's row cannot carry a client
    line_row = _occupy(world, 120, 180)
    with pytest.raises(IntegrityError), transaction.atomic():
        Occupancy.objects.filter(pk=line_row.pk).update(client=world["client"])


def test_a_freed_client_row_cannot_come_back_over_a_new_visit(world: dict[str, Any]) -> None:
    old = _hold_client(world, 0, 60)
    Occupancy.objects.filter(pk=old.pk).update(is_active=False)
    _hold_client(world, 0, 60)
    with pytest.raises(IntegrityError, match="client"), transaction.atomic():
        Occupancy.objects.filter(pk=old.pk).update(is_active=True)


@pytest.mark.skipif(settings.IS_POSTGRES, reason="SQLite's guarantee: the triggers")
def test_sqlite_has_the_overlap_triggers_after_migrating() -> None:
    # A table rebuild by a later migration would drop them silently: this test notices.
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'booking_occupancy'")
        names = {row[0] for row in cursor.fetchall()}
    assert names == {
        "booking_occupancy_no_overlap_insert",
        "booking_occupancy_no_overlap_update",
        "booking_occupancy_client_no_overlap_insert",
        "booking_occupancy_client_no_overlap_update",
    }


@pytest.mark.postgres
def test_postgres_has_the_exclusion_constraints() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'x' AND conrelid = 'booking_occupancy'::regclass"
        )
        names = {row[0] for row in cursor.fetchall()}
    assert names == {
        "booking_occupancy_staff_no_overlap",
        "booking_occupancy_resource_no_overlap",
        "booking_occupancy_client_no_overlap",
    }


@pytest.mark.skipif(settings.IS_POSTGRES, reason="SQLite's guarantee under concurrent writers")
def test_sqlite_triggers_let_exactly_one_of_fifty_concurrent_writers_through(tmp_path: Any) -> None:
    """Fifty threads, each with its own connection to one WAL database file, insert overlapping active occupancies
    of one master at once, with no check of their own: the triggers let exactly one through, in each of 20 rounds.
    Half the writers open their transaction as Brigada does (BEGIN IMMEDIATE); the other half read first in a
    deferred transaction, the case where a stale snapshot could fool a check in Python."""
    import sqlite3
    import threading
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'booking_occupancy' AND type IN ('table', 'trigger')"
            " ORDER BY type = 'trigger'"
        )
        ddl = [row[0] for row in cursor.fetchall()]
    path = str(tmp_path / "race.sqlite3")
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    for statement in ddl:
        setup.execute(statement)
    setup.close()
    line_ids = iter(range(1, 10**6))
    lock = threading.Lock()

    def write(start: str, end: str, immediate: bool) -> str:
        with lock:
            line_id = next(line_ids)
        db = sqlite3.connect(path, timeout=20, isolation_level=None, check_same_thread=False)
        try:
            barrier.wait()
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            if not immediate:
                db.execute("SELECT count(*) FROM booking_occupancy WHERE staff_id = 1").fetchone()
            db.execute(
                "INSERT INTO booking_occupancy (organization_id, branch_id, staff_id, resource_id, starts_at, ends_at,"
                " is_active, line_id, group_session_id) VALUES (1, 1, 1, NULL, ?, ?, 1, ?, NULL)",
                (start, end, line_id),
            )
            db.execute("COMMIT")
            return "inserted"
        except sqlite3.IntegrityError as exc:
            assert "booking_occupancy_overlap" in str(exc)
            return "overlap"
        except sqlite3.OperationalError as exc:  # a deferred writer whose snapshot went stale cannot write
            assert "locked" in str(exc) or "busy" in str(exc), exc
            return "stale"
        finally:
            db.close()

    for round_no in range(20):
        barrier = threading.Barrier(50)
        day = f"2027-04-{round_no + 1:02d}"
        calls = [
            (f"{day} 10:{minute:02d}:00", f"{day} 11:{minute:02d}:00", i % 2 == 0)
            for i, minute in enumerate(range(0, 50))
        ]
        with ThreadPoolExecutor(max_workers=50) as pool:
            outcomes = Counter(pool.map(lambda args: write(*args), calls))
        assert outcomes["inserted"] == 1, (round_no, outcomes)
        assert outcomes["overlap"] + outcomes["stale"] == 49, (round_no, outcomes)
    check = sqlite3.connect(path)
    assert check.execute("SELECT count(*) FROM booking_occupancy").fetchone()[0] == 20
    check.close()

    # The same for one client: fifty overlapping appointment rows of one client (no master, no resource) at once.
    def write_client(start: str, end: str, immediate: bool) -> str:
        with lock:
            owner_id = next(line_ids)
        db = sqlite3.connect(path, timeout=20, isolation_level=None, check_same_thread=False)
        try:
            barrier.wait()
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            if not immediate:
                db.execute("SELECT count(*) FROM booking_occupancy WHERE client_id = 1").fetchone()
            db.execute(
                "INSERT INTO booking_occupancy (organization_id, branch_id, staff_id, resource_id, starts_at, ends_at,"
                " is_active, line_id, group_session_id, client_id, appointment_id)"
                " VALUES (1, 1, NULL, NULL, ?, ?, 1, NULL, NULL, 1, ?)",
                (start, end, owner_id),
            )
            db.execute("COMMIT")
            return "inserted"
        except sqlite3.IntegrityError as exc:
            assert "booking_client_overlap" in str(exc)
            return "overlap"
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc) or "busy" in str(exc), exc
            return "stale"
        finally:
            db.close()

    for round_no in range(20):
        barrier = threading.Barrier(50)
        day = f"2027-05-{round_no + 1:02d}"
        calls = [(f"{day} 10:{m:02d}:00", f"{day} 11:{m:02d}:00", m % 2 == 0) for m in range(50)]
        with ThreadPoolExecutor(max_workers=50) as pool:
            outcomes = Counter(pool.map(lambda args: write_client(*args), calls))
        assert outcomes["inserted"] == 1, (round_no, outcomes)
        assert outcomes["overlap"] + outcomes["stale"] == 49, (round_no, outcomes)
    check = sqlite3.connect(path)
    assert check.execute("SELECT count(*) FROM booking_occupancy WHERE client_id = 1").fetchone()[0] == 20
    check.close()
