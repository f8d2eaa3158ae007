"""The shared pool: recruiting into the HQ's pool, the status ladder, profiles, and availability from the phone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from backend.core.exceptions import ApplicationError
from backend.core.models import Event
from backend.organizations.models import Membership, Role
from backend.staffing.models import Worker, WorkerAvailability, WorkerStatus
from backend.staffing.selectors import pool_workers, worker_self_get
from backend.staffing.services.pool import (
    availability_declare,
    availability_remove,
    worker_recruit,
    worker_self_update,
    worker_status_change,
)
from tests.conftest import member
from tests.staffing.world import pool_worker, staffing_world

pytestmark = pytest.mark.django_db


def _refused(call):
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value


def test_a_recruit_joins_the_hq_pool_as_a_candidate_with_a_worker_membership() -> None:
    world = staffing_world(0)
    worker = worker_recruit(
        user=world.hq_dispatcher,
        organization_id=world.hq.pk,
        phone="+77015550001",
        first_name="Asel",
        skills=[" Loader ", "loader", "Rigger"],
    )
    assert (worker.organization_id, worker.status, worker.skills) == (world.hq.pk, "candidate", ["loader", "rigger"])
    assert Membership.objects.filter(user=worker.user, organization=world.hq, role=Role.WORKER).exists()
    assert Event.objects.filter(entity_type="staffing.worker", entity_id=str(worker.pk)).count() == 1
    error = _refused(
        lambda: worker_recruit(user=world.hq_dispatcher, organization_id=world.hq.pk, phone="+77015550001")
    )
    assert (error.status, error.code) == (409, "worker_exists") and Worker.objects.count() == 1


def test_a_franchise_dispatches_from_the_pool_but_cannot_recruit_into_it() -> None:
    world = staffing_world(2)
    assert {w.pk for w in pool_workers(user=world.dispatcher, organization_id=world.franchise.pk)} == {
        w.pk for w in world.workers
    }
    error = _refused(
        lambda: worker_recruit(user=world.dispatcher, organization_id=world.franchise.pk, phone="+77015550002")
    )
    assert error.status == 404 and Worker.objects.count() == 2


def test_the_ladder_needs_an_interview_before_activation() -> None:
    world = staffing_world(0)
    worker = pool_worker(world.hq, status=WorkerStatus.CANDIDATE)
    error = _refused(lambda: worker_status_change(user=world.hq_dispatcher, worker_id=worker.pk, status="active"))
    assert error.code == "invalid_status_transition"
    worker_status_change(user=world.hq_dispatcher, worker_id=worker.pk, status="interviewed", notes="strong, punctual")
    worker = worker_status_change(user=world.hq_dispatcher, worker_id=worker.pk, status="active")
    worker.refresh_from_db()
    assert (worker.status, worker.interview_notes) == ("active", "strong, punctual")
    assert worker.interviewed_by_id == world.hq_dispatcher.pk
    suspended = worker_status_change(user=world.hq_dispatcher, worker_id=worker.pk, status="suspended")
    assert suspended.status == "suspended"


def test_a_worker_sets_their_home_and_sees_only_their_own_profile() -> None:
    world = staffing_world(2)
    me, other = world.workers
    updated = worker_self_update(user=me.user, home_latitude=Decimal("55.7"), home_longitude=Decimal("37.6"))
    assert (updated.home_latitude, updated.home_longitude) == (Decimal("55.7"), Decimal("37.6"))
    assert worker_self_get(me.user).pk == me.pk
    error = _refused(lambda: worker_self_get(member(world.hq, Role.DISPATCHER)))
    assert error.status == 404
    other.refresh_from_db()
    assert other.home_latitude != Decimal("55.7")


def test_availability_windows_merge_replace_and_refuse_bad_ones_whole() -> None:
    world = staffing_world(1)
    me = world.workers[0]
    day = (timezone.now() + dt.timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    h = dt.timedelta(hours=1)
    rows = availability_declare(user=me.user, windows=[(day + 8 * h, day + 12 * h), (day + 12 * h, day + 20 * h)])
    assert [(r.starts_at, r.ends_at) for r in rows] == [(day + 8 * h, day + 20 * h)]
    before = list(WorkerAvailability.objects.values_list("starts_at", "ends_at"))
    error = _refused(
        lambda: availability_declare(user=me.user, windows=[(day + 30 * h, day + 40 * h), (day + 50 * h, day + 49 * h)])
    )
    assert error.code == "invalid_availability" and "ends_at" in error.fields
    assert list(WorkerAvailability.objects.values_list("starts_at", "ends_at")) == before
    rows = availability_declare(user=me.user, windows=[(day + 9 * h, day + 10 * h)], replace_from=day)
    assert [(r.starts_at, r.ends_at) for r in rows] == [(day + 9 * h, day + 10 * h)]
    error = _refused(lambda: availability_remove(user=member(world.hq, Role.WORKER), availability_id=rows[0].pk))
    assert error.status == 404 and WorkerAvailability.objects.count() == 1
    availability_remove(user=me.user, availability_id=rows[0].pk)
    assert not WorkerAvailability.objects.exists()


def test_a_recruit_by_a_local_spelling_of_a_known_phone_finds_the_account() -> None:
    world = staffing_world(0)
    known = member(world.hq, Role.MANAGER, phone="+77015550003")
    worker = worker_recruit(user=world.hq_dispatcher, organization_id=world.hq.pk, phone="0077015550003")
    assert worker.user_id == known.pk
    error = _refused(lambda: worker_recruit(user=world.hq_dispatcher, organization_id=world.hq.pk, phone="12"))
    assert error.code == "invalid_phone" and Worker.objects.count() == 1
