"""Past orders recorded at once give the rows the live path gives (order, confirm, plan, offers sent, accepted,
declined, expired and refilled from standby, confirmed the day before, checked in and out, scored, a no-show) and
keep its rules: the caller's sites, the pool's workers, stamps in the past, the planned call count, one place at a
time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from backend.core.clock import clock_at
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import Event
from backend.staffing import solver_adapter as adapter
from backend.staffing.models import (
    Attendance,
    Offer,
    OfferStatus,
    Order,
    ReliabilityChange,
    Shift,
    SolverRun,
    SolverRunStatus,
    Worker,
)
from backend.staffing.services.attendance import (
    attendance_check_in,
    attendance_check_out,
    attendance_mark,
    attendance_rate,
)
from backend.staffing.services.confirmations import confirmations_request, offer_confirm
from backend.staffing.services.dispatch import dispatch_plan_apply
from backend.staffing.services.history import PastCall, PastOrder, shifts_record_past
from backend.staffing.services.offers import offer_accept, offer_decline, offers_expire
from backend.staffing.services.orders import order_confirm, order_create
from tests.staffing.world import SITE_POINT, World, site, staffing_world

pytestmark = pytest.mark.django_db

DAY = timezone.now().date() - dt.timedelta(days=3)  # the shift: 08:00-20:00 Moscow (05:00-17:00 UTC)
PLACED = dt.datetime.combine(DAY - dt.timedelta(days=2), dt.time(6), tzinfo=dt.UTC)
STARTS = dt.datetime.combine(DAY, dt.time(5), tzinfo=dt.UTC)
ENDS = STARTS + dt.timedelta(hours=12)
EVENING = dt.datetime.combine(DAY - dt.timedelta(days=1), dt.time(16), tzinfo=dt.UTC)  # the ask window holds it
PRIOR = [4.0, 1.0]
M = dt.timedelta(minutes=1)


def _order_fields() -> dict:
    return {
        "title": "Loaders",
        "shift_start": dt.time(8),
        "shift_end": dt.time(20),
        "headcount": 2,
        "pay_rate": Decimal("400"),
        "bill_rate": Decimal("650"),
    }


def _live(w: World) -> None:
    """Two places, three called (w0-w2), two on standby (w3, w4): w0 accepts, w1 declines (w3 is offered), w2 and
    w3 stay silent and expire (w4 is offered), w4 accepts; both are asked the day before and confirm; on the day
    w0 comes (scored 8) and w4 does not."""
    where = site(w.franchise)
    ws = w.workers
    with clock_at(PLACED):
        order = order_create(
            user=w.dispatcher, site_id=where.pk, start_date=DAY, end_date=DAY, skills=["loader"], **_order_fields()
        )
        order_confirm(user=w.dispatcher, order_id=order.pk)
    shift = Shift.objects.get(order=order)
    run = SolverRun.objects.get(order=order)
    plan = adapter.PlanOut(
        status="optimal",
        wall_s=0.1,
        plans={
            shift.pk: adapter.ShiftPlanOut(
                called=[ws[0].pk, ws[1].pk, ws[2].pk],
                standby=[ws[3].pk, ws[4].pk],
                expected_attendance=2.1,
                fill_probability=0.8,
                expected_cost=1.0,
            )
        },
    )
    with clock_at(PLACED):
        dispatch_plan_apply(run_id=run.pk, plan=plan, figures={"prior": PRIOR}, instance={}, now=PLACED)
    offer = {o.worker_id: o.pk for o in Offer.objects.filter(shift=shift)}
    offer_accept(user=ws[0].user, offer_id=offer[ws[0].pk], now=PLACED + 10 * M)
    offer_decline(user=ws[1].user, offer_id=offer[ws[1].pk], reason="busy", now=PLACED + 10 * M)
    offers_expire(shift_id=shift.pk, now=PLACED + 41 * M)
    offer_accept(user=ws[4].user, offer_id=offer[ws[4].pk], now=PLACED + 45 * M)
    confirmations_request(now=EVENING)
    offer_confirm(user=ws[0].user, offer_id=offer[ws[0].pk], now=EVENING)
    offer_confirm(user=ws[4].user, offer_id=offer[ws[4].pk], now=EVENING)
    lat, lon = SITE_POINT
    attendance_check_in(user=ws[0].user, latitude=lat, longitude=lon, now=STARTS - 10 * M)
    attendance_check_out(user=ws[0].user, latitude=lat, longitude=lon, now=ENDS)
    attendance_rate(user=w.dispatcher, offer_id=offer[ws[0].pk], quality_score=8, now=ENDS)
    attendance_mark(user=w.dispatcher, offer_id=offer[ws[4].pk], outcome="no_show", now=STARTS + 60 * M)


def _past(w: World) -> PastOrder:
    ws = w.workers
    p = adapter.probability_of_show(0.0, 0.0, PRIOR)
    sent: dict[str, Any] = {"show_probability": p, "worker_rank": 50.0}
    first: dict[str, Any] = {"offered_at": PLACED, "expires_at": PLACED + 30 * M, "wave": 1, "sends": 1}
    calls = [
        PastCall(
            ws[0].pk,
            1,
            False,
            OfferStatus.COMPLETED,
            **sent,
            **first,
            responded_at=PLACED + 10 * M,
            confirm_requested_at=EVENING,
            confirmed_at=EVENING,
            checked_in_at=STARTS - 10 * M,
            checked_out_at=ENDS,
            quality_score=8,
            rated_at=ENDS,
        ),
        PastCall(ws[1].pk, 2, False, OfferStatus.DECLINED, **sent, **first, responded_at=PLACED + 10 * M),
        PastCall(ws[2].pk, 3, False, OfferStatus.EXPIRED, **sent, **first),
        PastCall(
            ws[3].pk,
            1,
            True,
            OfferStatus.EXPIRED,
            **sent,
            wave=2,
            sends=1,
            offered_at=PLACED + 10 * M,
            expires_at=PLACED + 40 * M,
        ),
        PastCall(
            ws[4].pk,
            2,
            True,
            OfferStatus.NO_SHOW,
            **sent,
            wave=3,
            sends=1,
            offered_at=PLACED + 41 * M,
            expires_at=PLACED + 71 * M,
            responded_at=PLACED + 45 * M,
            confirm_requested_at=EVENING,
            confirmed_at=EVENING,
            marked_at=STARTS + 60 * M,
        ),
    ]
    return PastOrder(
        site_id=site(w.franchise).pk,
        date=DAY,
        placed_at=PLACED,
        planned_at=PLACED,
        call_cap=3,
        calls=calls,
        skills=["loader"],
        expected_attendance=2.1,
        fill_probability=0.8,
        **_order_fields(),
    )


def _rows(w: World) -> dict[str, object]:
    index = {worker.pk: n for n, worker in enumerate(w.workers)}
    order = Order.objects.get(organization=w.franchise)
    shift = Shift.objects.get(order=order)
    offers = sorted(
        (
            index[o.worker_id],
            o.status,
            o.wave,
            o.position,
            o.is_standby,
            o.show_probability,
            o.worker_rank,
            o.distance_km,
            o.offered_at,
            o.expires_at,
            o.responded_at,
            o.confirm_requested_at,
            o.confirmed_at,
            o.released_at,
        )
        for o in Offer.objects.filter(shift=shift)
    )
    attendance = sorted(
        (
            index[a.worker_id],
            a.checked_in_at,
            a.checked_out_at,
            a.check_in_distance_m,
            a.hours,
            a.quality_score,
            a.no_show,
            a.pay_amount,
            a.bill_amount,
            a.marked_by_id is not None,
        )
        for a in Attendance.objects.filter(shift=shift)
    )
    changes = sorted(
        (
            index[c.worker_id],
            c.occurred_at,
            c.reason,
            c.reason_text,
            c.reliability_before,
            c.reliability_after,
            c.rank_before,
            c.rank_after,
            c.offer_id is not None,
            c.shift_id == shift.pk,
            c.actor_id is not None,
        )
        for c in ReliabilityChange.objects.filter(worker__organization=w.hq)
    )
    workers = [
        (
            w_.reliability,
            w_.rank,
            w_.decayed_shows,
            w_.decayed_no_shows,
            w_.shows_count,
            w_.no_shows_count,
            w_.quality_sum,
            w_.quality_count,
            w_.reliability_updated_at,
        )
        for w_ in Worker.objects.filter(organization=w.hq).order_by("pk")
    ]
    return {
        "order": (order.status, order.confirmed_at, order.title, order.headcount, order.pay_rate, order.currency),
        "shift": (
            shift.starts_at,
            shift.ends_at,
            shift.status,
            shift.call_cap,
            shift.offered_count,
            shift.accepted_count,
            shift.confirmed_count,
            shift.checked_in_count,
            shift.no_show_count,
            shift.expected_attendance,
            shift.fill_probability,
        ),
        "run": list(SolverRun.objects.filter(order=order).values_list("status", "kind")),
        "offers": offers,
        "attendance": attendance,
        "changes": changes,
        "workers": workers,
    }


def test_recording_past_orders_gives_the_rows_of_the_live_path() -> None:
    live, bulk = staffing_world(), staffing_world()
    _live(live)
    with clock_at(dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)):
        written = shifts_record_past(user=bulk.dispatcher, orders=[_past(bulk)])

    assert len(written) == 1
    expected, got = _rows(live), _rows(bulk)
    for key in expected:
        assert got[key] == expected[key], f"{key}: {got[key]} != {expected[key]}"
    assert expected["run"] == [(SolverRunStatus.SUCCEEDED, "plan")]
    events = Event.objects.filter(note="history")
    assert events.filter(entity_type="staffing.offer").count() == 5
    assert events.filter(entity_type="staffing.attendance").count() == 2


def test_past_orders_refuse_foreign_sites_and_workers_unfinished_shifts_and_double_places_whole() -> None:
    w, other = staffing_world(), staffing_world()
    ok = _past(w)

    def refused(orders: list[PastOrder], error: type, user: object = None) -> None:
        with pytest.raises(error):
            shifts_record_past(user=user or w.dispatcher, orders=orders)

    refused([ok], NotFound, user=other.dispatcher)  # another agency's site
    foreign = PastCall(other.workers[0].pk, 1, False, OfferStatus.EXPIRED, offered_at=PLACED, sends=1, wave=1)
    refused([PastOrder(**{**ok.__dict__, "calls": [*ok.calls, foreign]})], NotFound)  # a worker of another pool
    later = dt.datetime.combine(timezone.now().date() + dt.timedelta(days=1), dt.time(6), tzinfo=dt.UTC)
    refused(
        [
            PastOrder(
                **{**ok.__dict__, "date": later.date() + dt.timedelta(days=1), "placed_at": later, "planned_at": later}
            )
        ],
        ValidationFailed,
    )  # not over yet
    waiting = PastCall(w.workers[2].pk, 3, False, OfferStatus.OFFERED, offered_at=PLACED, sends=1, wave=1)
    refused([PastOrder(**{**ok.__dict__, "calls": [*ok.calls[:2], waiting]})], ValidationFailed)
    refused([PastOrder(**{**ok.__dict__, "call_cap": 1})], Conflict)  # two places held, one planned
    refused([ok, PastOrder(**{**ok.__dict__, "title": "Again"})], Conflict)  # the same people twice at once
    assert not Order.objects.exists()
    shifts_record_past(user=w.dispatcher, orders=[ok])
    refused([PastOrder(**{**ok.__dict__, "title": "Again"})], Conflict)  # ... against the stored places too
    assert Order.objects.count() == 1
