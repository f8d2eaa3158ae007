"""Reliability and rank in the database: the rank formula, time decay as the nights pass, the pool prior for
newcomers, and a nightly recomputation that is idempotent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from backend.core.models import Event
from backend.staffing.models import Attendance, Offer, OfferStatus, ReliabilityChange, ReliabilityReason, Worker
from backend.staffing.services.reliability import (
    HistoryItem,
    figures_for,
    newcomer_figures,
    pool_prior,
    rank_score,
    reliability_night,
    reliability_recompute_all,
    worker_reliability_update,
)
from tests.staffing.test_attendance import consistent_world, shift_starting
from tests.staffing.world import pool_worker

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


def test_rank_formula_weighs_reliability_and_quality() -> None:
    assert rank_score(reliability=1.0, quality=10.0) == 100.0
    assert rank_score(reliability=0.0, quality=1.0) == 0.0
    assert rank_score(reliability=0.8, quality=7.0) == 76.0  # 100 x (0.7 x 0.8 + 0.3 x 6/9)
    # Reliability weighs more: a reliable average worker outranks an unreliable excellent one.
    assert rank_score(reliability=0.95, quality=6.0) > rank_score(reliability=0.6, quality=10.0)


def test_quality_is_shrunk_to_a_neutral_seven_and_counts_decay() -> None:
    one_ten = [HistoryItem(at=NOW, came=True, quality=10)]
    figures = figures_for(one_ten, excused=0, now=NOW, prior=(4.0, 1.0), half_life=180)
    # (10 + 3 x 7) / 4 = 7.75 quality; reliability (1 + 4) / (1 + 5) = 0.8333
    assert figures.reliability == 0.8333
    assert figures.rank == rank_score(reliability=0.8333, quality=7.75)
    old_no_show = [HistoryItem(at=NOW - dt.timedelta(days=360), came=False, quality=None)]
    aged = figures_for(old_no_show, excused=0, now=NOW, prior=(4.0, 1.0), half_life=180)
    assert aged.decayed_no_shows == 0.25 and aged.no_shows_count == 1
    assert aged.reliability == round(4 / 5.25, 4)


def _history(worker: Worker, shift, *, came: bool, quality: int | None = None) -> Attendance:
    offer = Offer.objects.create(
        organization_id=shift.organization_id,
        shift=shift,
        worker=worker,
        status=OfferStatus.COMPLETED if came else OfferStatus.NO_SHOW,
    )
    return Attendance.objects.create(
        organization_id=shift.organization_id,
        offer=offer,
        shift=shift,
        worker=worker,
        checked_in_at=shift.starts_at if came else None,
        no_show=not came,
        quality_score=quality,
        hours=Decimal("8") if came else None,
    )


def test_old_no_shows_fade_night_after_night_and_a_second_run_changes_nothing() -> None:
    world = consistent_world(2)
    late, steady = world.workers
    old = shift_starting(world, NOW - dt.timedelta(days=200))
    recent = shift_starting(world, NOW - dt.timedelta(days=2), site_=old.order.site)
    _history(late, old, came=False)
    _history(late, recent, came=True, quality=8)
    _history(steady, recent, came=True, quality=8)

    first = reliability_recompute_all(as_of=NOW)
    late.refresh_from_db()
    year_later = reliability_recompute_all(as_of=NOW + dt.timedelta(days=365))
    late_aged = Worker.objects.get(pk=late.pk)
    again = reliability_recompute_all(as_of=NOW + dt.timedelta(days=365))

    assert first == {"pools": 1, "workers": 2, "changed": 2}
    assert late.no_shows_count == 1 and late.shows_count == 1
    assert late_aged.reliability > late.reliability and late_aged.decayed_no_shows < late.decayed_no_shows
    assert year_later["changed"] >= 1
    assert again["changed"] == 0  # idempotent: the same night twice writes nothing
    change = ReliabilityChange.objects.filter(worker=late, reason=ReliabilityReason.RECOMPUTE).latest("id")
    assert change.reason_text and change.reliability_after == late_aged.reliability


def test_a_pool_with_enough_history_fits_its_own_prior_and_newcomers_start_there() -> None:
    world = consistent_world(0)
    # 40 workers with 12-20 decayed calls each and rates spread between 0.5 and 1.0.
    for i in range(40):
        calls = 12 + i % 9
        rate = 0.5 + (i % 11) / 20
        pool_worker(world.hq, shows=round(calls * rate, 2), no_shows=round(calls * (1 - rate), 2))

    prior = pool_prior(pool_id=world.hq.pk)
    newcomer = newcomer_figures(pool_id=world.hq.pk)

    assert prior != (4.0, 1.0)
    assert newcomer.reliability == round(prior[0] / (prior[0] + prior[1]), 4)
    assert newcomer.rank == rank_score(reliability=newcomer.reliability, quality=7.0)
    # Another pool is untouched by this one's history.
    assert pool_prior(pool_id=world.franchise.pk) == (4.0, 1.0)


def test_an_update_writes_its_reason_and_an_event_even_when_nothing_moved() -> None:
    world = consistent_world(1)
    worker = world.workers[0]

    excused = worker_reliability_update(
        worker_id=worker.pk, reason=ReliabilityReason.EXCUSED, reason_text="sick", now=NOW
    )
    nothing = worker_reliability_update(worker_id=worker.pk, reason=ReliabilityReason.RECOMPUTE, now=NOW)

    assert excused is not None and excused.reliability_before == excused.reliability_after
    assert nothing is None
    assert Event.objects.filter(entity_type="staffing.worker", entity_id=str(worker.pk)).count() == 1


def test_the_night_is_three_in_the_morning_local_time(settings) -> None:
    settings.TIME_ZONE = "Europe/Moscow"
    before = dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)  # 02:30 in Moscow on 2 December
    after = dt.datetime(2026, 12, 2, 0, 30, tzinfo=dt.UTC)  # 03:30
    assert timezone.localtime(reliability_night(before)).date() == dt.date(2026, 12, 1)
    assert reliability_night(after) == dt.datetime(2026, 12, 2, 0, 0, tzinfo=dt.UTC)


def test_the_decay_is_the_solvers_one_definition() -> None:
    from backend.staffing import solver_adapter
    from backend.staffing.services import reliability
    from scheduling_solver import probability

    # One definition: the adapter re-exports the solver's function and reliability has no copy of its own.
    assert solver_adapter.decay_weights is probability.decay_weights
    assert not hasattr(reliability, "decay_weights")


@pytest.mark.django_db(transaction=True)
def test_the_nightly_sweep_queues_one_recomputation_a_night_and_the_worker_runs_it() -> None:
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    from backend.staffing.services.reliability import reliability_nightly_kick
    from backend.staffing.tasks import reliability_recompute_task

    world = consistent_world(1)
    old = shift_starting(world, timezone.now() - dt.timedelta(days=400))
    _history(world.workers[0], old, came=False)
    before = Worker.objects.get(pk=world.workers[0].pk)

    first, second = reliability_nightly_kick(), reliability_nightly_kick()
    call_command("db_worker", "--batch", "--queue-name", "default", "--no-startup-delay", "--worker-id", "night")
    after_run = reliability_nightly_kick()

    assert (first, second, after_run) == (
        {"reliability_recompute_queued": 1},
        {"reliability_recompute_queued": 0},
        {"reliability_recompute_queued": 0},
    )
    [result] = DBTaskResult.objects.filter(task_path=reliability_recompute_task.module_path)
    assert result.status == "SUCCESSFUL" and result.return_value == {"pools": 1, "workers": 1, "changed": 1}
    after = Worker.objects.get(pk=world.workers[0].pk)
    # A no-show 400 days ago weighs about a fifth of one today: reliability is below a newcomer's, not far below.
    assert after.no_shows_count == 1 and 0 < after.decayed_no_shows < 0.25
    assert before.reliability > after.reliability > 0.75


def test_the_half_life_is_a_setting(settings) -> None:
    world = consistent_world(1)
    old = shift_starting(world, NOW - dt.timedelta(days=90))
    _history(world.workers[0], old, came=False)

    settings.STAFFING_RELIABILITY_HALF_LIFE_DAYS = 30
    short = worker_reliability_update(worker_id=world.workers[0].pk, reason=ReliabilityReason.MANUAL, now=NOW)
    settings.STAFFING_RELIABILITY_HALF_LIFE_DAYS = 365
    long = worker_reliability_update(worker_id=world.workers[0].pk, reason=ReliabilityReason.MANUAL, now=NOW)

    assert short is not None and long is not None
    # 90 days is three half-lives of 30 (weight 1/8) but a quarter of 365 (weight ~0.84): the no-show weighs more.
    assert Worker.objects.get(pk=world.workers[0].pk).decayed_no_shows == round(2 ** (-90 / 365), 4)
    assert long.reliability_after < short.reliability_after
