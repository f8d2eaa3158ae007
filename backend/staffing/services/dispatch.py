"""Dispatch: from a confirmed order to ranked call-ups, through the solver adapter, in a background task.

1. ``dispatch_enqueue`` (with the order's confirmation, a re-run, a pin or an exclusion) stores a queued
   ``SolverRun`` and enqueues the task in the same transaction.
2. ``dispatch_run_execute`` (the task) builds the instance from the pool: each active worker's decayed show
   history, rank, home, declared availability minus the places they already hold elsewhere, the dispatcher's pins
   and exclusions, and the Beta prior fitted to the whole pool's histories; it solves outside any transaction
   (seconds), then applies the plan in one: each shift's planned call count, the called list offered at once in
   plan order (wave 1), the standby list kept in order for declines and time-outs (``services.offers``).
3. A re-run keeps what workers already answered: holders of a place are fixed, decliners excluded for that
   shift; waiting offers the new plan drops are withdrawn.

"Why called" is stored on each offer (show probability, rank, distance, position, standby or pinned) and in the
run's figures per shift (expected attendance, fill probability, expected cost).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.clock import clock_now
from backend.core.cursors import CursorValueType, keyset_page
from backend.core.events import event_record, snapshot
from backend.core.exceptions import Conflict
from backend.core.models import EventAction
from backend.organizations.permissions import Perm
from backend.organizations.selectors import tenant_row_for_change
from backend.staffing import solver_adapter as adapter
from backend.staffing.exceptions import StaffingErrorCode
from backend.staffing.models import (
    OFFER_HOLDS_PLACE,
    DispatchOverride,
    DispatchOverrideKind,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Shift,
    ShiftStatus,
    SolverRun,
    SolverRunKind,
    SolverRunStatus,
    Worker,
    WorkerAvailability,
    WorkerStatus,
)
from backend.staffing.selectors import pool_owner_id, pool_worker_get
from backend.staffing.services.board import publish_board
from backend.staffing.services.offers import offer_withdraw_many, offers_send

#: Offers a re-plan must not call again for that shift.
ANSWERED_NO = (OfferStatus.DECLINED, OfferStatus.EXPIRED, OfferStatus.RELEASED, OfferStatus.NO_SHOW)
#: Offers a re-plan may replace (nobody holds a place with them yet).
REPLACEABLE = (OfferStatus.OFFERED, OfferStatus.STANDBY)
LIVE_RUN = (SolverRunStatus.QUEUED, SolverRunStatus.RUNNING)
#: A run found RUNNING this long after it started lost its worker (killed): the re-queued task may take it again.
RUN_LOST_AFTER = dt.timedelta(minutes=10)
DISPATCHABLE = (OrderStatus.CONFIRMED, OrderStatus.IN_PROGRESS)


# --- queueing -------------------------------------------------------------------------------------------------


def dispatch_enqueue(*, order: Order, user: Any, kind: str = SolverRunKind.PLAN) -> SolverRun:
    """Queue a solver run for ``order`` (locked by the caller) and its task, in the caller's transaction."""
    from backend.staffing.tasks import dispatch_run_task

    run = SolverRun.objects.create(
        organization_id=order.organization_id,
        order=order,
        kind=kind,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
    )
    result = dispatch_run_task.enqueue(run_id=run.pk)
    run.task_id = str(result.id)[:64]
    run.save(update_fields=["task_id", "updated_at"])
    event_record(entity=run, action=EventAction.CREATE, actor=user, after={"kind": kind, "order": order.pk})
    return run


def _refuse_unless_dispatchable(order: Order) -> None:
    if order.status not in DISPATCHABLE:
        raise Conflict(_("Only a confirmed order can be dispatched."), code=StaffingErrorCode.ORDER_NOT_CONFIRMED)
    if SolverRun.objects.filter(order=order, status__in=LIVE_RUN).exists():
        raise Conflict(
            _("A plan for this order is being made; try again in a moment."),
            code=StaffingErrorCode.DISPATCH_RUNNING,
        )


@transaction.atomic
def dispatch_rerun(*, user: Any, order_id: int) -> SolverRun:
    """A dispatcher asks for a new plan of a confirmed order; answers already given are kept. 409
    ``dispatch_running`` while a plan is being made, ``order_not_confirmed`` for a draft or closed order."""
    order = tenant_row_for_change(Order, order_id, user=user, perm=Perm.STAFFING_MANAGE)
    _refuse_unless_dispatchable(order)
    return dispatch_enqueue(order=order, user=user, kind=SolverRunKind.RERUN)


