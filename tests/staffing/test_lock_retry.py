"""A deadlock or serialization failure in a staffing write is retried briefly, then answered 409
``concurrent_change``; never a 500 (services/locking.py)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from backend.core.exceptions import Conflict
from backend.staffing.models import Shift
from backend.staffing.services.locking import ATTEMPTS, conflict_retry
from tests.staffing.world import agency, order_with_shift, site


def _deadlock() -> DatabaseError:
    """What Django raises for PostgreSQL's 40P01: a DatabaseError caused by the driver's error."""
    error = DatabaseError("deadlock detected")
    error.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return error


@pytest.mark.django_db(transaction=True)
def test_a_lock_conflict_that_keeps_happening_ends_in_409_after_the_retries() -> None:
    calls: list[int] = []

    @conflict_retry
    def always_deadlocks() -> None:
        calls.append(1)
        raise _deadlock()

    with pytest.raises(Conflict) as refused:
        always_deadlocks()
    assert (refused.value.status, refused.value.code, len(calls)) == (409, "concurrent_change", ATTEMPTS)

    calls.clear()
    with pytest.raises(Conflict), transaction.atomic():  # an outer transaction is aborted: no retry there
        always_deadlocks()
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_other_database_errors_are_not_retried() -> None:
    calls: list[int] = []

    @conflict_retry
    def broken() -> None:
        calls.append(1)
        raise DatabaseError("something else")

    with pytest.raises(DatabaseError):
        broken()
    assert len(calls) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_deadlock_is_retried_and_both_writes_succeed() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("deadlocks need PostgreSQL")
    hq = agency()
    yard = site(hq)
    first, second = (order_with_shift(hq, call_cap=2, site_=yard)[1].pk for _ in range(2))
    barrier = threading.Barrier(2)
    attempts: dict[str, int] = {"ab": 0, "ba": 0}

    def crossing(name: str, ids: tuple[int, int]) -> str:
        @conflict_retry
        @transaction.atomic
        def write() -> None:
            attempts[name] += 1
            Shift.objects.select_for_update().get(pk=ids[0])
            if attempts[name] == 1:
                barrier.wait(10)  # both hold their first row: each now waits for the other's
            Shift.objects.filter(pk=ids[1]).update(fill_probability=0.5)

        try:
            write()
            return "ok"
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(crossing, ["ab", "ba"], [(first, second), (second, first)]))

    assert results == ["ok", "ok"]
    assert sorted(attempts.values()) == [1, 2]  # PostgreSQL broke the cycle once; the victim retried
    assert set(Shift.objects.filter(pk__in=[first, second]).values_list("fill_probability", flat=True)) == {0.5}
