"""Recruiting many workers at once keeps the single path's rules: the ladder, the pool owner, all or nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import Event, EventAction
from backend.organizations.models import Membership, Role
from backend.staffing.models import Worker, WorkerStatus
from backend.staffing.services.pool_bulk import WorkerRow, workers_recruit_many, workers_status_change_many
from tests.conftest import member
from tests.staffing.world import agency, pool_worker

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