@transaction.atomic
def dispatch_override_set(*, user: Any, order_id: int, worker_id: int, kind: str | None) -> DispatchOverride | None:
    """Pin a pool worker to an order (always called where eligible), exclude them (never called; a waiting offer
    is withdrawn at the next plan) or clear the override (``kind=None``). A confirmed order is re-planned."""
    order = tenant_row_for_change(Order, order_id, user=user, perm=Perm.STAFFING_MANAGE)
    worker = pool_worker_get(user=user, worker_id=worker_id)
    if worker.organization_id != pool_owner_id(order.organization_id):
        raise Conflict(
            _("This worker is not in the pool this order is dispatched from."), code=StaffingErrorCode.INVALID_REFERENCE
        )
    existing = DispatchOverride.objects.select_for_update().filter(order=order, worker=worker).first()
    before = {"kind": existing.kind} if existing else None
    result: DispatchOverride | None
    if kind is None:
        if existing is not None:
            event_record(entity=existing, action=EventAction.DELETE, actor=user, before=before)
            existing.delete()
        result = None
    else:
        result, _created = DispatchOverride.objects.update_or_create(
            order=order,
            worker=worker,
            defaults={"organization_id": order.organization_id, "kind": kind, "created_by": user},
        )
        event_record(
            entity=result,
            action=EventAction.UPDATE if existing else EventAction.CREATE,
            actor=user,
            before=before,
            after={"kind": kind, "worker": worker.pk},
        )
    if order.status in DISPATCHABLE and not SolverRun.objects.filter(order=order, status__in=LIVE_RUN).exists():
        dispatch_enqueue(order=order, user=user, kind=SolverRunKind.RERUN)
    return result


# --- building the instance --------------------------------------------------------------------------------------


