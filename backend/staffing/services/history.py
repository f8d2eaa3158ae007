"""Past orders recorded at once (an import from the previous system, the demo's history): each one-day order was
placed, planned, offered, answered, confirmed and lived already, so there is no task to queue, no call-up to send
and no board to tell. What still holds is what the live path would have stored: the order and its shift with the
counters the offers imply, the plan's solver run, every call-up with its final status and business stamps, the
attendance (hours and money frozen as at check-out) and the reliability and rank effects of each show, score and
no-show, computed in the order the live foreman's marks come (per order, per call-up in plan order), each with
the pool prior of that moment and its ``ReliabilityChange`` row.

Rules checked for the whole batch (all or nothing): the caller manages each site's organization, the order's dates,
window, headcount and rates pass ``order_create``'s checks as of the moment it was placed, the workers are in the
site's pool, every stamp is in order and over by ``now``, the held places fit the planned call count, and no worker
holds two places closer than the rest between shifts (within the batch or against stored places).

Events: one create event per order, call-up and attendance carrying the final state (note ``history``) and one
update event per worker whose figures moved; the live path writes one per step."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.clock import clock_now
from backend.core.events import event_record_many, snapshot
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.organizations.permissions import Perm
from backend.organizations.selectors import tenant_row_for_change
from backend.staffing import solver_adapter as adapter
from backend.staffing.exceptions import StaffingErrorCode
from backend.staffing.models import (
    OFFER_HOLDS_PLACE,
    Attendance,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    ReliabilityChange,
    ReliabilityReason,
    Shift,
    Site,
    SolverRun,
    SolverRunKind,
    SolverRunStatus,
    Worker,
    WorkerStatus,
)
from backend.staffing.selectors import pool_owner_id

from .attendance import ATTENDANCE_FIELDS
from .money import amounts, worked_hours
from .offers import MIN_REST
from .orders import ORDER_FIELDS, _order_check, _site_zone, shift_times
from .pool import skills_clean
from .reliability import SNAPSHOT_FIELDS, Figures, HistoryItem, _histories, figures_for, reliability_half_life_days

MAX_PAST_ORDERS = 500
#: Final states of a past call-up (nothing is waiting for an answer any more).
PAST_STATUSES = frozenset(
    {
        OfferStatus.STANDBY,
        OfferStatus.DECLINED,
        OfferStatus.EXPIRED,
        OfferStatus.WITHDRAWN,
        OfferStatus.RELEASED,
        OfferStatus.COMPLETED,
        OfferStatus.NO_SHOW,
    }
)
#: Call-ups that held a place on the day (a no-show held it until the shift).
HELD = frozenset({*OFFER_HOLDS_PLACE, OfferStatus.NO_SHOW})
OFFER_EVENT_FIELDS = (
    "status",
    "wave",
    "position",
    "is_standby",
    "show_probability",
    "worker_rank",
    "distance_km",
    "offered_at",
    "responded_at",
    "confirmed_at",
    "released_at",
)


@dataclass(frozen=True)
class PastCall:
    """One call-up as it ended. ``sends``: how many times it was offered (a standby offered again counts twice);
    ``offered_at`` / ``expires_at`` / ``wave`` are the last offer's. A completed one has its check-in and check-out
    (at the site), maybe a score given at ``rated_at``; a no-show its mark at ``marked_at``."""

    worker_id: int
    position: int
    is_standby: bool
    status: str
    show_probability: float = 0.0
    worker_rank: float = 0.0
    wave: int = 0
    sends: int = 0
    offered_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    responded_at: dt.datetime | None = None
    confirm_requested_at: dt.datetime | None = None
    confirmed_at: dt.datetime | None = None
    released_at: dt.datetime | None = None
    checked_in_at: dt.datetime | None = None
    checked_out_at: dt.datetime | None = None
    quality_score: int | None = None
    rated_at: dt.datetime | None = None
    marked_at: dt.datetime | None = None


@dataclass(frozen=True)
class PastOrder:
    """A one-day order that happened: placed (created and confirmed) at ``placed_at``, planned at ``planned_at``
    (the plan's call count and figures), and its call-ups in the plan's order."""

    site_id: int
    title: str
    date: dt.date
    shift_start: dt.time
    shift_end: dt.time
    headcount: int
    pay_rate: Decimal
    bill_rate: Decimal
    placed_at: dt.datetime
    planned_at: dt.datetime
    call_cap: int
    calls: Sequence[PastCall]
    skills: Sequence[str] = ()
    expected_attendance: float = 0.0
    fill_probability: float = 0.0
    #: The plan as the solver returned it (the run's output) and the figures a live run stores.
    solution: Mapping[str, Any] = field(default_factory=dict)
    figures: Mapping[str, Any] = field(default_factory=dict)
    instance: Mapping[str, Any] = field(default_factory=dict)


def _invalid(field_name: str, message: str, code: str = StaffingErrorCode.INVALID_DATES) -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={field_name: [message]})


def _call_check(call: PastCall, starts: dt.datetime, ends: dt.datetime, now: dt.datetime) -> None:
    if call.status not in PAST_STATUSES:
        raise _invalid("status", _("A past call-up ended: it is not waiting for an answer or a shift any more."))
    stamps = [
        s
        for s in (
            call.offered_at,
            call.expires_at,
            call.responded_at,
            call.confirm_requested_at,
            call.confirmed_at,
            call.released_at,
            call.checked_out_at,
            call.rated_at,
            call.marked_at,
        )
        if s is not None
    ]
    if any(s.tzinfo is None for s in stamps) or any(s > now for s in stamps):
        raise _invalid("offered_at", _("Every moment of a past call-up is over and carries its UTC offset."))
    if call.status in (OfferStatus.COMPLETED, OfferStatus.NO_SHOW, OfferStatus.RELEASED, OfferStatus.DECLINED) and (
        call.offered_at is None or (call.responded_at is None and call.status != OfferStatus.RELEASED)
    ):
        raise _invalid("offered_at", _("A call-up that was answered was offered first."))
    if call.status == OfferStatus.COMPLETED:
        if call.checked_in_at is None or call.checked_out_at is None or call.checked_out_at < call.checked_in_at:
            raise _invalid("checked_in_at", _("A completed call-up has its check-in and check-out."))
        if call.quality_score is not None and not 1 <= call.quality_score <= 10:
            raise _invalid("quality_score", _("The score is from 1 to 10."))
    if call.status == OfferStatus.NO_SHOW and (call.marked_at is None or call.marked_at < starts):
        raise _invalid("marked_at", _("A no-show is marked once the shift has started."))
    if call.responded_at is not None and call.status in HELD and call.responded_at >= starts:
        raise _invalid("responded_at", _("A place is taken before the shift starts."))
    if ends > now:
        raise _invalid("date", _("The shift is not over yet."))


@transaction.atomic
def shifts_record_past(*, user: Any, orders: Sequence[PastOrder], now: dt.datetime | None = None) -> list[Order]:
    """Record ``orders`` (one shift each) as they happened, with the rows the live path leaves (see the module's
    docstring). 404 for a site or worker out of reach; 422 for an order ``order_create`` refuses, a stamp not yet
    over or out of order, an unknown final status; 409 ``overlapping_shift`` for places held too close and
    ``shift_full`` for more places held than planned. Returns the orders, in the given order."""
    now = now or clock_now()
    if len(orders) > MAX_PAST_ORDERS:
        raise ValidationFailed(
            _("At most %(n)d orders at once.") % {"n": MAX_PAST_ORDERS}, fields={"orders": [str(len(orders))]}
        )
    if not orders:
        return []
    sites: dict[int, Site] = {}
    for site_id in sorted({o.site_id for o in orders}):
        site = tenant_row_for_change(Site, site_id, user=user, perm=Perm.STAFFING_MANAGE)
        sites[site_id] = Site.objects.select_related("organization").get(pk=site.pk)
    pools = {pool_owner_id(s.organization_id) for s in sites.values()}
    worker_ids = {c.worker_id for o in orders for c in o.calls}
    workers = Worker.objects.select_for_update().filter(pk__in=worker_ids).select_related("user").in_bulk()
    if len(workers) != len(worker_ids):
        raise NotFound(_("Worker not found."))
    times: list[tuple[dt.datetime, dt.datetime]] = []
    for order in orders:
        site = sites[order.site_id]
        zone = _site_zone(site)
        _order_check(
            start_date=order.date,
            end_date=order.date,
            shift_start=order.shift_start,
            shift_end=order.shift_end,
            headcount=order.headcount,
            pay_rate=order.pay_rate,
            bill_rate=order.bill_rate,
            today=order.placed_at.astimezone(zone).date(),
        )
        starts, ends = shift_times(day=order.date, start=order.shift_start, end=order.shift_end, zone=zone)
        if not order.placed_at <= order.planned_at < starts:
            raise _invalid("planned_at", _("An order is planned after it is placed and before its shift."))
        pool = pool_owner_id(site.organization_id)
        seen: set[int] = set()
        for call in order.calls:
            worker = workers[call.worker_id]
            if worker.organization_id != pool or call.worker_id in seen:
                raise NotFound(_("Worker not found."))
            seen.add(call.worker_id)
            if worker.status != WorkerStatus.ACTIVE and call.status in HELD:
                raise Conflict(
                    _("Your profile is not active, so you cannot take shifts now."),
                    code=StaffingErrorCode.WORKER_NOT_ACTIVE,
                )
            _call_check(call, starts, ends, now)
        if sum(1 for c in order.calls if c.status in HELD) > order.call_cap:
            raise Conflict(_("Every planned place was taken."), code=StaffingErrorCode.SHIFT_FULL)
        times.append((starts, ends))
    _holds_check(orders, times)

    created_by = user if getattr(user, "is_authenticated", False) else None
    rows = []
    for order in orders:
        site = sites[order.site_id]
        rows.append(
            Order(
                organization_id=site.organization_id,
                client_id=site.client_id,
                site=site,
                title=order.title,
                start_date=order.date,
                end_date=order.date,
                shift_start=order.shift_start,
                shift_end=order.shift_end,
                headcount=order.headcount,
                skills=skills_clean(order.skills),
                pay_rate=order.pay_rate,
                bill_rate=order.bill_rate,
                currency=site.organization.currency,
                # A dispatched order stays "in progress" on the live path too (nothing closes a lived order).
                status=OrderStatus.IN_PROGRESS,
                created_by=created_by,
                confirmed_at=order.placed_at,
            )
        )
    stored = Order.objects.bulk_create(rows, batch_size=500)
    shifts = Shift.objects.bulk_create(
        [
            Shift(
                organization_id=o.organization_id,
                order=o,
                date=past.date,
                starts_at=starts,
                ends_at=ends,
                headcount=past.headcount,
                call_cap=past.call_cap,
                offered_count=sum(c.sends for c in past.calls),
                accepted_count=sum(1 for c in past.calls if c.status in OFFER_HOLDS_PLACE),
                confirmed_count=sum(
                    1 for c in past.calls if c.status in OFFER_HOLDS_PLACE and c.confirmed_at is not None
                ),
                checked_in_count=sum(1 for c in past.calls if c.status == OfferStatus.COMPLETED),
                no_show_count=sum(1 for c in past.calls if c.status == OfferStatus.NO_SHOW),
                expected_attendance=past.expected_attendance,
                fill_probability=past.fill_probability,
            )
            for o, past, (starts, ends) in zip(stored, orders, times, strict=True)
        ],
        batch_size=500,
    )
    runs = SolverRun.objects.bulk_create(
        [
            SolverRun(
                organization_id=o.organization_id,
                order=o,
                kind=SolverRunKind.PLAN,
                status=SolverRunStatus.SUCCEEDED,
                input=dict(past.instance),
                output=dict(past.solution),
                figures=dict(past.figures),
                requested_by=created_by,
                started_at=past.planned_at,
                finished_at=past.planned_at,
            )
            for o, past in zip(stored, orders, strict=True)
        ],
        batch_size=500,
    )
    offers: list[Offer] = []
    for o, shift, run, past in zip(stored, shifts, runs, orders, strict=True):
        site_point = (float(o.site.latitude), float(o.site.longitude))
        for call in past.calls:
            worker = workers[call.worker_id]
            offers.append(
                Offer(
                    organization_id=o.organization_id,
                    shift=shift,
                    worker=worker,
                    solver_run=run,
                    wave=call.wave,
                    position=call.position,
                    is_standby=call.is_standby,
                    show_probability=round(call.show_probability, 4),
                    worker_rank=round(call.worker_rank, 2),
                    distance_km=round(
                        adapter.distance_km((float(worker.home_latitude), float(worker.home_longitude)), site_point),
                        2,
                    )
                    if worker.home_latitude is not None and worker.home_longitude is not None
                    else None,
                    status=call.status,
                    offered_at=call.offered_at,
                    expires_at=call.expires_at,
                    responded_at=call.responded_at,
                    confirm_requested_at=call.confirm_requested_at,
                    confirmed_at=call.confirmed_at,
                    released_at=call.released_at,
                )
            )
    offers = Offer.objects.bulk_create(offers, batch_size=500)
    by_call: dict[tuple[int, int], Offer] = {(o.shift_id, o.worker_id): o for o in offers}
    attendances: list[Attendance] = []
    for o, shift, past in zip(stored, shifts, orders, strict=True):
        for call in past.calls:
            offer = by_call[(shift.pk, call.worker_id)]
            if call.status == OfferStatus.COMPLETED:
                assert call.checked_in_at is not None and call.checked_out_at is not None
                hours = worked_hours(
                    checked_in_at=call.checked_in_at,
                    checked_out_at=call.checked_out_at,
                    starts_at=shift.starts_at,
                    ends_at=shift.ends_at,
                )
                pay, bill = amounts(hours=hours, pay_rate=o.pay_rate, bill_rate=o.bill_rate)
                attendances.append(
                    Attendance(
                        organization_id=o.organization_id,
                        offer=offer,
                        shift=shift,
                        worker_id=call.worker_id,
                        checked_in_at=call.checked_in_at,
                        check_in_latitude=o.site.latitude,
                        check_in_longitude=o.site.longitude,
                        check_in_distance_m=0.0,
                        checked_out_at=call.checked_out_at,
                        check_out_latitude=o.site.latitude,
                        check_out_longitude=o.site.longitude,
                        check_out_distance_m=0.0,
                        hours=hours,
                        quality_score=call.quality_score,
                        pay_amount=pay,
                        bill_amount=bill,
                        marked_by=created_by if call.quality_score is not None else None,
                    )
                )
            elif call.status == OfferStatus.NO_SHOW:
                attendances.append(
                    Attendance(
                        organization_id=o.organization_id,
                        offer=offer,
                        shift=shift,
                        worker_id=call.worker_id,
                        no_show=True,
                        marked_by=created_by,
                    )
                )
    # The rows the reliability history reads must exist before it is read: the effects come next, from memory.
    before_history = _histories_before(workers, attendances)
    attendances = Attendance.objects.bulk_create(attendances, batch_size=500)
    _reliability_effects(user, stored, shifts, orders, workers, pools, before_history)
    events: list[tuple[Any, dict[str, Any] | None, dict[str, Any] | None]] = [
        (o, None, {**snapshot(o, ORDER_FIELDS), "shifts": 1}) for o in stored
    ]
    events += [(offer, None, snapshot(offer, OFFER_EVENT_FIELDS)) for offer in offers]
    events += [(a, None, snapshot(a, ATTENDANCE_FIELDS)) for a in attendances]
    event_record_many(entities=events, action=EventAction.CREATE, actor=user, note="history")
    return stored


def _holds_check(orders: Sequence[PastOrder], times: list[tuple[dt.datetime, dt.datetime]]) -> None:
    """No worker holds two places closer than the rest between shifts, in the batch or against stored places."""
    spans: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for order, (starts, ends) in zip(orders, times, strict=True):
        for call in order.calls:
            if call.status in HELD:
                spans[call.worker_id].append((starts, ends))
    if not spans:
        return
    first = min(s for v in spans.values() for s, _e in v) - MIN_REST
    last = max(e for v in spans.values() for _s, e in v) + MIN_REST
    ids = list(spans)
    for offset in range(0, len(ids), 900):
        stored = Offer.objects.filter(
            worker_id__in=ids[offset : offset + 900],
            status__in=HELD,
            shift__starts_at__lt=last,
            shift__ends_at__gt=first,
        ).values_list("worker_id", "shift__starts_at", "shift__ends_at")
        for worker_id, starts, ends in stored:
            spans[worker_id].append((starts, ends))
    for held in spans.values():
        held.sort()
        if any(held[k + 1][0] < held[k][1] + MIN_REST for k in range(len(held) - 1)):
            raise Conflict(_("You already have a shift at this time."), code=StaffingErrorCode.OVERLAPPING_SHIFT)


def _histories_before(
    workers: Mapping[int, Worker], attendances: list[Attendance]
) -> tuple[dict[int, list[HistoryItem]], dict[int, int]]:
    affected = sorted({a.worker_id for a in attendances})
    return _histories(affected) if affected else ({}, {})


def _reliability_effects(
    user: Any,
    orders: list[Order],
    shifts: list[Shift],
    past: Sequence[PastOrder],
    workers: Mapping[int, Worker],
    pools: set[int],
    before: tuple[dict[int, list[HistoryItem]], dict[int, int]],
) -> None:
    """Each show (at check-in), score and no-show moves the worker's figures as ``worker_reliability_update`` does
    on the live path, in the order the live marks come, with the pool prior of that moment."""
    history, excused = before
    history = {k: list(v) for k, v in history.items()}
    counts: dict[int, dict[int, tuple[float, float]]] = {pool: {} for pool in pools}
    for pk, pool, shows, no_shows in Worker.objects.filter(organization_id__in=pools).values_list(
        "pk", "organization_id", "decayed_shows", "decayed_no_shows"
    ):
        counts[pool][pk] = (shows, no_shows)
    half_life = reliability_half_life_days()
    changes: list[ReliabilityChange] = []
    firsts: dict[int, dict[str, Any]] = {}  # each moved worker's figures before the batch
    moved: dict[int, dt.datetime] = {}  # ... and when they last moved
    for order, shift, record in zip(orders, shifts, past, strict=True):
        label = f"{order.title}, {shift.date:%d.%m.%Y}"
        for call in record.calls:
            worker = workers[call.worker_id]
            steps: list[tuple[str, dt.datetime, str, Any, bool]] = []
            if call.status == OfferStatus.COMPLETED:
                assert call.checked_in_at is not None
                steps.append(
                    (
                        ReliabilityReason.SHOW,
                        call.checked_in_at,
                        _("Came to %(shift)s.") % {"shift": label},
                        worker.user,
                        True,
                    )
                )
                if call.quality_score is not None:
                    steps.append(
                        (
                            ReliabilityReason.QUALITY,
                            call.rated_at or call.checked_out_at or call.checked_in_at,
                            _("The foreman scored your work at %(shift)s %(score)d of 10.")
                            % {"shift": label, "score": call.quality_score},
                            user,
                            False,
                        )
                    )
            elif call.status == OfferStatus.NO_SHOW:
                assert call.marked_at is not None
                steps.append(
                    (
                        ReliabilityReason.NO_SHOW,
                        call.marked_at,
                        _("Did not come to %(shift)s after accepting it.") % {"shift": label},
                        user,
                        True,
                    )
                )
            items = history.setdefault(worker.pk, [])
            for reason, at, text, actor, always in steps:
                if reason == ReliabilityReason.SHOW:
                    items.append(HistoryItem(at=shift.starts_at, came=True, quality=None))
                elif reason == ReliabilityReason.QUALITY:
                    items[-1] = HistoryItem(at=shift.starts_at, came=True, quality=call.quality_score)
                else:
                    items.append(HistoryItem(at=shift.starts_at, came=False, quality=None))
                pool_counts = counts[worker.organization_id]
                prior = adapter.prior_fit(list(pool_counts.values()))
                figures = figures_for(
                    sorted(items, key=lambda i: i.at),
                    excused=excused.get(worker.pk, 0),
                    now=at,
                    prior=prior,
                    half_life=half_life,
                )
                before_figures = snapshot(worker, SNAPSHOT_FIELDS)
                change = _change(worker, figures, reason=reason, text=text, at=at, actor=actor, always=always)
                if change is None:
                    continue
                change.shift = shift
                changes.append(change)
                pool_counts[worker.pk] = (figures.decayed_shows, figures.decayed_no_shows)
                firsts.setdefault(worker.pk, before_figures)
                moved[worker.pk] = at
    offers = {
        (o.shift_id, o.worker_id): o.pk
        for o in Offer.objects.filter(shift__in=shifts, worker_id__in=list(moved)).only("pk", "shift_id", "worker_id")
    }
    for change in changes:
        assert change.shift is not None
        change.offer_id = offers.get((change.shift.pk, change.worker_id))
    ReliabilityChange.objects.bulk_create(changes, batch_size=500)
    updated = []
    for pk, at in moved.items():
        worker = workers[pk]
        worker.reliability_updated_at = at
        worker.updated_at = timezone.now()
        updated.append(worker)
    Worker.objects.bulk_update(updated, [*SNAPSHOT_FIELDS, "reliability_updated_at", "updated_at"], batch_size=500)
    event_record_many(
        entities=[(workers[pk], firsts[pk], snapshot(workers[pk], SNAPSHOT_FIELDS)) for pk in moved],
        action=EventAction.UPDATE,
        actor=user,
        note="reliability: history",
    )


def _change(
    worker: Worker, figures: Figures, *, reason: str, text: str, at: dt.datetime, actor: Any, always: bool
) -> ReliabilityChange | None:
    """``reliability._apply`` without its writes: the change row (unsaved) and the worker's figures moved."""
    before = snapshot(worker, SNAPSHOT_FIELDS)
    after = figures.stored()
    if before == after and not always:
        return None
    change = ReliabilityChange(
        organization_id=worker.organization_id,
        worker=worker,
        occurred_at=at,
        reliability_before=worker.reliability,
        reliability_after=figures.reliability,
        rank_before=worker.rank,
        rank_after=figures.rank,
        reason=reason,
        reason_text=text[:500],
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    for name, value in after.items():
        setattr(worker, name, value)
    return change
