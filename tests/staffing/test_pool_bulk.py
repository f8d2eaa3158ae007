"""Recruiting many workers at once keeps the single path's rules: the ladder, the pool owner, all or nothing."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import Event, EventAction
from backend.organizations.models import Membership, Role
from backend.staffing.models import Worker, WorkerAvailability, WorkerStatus
from backend.staffing.services.pool import availability_declare
from backend.staffing.services.pool_bulk import (
    WorkerRow,
    availability_declare_many,
    workers_recruit_many,
    workers_status_change_many,
)
from tests.conftest import member
from tests.staffing.world import agency, pool_worker, staffing_world

pytestmark = pytest.mark.django_db


def rows(n: int, start: int = 0) -> list[WorkerRow]:
    return [
        WorkerRow(f"+7916555{start + i:04d}", "Ivan", "Petrov", ["loader"], Decimal("55.75"), Decimal("37.61"))
        for i in range(n)
    ]


def test_recruit_many_into_the_hq_pool_then_interview_and_activate() -> None:
    hq = agency()
    franchise = agency("North", parent=hq)
    dispatcher = member(franchise, Role.DISPATCHER)
    boss = member(hq, Role.MANAGER)

    workers = workers_recruit_many(user=boss, organization_id=franchise.pk, rows=rows(3))

    assert {w.organization_id for w in workers} == {hq.pk}  # a franchise recruits into its HQ's pool
    assert all(w.status == WorkerStatus.CANDIDATE for w in workers)
    assert Membership.objects.filter(organization=hq, role=Role.WORKER, user__in=[w.user for w in workers]).count() == 3
    assert Event.objects.filter(entity_type="staffing.worker", action=EventAction.CREATE).count() == 3
    ids = [w.pk for w in workers]
    with pytest.raises(Conflict):  # the ladder: no activation without an interview
        workers_status_change_many(user=boss, organization_id=hq.pk, worker_ids=ids, status=WorkerStatus.ACTIVE)
    workers_status_change_many(user=boss, organization_id=hq.pk, worker_ids=ids, status=WorkerStatus.INTERVIEWED)
    workers_status_change_many(user=boss, organization_id=hq.pk, worker_ids=ids, status=WorkerStatus.ACTIVE)
    assert set(Worker.objects.filter(pk__in=ids).values_list("status", flat=True)) == {WorkerStatus.ACTIVE}
    with pytest.raises(NotFound):  # a franchise dispatcher does not reach the HQ's pool
        workers_recruit_many(user=dispatcher, organization_id=hq.pk, rows=rows(1, 50))


def test_one_bad_row_writes_nothing_and_another_pool_is_a_404() -> None:
    hq, other = agency(), agency("Other HQ")
    boss = member(hq, Role.MANAGER)
    existing = pool_worker(hq)
    before = Worker.objects.count()

    with pytest.raises(Conflict):
        workers_recruit_many(user=boss, organization_id=hq.pk, rows=[*rows(2), WorkerRow(existing.user.phone)])
    with pytest.raises(ValidationFailed):
        workers_recruit_many(
            user=boss, organization_id=hq.pk, rows=[WorkerRow("+79165550001", home_latitude=Decimal(1))]
        )
    assert Worker.objects.count() == before
    theirs = pool_worker(other)
    with pytest.raises(NotFound):
        workers_status_change_many(
            user=boss, organization_id=hq.pk, worker_ids=[theirs.pk], status=WorkerStatus.INTERVIEWED
        )
    with pytest.raises(Conflict):  # suspension withdraws offers: one by one, not in bulk
        workers_status_change_many(
            user=boss, organization_id=hq.pk, worker_ids=[existing.pk], status=WorkerStatus.SUSPENDED
        )


def _windows(worker_ids: list[int]) -> list[list[tuple]]:
    rows: dict[int, list[tuple]] = {w: [] for w in worker_ids}
    for worker_id, start, end in WorkerAvailability.objects.filter(worker_id__in=worker_ids).values_list(
        "worker_id", "starts_at", "ends_at"
    ):
        rows[worker_id].append((start, end))
    return [sorted(rows[w]) for w in worker_ids]


def _declaration_script(day: dt.datetime) -> list[tuple[dict[int, list[tuple]], dt.datetime | None]]:
    h = dt.timedelta(hours=1)
    return [
        ({0: [(day + 8 * h, day + 12 * h), (day + 12 * h, day + 20 * h)], 1: [(day + 30 * h, day + 40 * h)]}, None),
        ({0: [(day + 19 * h, day + 22 * h), (day + 40 * h, day + 44 * h)], 1: [(day + 2 * h, day + 3 * h)]}, None),
        ({0: [(day + 9 * h, day + 10 * h)], 2: [(day + 9 * h, day + 10 * h)]}, day + 30 * h),
    ]


def test_declaring_many_gives_the_rows_and_events_of_one_call_per_worker() -> None:
    day = (timezone.now() + dt.timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    single, bulk = staffing_world(3), staffing_world(3)
    boss = member(bulk.hq, Role.MANAGER)
    for declarations, replace_from in _declaration_script(day):
        for index, windows in declarations.items():
            availability_declare(user=single.workers[index].user, windows=windows, replace_from=replace_from)
        availability_declare_many(
            user=boss,
            organization_id=bulk.hq.pk,
            declarations={bulk.workers[i].pk: w for i, w in declarations.items()},
            replace_from=replace_from,
        )
        assert _windows([w.pk for w in single.workers]) == _windows([w.pk for w in bulk.workers])
    one_events = Counter(
        Event.objects.filter(entity_type="staffing.workeravailability", organization_id=single.hq.pk).values_list(
            "action", flat=True
        )
    )
    many_events = Counter(
        Event.objects.filter(entity_type="staffing.workeravailability", organization_id=bulk.hq.pk).values_list(
            "action", flat=True
        )
    )
    assert one_events == many_events and one_events[EventAction.DELETE] > 0


def test_declaring_many_is_all_or_nothing_and_bounded_to_the_pool() -> None:
    day = (timezone.now() + dt.timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    world, other = staffing_world(2), staffing_world(1)
    boss = member(world.hq, Role.MANAGER)
    good = [(day, day + dt.timedelta(hours=8))]
    with pytest.raises(ValidationFailed) as caught:
        availability_declare_many(
            user=boss,
            organization_id=world.hq.pk,
            declarations={world.workers[0].pk: good, world.workers[1].pk: [(day, day - dt.timedelta(hours=1))]},
        )
    assert caught.value.code == "invalid_availability"
    with pytest.raises(NotFound):  # another pool's worker
        availability_declare_many(
            user=boss, organization_id=world.hq.pk, declarations={world.workers[0].pk: good, other.workers[0].pk: good}
        )
    with pytest.raises(NotFound):  # a dispatcher of the franchise does not manage the HQ's pool
        availability_declare_many(user=world.dispatcher, organization_id=world.hq.pk, declarations={})
    assert (
        not WorkerAvailability.objects.exists()
        and not Event.objects.filter(entity_type="staffing.workeravailability").exists()
    )