def _subtract(
    windows: Iterable[tuple[dt.datetime, dt.datetime]], busy: Sequence[tuple[dt.datetime, dt.datetime]]
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Windows minus busy intervals (both sorted lists of (start, end))."""
    out: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in windows:
        pieces = [(start, end)]
        for b_start, b_end in busy:
            nxt: list[tuple[dt.datetime, dt.datetime]] = []
            for a, b in pieces:
                if b_end <= a or b_start >= b:
                    nxt.append((a, b))
                    continue
                if a < b_start:
                    nxt.append((a, b_start))
                if b_end < b:
                    nxt.append((b_end, b))
            pieces = nxt
        out.extend(pieces)
    return out


@dataclass
class BuiltInstance:
    document: dict[str, Any]
    figures: dict[str, Any]


def dispatch_instance_build(*, order: Order, now: dt.datetime | None = None) -> BuiltInstance:
    """The solver instance for an order's open future shifts, from the pool its organization dispatches from."""
    now = now or clock_now()
    rest = dt.timedelta(minutes=60)
    site = order.site
    shifts = list(Shift.objects.filter(order=order, status=ShiftStatus.OPEN, starts_at__gt=now).order_by("starts_at"))
    pool_id = pool_owner_id(order.organization_id)
    histories = list(Worker.objects.filter(organization_id=pool_id).values_list("decayed_shows", "decayed_no_shows"))
    prior = adapter.prior_fit(histories)
    if not shifts:
        document = adapter.instance_build(workers=[], shifts=[], prior=prior, time_limit_s=1.0, standby_size=0)
        return BuiltInstance(document, {"prior": list(prior), "workers": 0, "shifts": 0})
    first, last = shifts[0].starts_at, max(s.ends_at for s in shifts)
    shift_ids = [s.pk for s in shifts]
    overrides = dict(DispatchOverride.objects.filter(order=order).values_list("worker_id", "kind"))
    excluded_workers = {w for w, k in overrides.items() if k == DispatchOverrideKind.EXCLUDE}
    pinned = {w for w, k in overrides.items() if k == DispatchOverrideKind.PIN}

    own_offers = list(Offer.objects.filter(shift_id__in=shift_ids).values_list("worker_id", "shift_id", "status"))
    holders: dict[int, list[int]] = {}
    answered_no: dict[int, list[int]] = {}
    for worker_id, shift_id, status in own_offers:
        if status in OFFER_HOLDS_PLACE:
            holders.setdefault(worker_id, []).append(shift_id)
        elif status in ANSWERED_NO:
            answered_no.setdefault(worker_id, []).append(shift_id)

    windows: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for worker_id, a, b in (
        WorkerAvailability.objects.filter(worker__organization_id=pool_id, starts_at__lt=last, ends_at__gt=first)
        .order_by("worker_id", "starts_at")
        .values_list("worker_id", "starts_at", "ends_at")
    ):
        windows.setdefault(worker_id, []).append((a, b))
    # Places already held on other orders (existing commitments), padded by the rest between shifts.
    busy: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for worker_id, a, b in (
        Offer.objects.filter(
            worker__organization_id=pool_id,
            status__in=OFFER_HOLDS_PLACE,
            shift__starts_at__lt=last + rest,
            shift__ends_at__gt=first - rest,
        )
        .exclude(shift__order=order)
        .order_by("worker_id", "shift__starts_at")
        .values_list("worker_id", "shift__starts_at", "shift__ends_at")
    ):
        busy.setdefault(worker_id, []).append((a - rest, b + rest))

    by_id = {s.pk: s for s in shifts}
    candidates = Worker.objects.filter(
        organization_id=pool_id, home_latitude__isnull=False, home_longitude__isnull=False
    ).filter(pk__in=set(windows) | set(holders))
    workers_in: list[adapter.WorkerIn] = []
    skipped_suspended = 0
    for w in candidates.order_by("pk"):
        held = holders.get(w.pk, [])
        if w.pk in excluded_workers and not held:
            continue
        if w.status != WorkerStatus.ACTIVE and not held:
            skipped_suspended += 1
            continue
        free = _subtract(windows.get(w.pk, []), busy.get(w.pk, []))
        # A place already held is the worker's own commitment: they are available for it.
        free += [(by_id[s].starts_at, by_id[s].ends_at) for s in held]
        fixed = list(held)
        if w.pk in pinned:
            fixed += [
                s.pk
                for s in shifts
                if s.pk not in fixed
                and s.pk not in answered_no.get(w.pk, [])
                and set(order.skills) <= set(w.skills)
                and any(a <= s.starts_at and s.ends_at <= b for a, b in free)
            ]
        workers_in.append(
            adapter.WorkerIn(
                worker_id=w.pk,
                rank=w.rank,
                shows=w.decayed_shows,
                no_shows=w.decayed_no_shows,
                skills=list(w.skills),
                location=(float(w.home_latitude), float(w.home_longitude)),  # type: ignore[arg-type]
                available=sorted(free),
                max_shifts_per_day=w.max_shifts_per_day,
                fixed=fixed,
                excluded=answered_no.get(w.pk, []),
            )
        )
    location = (float(site.latitude), float(site.longitude))
    shifts_in = [
        adapter.ShiftIn(
            shift_id=s.pk,
            start=s.starts_at,
            end=s.ends_at,
            headcount=s.headcount,
            skills=list(order.skills),
            location=location,
        )
        for s in shifts
    ]
    standby = max(5, max(s.headcount for s in shifts) // 2)
    document = adapter.instance_build(
        workers=workers_in,
        shifts=shifts_in,
        prior=prior,
        time_limit_s=settings.STAFFING_SOLVER_TIME_LIMIT_S,
        standby_size=standby,
        seed=order.pk,
    )
    figures = {
        "prior": list(prior),
        "workers": len(workers_in),
        "shifts": len(shifts_in),
        "pinned": sorted(pinned),
        "excluded": sorted(excluded_workers),
        "not_active": skipped_suspended,
    }
    return BuiltInstance(document, figures)


# --- running and applying ---------------------------------------------------------------------------------------


def _claim(run_id: int, now: dt.datetime) -> bool:
    claimable = SolverRun.objects.filter(pk=run_id, status=SolverRunStatus.QUEUED) | SolverRun.objects.filter(
        pk=run_id, status=SolverRunStatus.RUNNING, started_at__lt=now - RUN_LOST_AFTER
    )
    return bool(
        SolverRun.objects.filter(pk__in=claimable.values("pk")).update(
            status=SolverRunStatus.RUNNING, started_at=now, updated_at=timezone.now()
        )
    )


def _fail(run: SolverRun, status: str, error: str) -> SolverRun:
    run.status = status
    run.error = error[:4000]
    run.finished_at = clock_now()
    run.save(update_fields=["status", "error", "finished_at", "updated_at"])
    return run


def dispatch_run_execute(*, run_id: int) -> SolverRun | None:
    """Run a queued solver run (the task's body): build, solve outside a transaction, apply in one. Idempotent: a
    run already taken or finished is left alone (None). An infeasible plan or a failure is stored on the run."""
    started = clock_now()
    if not _claim(run_id, started):
        return None
    run = SolverRun.objects.select_related("order__site__organization").get(pk=run_id)
    order = run.order
    if order.status not in DISPATCHABLE:
        return _fail(run, SolverRunStatus.FAILED, "order is no longer confirmed")
    t0 = time.perf_counter()
    try:
        built = dispatch_instance_build(order=order, now=started)
        build_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        plan = adapter.plan_solve(built.document)
        solve_s = time.perf_counter() - t1
    except adapter.SolverInputError as exc:
        return _fail(run, SolverRunStatus.FAILED, f"instance refused: {exc}")
    run.input = built.document
    run.build_s, run.solve_s = round(build_s, 4), round(solve_s, 4)
    # Stored now: dispatch_plan_apply re-reads the run under its lock and saves that row.
    run.save(update_fields=["input", "build_s", "solve_s", "updated_at"])
    return dispatch_plan_apply(run_id=run.pk, plan=plan, figures=built.figures, instance=built.document)


def _why(worker: Worker, site_point: tuple[float, float], prior: Sequence[float]) -> dict[str, Any]:
    home = (float(worker.home_latitude or 0), float(worker.home_longitude or 0))
    return {
        "show_probability": round(adapter.probability_of_show(worker.decayed_shows, worker.decayed_no_shows, prior), 4),
        "worker_rank": round(worker.rank, 2),
        "distance_km": round(adapter.distance_km(home, site_point), 2) if worker.home_latitude is not None else None,
    }


@transaction.atomic
def dispatch_plan_apply(
    *,
    run_id: int,
    plan: adapter.PlanOut,
    figures: dict[str, Any],
    instance: dict[str, Any],
    now: dt.datetime | None = None,
) -> SolverRun:
    """Store a plan on its run and turn it into offers (see the module's docstring). The order and its shifts are
    locked, in that order, so a concurrent accept waits or sees the new call count."""
    now = now or clock_now()
    run = SolverRun.objects.select_for_update().get(pk=run_id)
    order = Order.objects.select_for_update().select_related("site").get(pk=run.order_id)
    run.input = instance
    run.output = plan.solution
    run.finished_at = now
    per_shift: dict[str, Any] = {}
    run.figures = {
        **figures,
        "status": plan.status,
        "wall_s": plan.wall_s,
        "totals": plan.totals,
        "reasons": plan.reasons,
        "shifts": per_shift,
    }
    if plan.status == "infeasible":
        run.status = SolverRunStatus.INFEASIBLE
        run.error = "; ".join(plan.reasons)[:4000]
        run.save()
        event_record(entity=run, action=EventAction.STATUS, after={"status": run.status})
        return run
    if order.status not in DISPATCHABLE:
        run.status, run.error = SolverRunStatus.FAILED, "order is no longer confirmed"
        run.save()
        return run
    prior = figures.get("prior", list(adapter.DEFAULT_PRIOR))
    site_point = (float(order.site.latitude), float(order.site.longitude))
    shifts = {s.pk: s for s in Shift.objects.select_for_update().filter(pk__in=list(plan.plans)).order_by("pk")}
    worker_ids = {w for p in plan.plans.values() for w in (*p.called, *p.standby)}
    workers = {w.pk: w for w in Worker.objects.select_related("user").filter(pk__in=worker_ids)}
    pinned = set(
        DispatchOverride.objects.filter(order=order, kind=DispatchOverrideKind.PIN).values_list("worker_id", flat=True)
    )
    sent_total = 0
    for shift_id, shift_plan in sorted(plan.plans.items()):
        shift = shifts.get(shift_id)
        if shift is None or shift.status != ShiftStatus.OPEN or shift.starts_at <= now:
            continue
        existing = {
            o.worker_id: o for o in Offer.objects.select_related("worker__user", "shift__order").filter(shift=shift)
        }
        to_offer: list[Offer] = []
        planned: set[int] = set()
        for lists_standby, ids in ((False, shift_plan.called), (True, shift_plan.standby)):
            for position, worker_id in enumerate(ids, start=1):
                planned.add(worker_id)
                why = _why(workers[worker_id], site_point, prior)
                offer = existing.get(worker_id)
                if offer is None:
                    offer = Offer.objects.create(
                        organization_id=order.organization_id,
                        shift=shift,
                        worker=workers[worker_id],
                        solver_run=run,
                        position=position,
                        is_standby=lists_standby,
                        pinned=worker_id in pinned,
                        status=OfferStatus.STANDBY,
                        **why,
                    )
                    offer.worker = workers[worker_id]
                    event_record(
                        entity=offer,
                        action=EventAction.CREATE,
                        after={"status": offer.status, "standby": lists_standby, **why},
                    )
                    if not lists_standby:
                        to_offer.append(offer)
                    continue
                if offer.status in ANSWERED_NO:
                    continue
                offer.solver_run, offer.position, offer.pinned = run, position, worker_id in pinned
                offer.show_probability, offer.worker_rank = why["show_probability"], why["worker_rank"]
                offer.distance_km = why["distance_km"]
                if offer.status == OfferStatus.WITHDRAWN:  # dropped by an earlier plan, called again now
                    offer.status, offer.offered_at, offer.expires_at = OfferStatus.STANDBY, None, None
                if offer.status in REPLACEABLE:
                    offer.is_standby = lists_standby
                    if not lists_standby and offer.status == OfferStatus.STANDBY:
                        to_offer.append(offer)
                offer.save()
        dropped = [o for w, o in existing.items() if w not in planned and o.status in REPLACEABLE]
        if dropped:
            offer_withdraw_many(offers=dropped, actor=None, reason=_("the plan changed"), now=now)
        shift.call_cap = max(len(shift_plan.called), shift.accepted_count)
        shift.expected_attendance = shift_plan.expected_attendance
        shift.fill_probability = shift_plan.fill_probability
        shift.save(update_fields=["call_cap", "expected_attendance", "fill_probability", "updated_at"])
        wave = (Offer.objects.filter(shift=shift).aggregate(w=Max("wave"))["w"] or 0) + 1
        sent_total += offers_send(shift=shift, offers=to_offer, wave=wave, now=now)
        per_shift[str(shift.pk)] = {
            "headcount": shift.headcount,
            "called": len(shift_plan.called),
            "standby": len(shift_plan.standby),
            "expected_attendance": round(shift_plan.expected_attendance, 3),
            "fill_probability": round(shift_plan.fill_probability, 4),
            "expected_cost": round(shift_plan.expected_cost, 3),
        }
    run.figures["offers_sent"] = sent_total
    run.status = SolverRunStatus.SUCCEEDED
    run.save()
    publish_board(shifts)  # the planned call counts moved
    if order.status == OrderStatus.CONFIRMED:
        order.status = OrderStatus.IN_PROGRESS
        order.save(update_fields=["status", "updated_at"])
        event_record(
            entity=order,
            action=EventAction.STATUS,
            before={"status": OrderStatus.CONFIRMED},
            after={"status": order.status},
        )
    event_record(entity=run, action=EventAction.STATUS, after={"status": run.status, "offers_sent": sent_total})
    return run


def _why_offers(order: Order) -> QuerySet[Offer]:
    return Offer.objects.filter(shift__order=order).select_related("worker__user", "shift")


def _why_row(o: Offer) -> dict[str, Any]:
    return {
        "offer_id": o.pk,
        "shift_id": o.shift_id,
        "worker_id": o.worker_id,
        "worker_name": o.worker.user.get_full_name() or o.worker.user.phone,
        "status": o.status,
        "position": o.position,
        "is_standby": o.is_standby,
        "pinned": o.pinned,
        "wave": o.wave,
        "show_probability": o.show_probability,
        "worker_rank": o.worker_rank,
        "distance_km": o.distance_km,
    }


#: Plan order per shift: the shift's start, the called list before the standby one, the place in the plan.
WHY_KEYS: tuple[tuple[str, CursorValueType], ...] = (
    ("shift__starts_at", dt.datetime),
    ("is_standby", bool),
    ("position", int),
)


def dispatch_why(*, order: Order) -> list[dict[str, Any]]:
    """Why each planned worker was called (or stands by): the figures the plan used, in plan order per shift."""
    rows = _why_offers(order).order_by("shift__starts_at", "is_standby", "position", "id")
    return [_why_row(o) for o in rows]


def dispatch_why_page(*, order: Order, cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """One page of :func:`dispatch_why` (same order, by keyset) and the cursor of the next, None on the last."""
    rows, next_cursor = keyset_page(_why_offers(order), sort="staffing.why", keys=WHY_KEYS, cursor=cursor, limit=limit)
    return [_why_row(o) for o in rows], next_cursor


def dispatch_snapshot(run: SolverRun) -> dict[str, Any]:
    """A run's headline figures (for events and lists)."""
    return {**snapshot(run, ("kind", "status", "build_s", "solve_s")), "figures": run.figures}
