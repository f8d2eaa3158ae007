"""Dispatch: confirming an order queues a solver run; the run plans from the pool through the adapter and turns
the plan into offers (called list offered at once, standby kept in order), with the reasons stored."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tasks_db.models import DBTaskResult

from backend.notifications.models import Channel, OutboxMessage
from backend.staffing.models import (
    DispatchOverride,
    Offer,
    OfferStatus,
    OrderStatus,
    SolverRun,
    SolverRunStatus,
    WorkerStatus,
)
from backend.staffing.services.dispatch import dispatch_override_set, dispatch_rerun, dispatch_run_execute, dispatch_why
from backend.staffing.services.orders import order_confirm
from tests.staffing.world import dispatch_world, pool_worker

pytestmark = pytest.mark.django_db


def _confirm_and_run(world) -> SolverRun:
    order = order_confirm(user=world.dispatcher, order_id=world.extra["order"].pk)
    run = SolverRun.objects.get(order=order)
    done = dispatch_run_execute(run_id=run.pk)
    assert done is not None
    return done


def test_confirming_queues_one_solver_run_and_its_task() -> None:
    world = dispatch_world()
    order = order_confirm(user=world.dispatcher, order_id=world.extra["order"].pk)
    run = SolverRun.objects.get(order=order)
    assert (order.status, run.status, run.kind) == (OrderStatus.CONFIRMED, SolverRunStatus.QUEUED, "plan")
    task = DBTaskResult.objects.get(id=run.task_id)
    assert task.task_path.endswith("dispatch_run_task") and task.args_kwargs["kwargs"] == {"run_id": run.pk}
    assert not Offer.objects.exists()  # nobody is called inside the request


def test_a_run_plans_the_shift_and_offers_the_called_list_in_order() -> None:
    world = dispatch_world(n_workers=12, headcount=3)
    run = _confirm_and_run(world)
    shift = world.extra["shift"]
    shift.refresh_from_db()
    assert run.status == SolverRunStatus.SUCCEEDED
    assert run.input["shifts"][0]["id"] == f"s{shift.pk}" and len(run.input["workers"]) == 12
    called = run.output["shifts"][f"s{shift.pk}"]["called"]
    # Over-booking: more calls than places, capped by the solver's call ratio.
    assert shift.headcount < len(called) <= 8 and shift.call_cap == len(called)
    offered = Offer.objects.filter(shift=shift, status=OfferStatus.OFFERED).order_by("position")
    assert [f"w{o.worker_id}" for o in offered] == called
    assert all(o.wave == 1 and o.expires_at is not None and not o.is_standby for o in offered)
    standby = Offer.objects.filter(shift=shift, status=OfferStatus.STANDBY)
    assert standby.exists() and all(o.is_standby and o.offered_at is None for o in standby)
    assert shift.offered_count == len(called)
    assert run.figures["shifts"][str(shift.pk)]["called"] == len(called)
    assert 0 < run.figures["shifts"][str(shift.pk)]["fill_probability"] <= 1
    # One message per offered worker, by SMS (none linked Telegram), each naming its offer.
    messages = OutboxMessage.objects.filter(payload__kind="staffing.offer")
    assert sorted(m.payload["offer_id"] for m in messages) == sorted(o.pk for o in offered)
    assert {m.channel for m in messages} == {Channel.SMS}
    world.extra["order"].refresh_from_db()
    assert world.extra["order"].status == OrderStatus.IN_PROGRESS


def test_why_called_gives_probability_rank_and_distance_per_worker() -> None:
    world = dispatch_world(n_workers=6, headcount=2)
    _confirm_and_run(world)
    rows = dispatch_why(order=world.extra["order"])
    assert rows and all(0 < r["show_probability"] < 1 and r["distance_km"] > 0 for r in rows)
    # the nearest worker lives 1 km north of the site
    assert min(r["distance_km"] for r in rows) == pytest.approx(1.0, abs=0.05)


def test_a_run_twice_changes_nothing_the_second_time() -> None:
    world = dispatch_world()
    run = _confirm_and_run(world)
    offers = list(Offer.objects.values_list("id", "status", "wave"))
    assert dispatch_run_execute(run_id=run.pk) is None
    assert list(Offer.objects.values_list("id", "status", "wave")) == offers


def test_unavailable_suspended_and_busy_workers_are_not_called() -> None:
    world = dispatch_world(n_workers=4, headcount=1)
    lazy = pool_worker(world.hq, km_north=0.1)  # closest of all, but declared no time
    suspended = world.workers[0]
    suspended.status = WorkerStatus.SUSPENDED
    suspended.save()
    run = _confirm_and_run(world)
    ids = {w["id"] for w in run.input["workers"]}
    assert f"w{lazy.pk}" not in ids and f"w{suspended.pk}" not in ids
    assert not Offer.objects.filter(worker__in=[lazy, suspended]).exists()


def test_a_franchise_plans_from_its_hq_pool_only() -> None:
    world = dispatch_world(n_workers=3, headcount=1)
    sibling = world.franchise.__class__.objects.create(name="Sibling", kind="staffing_agency", parent=world.hq)
    outsider_pool = pool_worker(sibling)  # a worker of the sibling's own pool: not ours
    run = _confirm_and_run(world)
    ids = {w["id"] for w in run.input["workers"]}
    assert f"w{outsider_pool.pk}" not in ids and len(ids) == 3


def test_excluding_a_worker_withdraws_their_offer_at_the_rerun_and_pinning_calls_them() -> None:
    world = dispatch_world(n_workers=10, headcount=2)
    _confirm_and_run(world)
    shift = world.extra["shift"]
    first = Offer.objects.filter(shift=shift, status=OfferStatus.OFFERED).order_by("position").first()
    last_standby = Offer.objects.filter(shift=shift, status=OfferStatus.STANDBY).order_by("-position").first()
    assert first is not None and last_standby is not None
    dispatch_override_set(user=world.dispatcher, order_id=shift.order_id, worker_id=first.worker_id, kind="exclude")
    dispatch_override_set(user=world.dispatcher, order_id=shift.order_id, worker_id=last_standby.worker_id, kind="pin")
    rerun = SolverRun.objects.filter(order_id=shift.order_id, status=SolverRunStatus.QUEUED).get()
    dispatch_run_execute(run_id=rerun.pk)
    first.refresh_from_db()
    last_standby.refresh_from_db()
    assert first.status == OfferStatus.WITHDRAWN
    assert last_standby.status == OfferStatus.OFFERED and last_standby.pinned and last_standby.wave == 2
    assert DispatchOverride.objects.count() == 2
    assert OutboxMessage.objects.filter(payload__kind="staffing.withdrawn", payload__offer_id=first.pk).exists()


def test_rerun_keeps_accepted_places() -> None:
    from backend.staffing.services.offers import offer_accept

    world = dispatch_world(n_workers=10, headcount=2)
    _confirm_and_run(world)
    shift = world.extra["shift"]
    taker = Offer.objects.filter(shift=shift, status=OfferStatus.OFFERED).order_by("position").last()
    offer_accept(user=taker.worker.user, offer_id=taker.pk)
    run = dispatch_rerun(user=world.dispatcher, order_id=shift.order_id)
    dispatch_run_execute(run_id=run.pk)
    taker.refresh_from_db()
    shift.refresh_from_db()
    assert taker.status == OfferStatus.ACCEPTED and shift.accepted_count == 1
    run.refresh_from_db()
    assert f"s{shift.pk}" in next(w for w in run.input["workers"] if w["id"] == f"w{taker.worker_id}")["fixed"]


def test_rerun_is_refused_while_a_run_is_queued() -> None:
    world = dispatch_world()
    order_confirm(user=world.dispatcher, order_id=world.extra["order"].pk)
    from backend.core.exceptions import ApplicationError

    with pytest.raises(ApplicationError) as caught:
        dispatch_rerun(user=world.dispatcher, order_id=world.extra["order"].pk)
    assert caught.value.code == "dispatch_running" and SolverRun.objects.count() == 1


def test_workers_holding_another_place_at_that_time_are_not_available() -> None:
    world = dispatch_world(n_workers=3, headcount=1)
    shift = world.extra["shift"]
    # another order of the same day already holds worker 0
    from tests.staffing.world import order_with_shift

    _, other = order_with_shift(
        world.franchise, day=shift.date, call_cap=1, status=OrderStatus.IN_PROGRESS, site_=world.extra["site"]
    )
    Offer.objects.create(
        organization=world.franchise, shift=other, worker=world.workers[0], status=OfferStatus.ACCEPTED
    )
    run = _confirm_and_run(world)
    busy = next(w for w in run.input["workers"] if w["id"] == f"w{world.workers[0].pk}")
    # The free day minus the other shift and an hour's rest either side: 00:00-07:00 and 21:00-24:00.
    day = dt.datetime.combine(shift.date, dt.time(0), tzinfo=dt.UTC)
    assert busy["available"] == [
        [day.isoformat(), (day + dt.timedelta(hours=7)).isoformat()],
        [(day + dt.timedelta(hours=21)).isoformat(), (day + dt.timedelta(hours=24)).isoformat()],
    ]
    assert not Offer.objects.filter(shift=shift, worker=world.workers[0]).exists()


def test_only_the_adapter_imports_the_solver() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    importers = []
    for path in (root / "backend").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "scheduling_solver" or n.startswith("scheduling_solver.") for n in names):
                importers.append(path.relative_to(root).as_posix())
    assert sorted(set(importers)) == ["backend/staffing/solver_adapter.py"]


def test_a_run_keeps_its_build_and_solve_times() -> None:
    world = dispatch_world(n_workers=8, headcount=2)
    order = order_confirm(user=world.dispatcher, order_id=world.extra["order"].pk)
    run = dispatch_run_execute(run_id=SolverRun.objects.get(order=order).pk)
    assert run is not None
    stored = SolverRun.objects.get(pk=run.pk)
    assert stored.status == SolverRunStatus.SUCCEEDED
    assert stored.build_s is not None and stored.build_s > 0
    assert stored.solve_s is not None and stored.solve_s > 0
