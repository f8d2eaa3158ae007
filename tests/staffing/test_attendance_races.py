"""Attendance under concurrency on PostgreSQL, 20 rounds: a worker checking in while the foreman marks them a
no-show, and two foremen marking the same no-show at once. Exactly one of each pair wins, the loser is told 409,
the shift's counters and the worker's figures agree with the offer's final state, and nothing answers 5xx."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from backend.core.exceptions import ApplicationError
from backend.organizations.models import Role
from backend.staffing.models import Attendance, OfferStatus, ReliabilityChange, ReliabilityReason, Shift, Worker
from backend.staffing.services.attendance import attendance_check_in, attendance_mark
from tests.conftest import member
from tests.staffing.test_attendance import AT_SITE, accepted_offer, consistent_world, shift_starting
from tests.storms import STORM_ROUNDS

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = STORM_ROUNDS  # 20 unless CI's PostgreSQL leg asks for fewer (tests/storms.py)


def _race(*calls: Callable[[], Any]) -> list[str]:
    """Run ``calls`` at once (each thread with its own connection); the outcome of each: ``ok`` or the error code."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = [""] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait()
            calls[i]()
            outcomes[i] = "ok"
        except ApplicationError as exc:
            outcomes[i] = f"{exc.status} {exc.code}"
        except Exception as exc:  # a database error would be a 500: the test reports it
            outcomes[i] = f"500 {type(exc).__name__}"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_a_check_in_racing_a_no_show_mark_and_two_marks_racing_each_other() -> None:
    seen: dict[str, int] = {}
    for _ in range(ROUNDS):
        world = consistent_world(2)
        second_foreman = member(world.franchise, Role.DISPATCHER)
        shift = shift_starting(world, timezone.now() - dt.timedelta(minutes=5))
        comer, absentee = (accepted_offer(shift, w) for w in world.workers)

        first = _race(
            partial(attendance_check_in, user=comer.worker.user, latitude=AT_SITE[0], longitude=AT_SITE[1]),
            partial(attendance_mark, user=world.dispatcher, offer_id=comer.pk, outcome="no_show"),
        )
        second = _race(
            partial(attendance_mark, user=world.dispatcher, offer_id=absentee.pk, outcome="no_show"),
            partial(attendance_mark, user=second_foreman, offer_id=absentee.pk, outcome="no_show"),
        )

        assert sorted(first).count("ok") == 1 and not any(o.startswith("5") for o in first + second), first
        assert sorted(second) == ["409 attendance_already_marked", "ok"], second
        comer.refresh_from_db()
        absentee.refresh_from_db()
        shift = Shift.objects.get(pk=shift.pk)
        checked_in = comer.status == OfferStatus.CHECKED_IN
        assert comer.status in (OfferStatus.CHECKED_IN, OfferStatus.NO_SHOW)
        assert absentee.status == OfferStatus.NO_SHOW
        assert (shift.checked_in_count, shift.no_show_count) == (int(checked_in), 2 - int(checked_in))
        assert shift.accepted_count == int(checked_in)  # a no-show gives its place up
        assert Attendance.objects.filter(shift=shift).count() == 2
        no_show_rows = ReliabilityChange.objects.filter(shift=shift, reason=ReliabilityReason.NO_SHOW)
        assert no_show_rows.count() == 2 - int(checked_in)
        assert Worker.objects.get(pk=absentee.worker_id).no_shows_count == 1
        key = "check-in won" if checked_in else "no-show won"
        seen[key] = seen.get(key, 0) + 1
    assert sum(seen.values()) == ROUNDS
