"""The confirmation ladder: asked the day before, confirmed or released at the cut-off, and the released places
refilled through the solver's incremental re-plan."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.core.exceptions import ApplicationError
from backend.notifications.models import OutboxMessage
from backend.staffing.models import Offer, OfferStatus, Shift, SolverRun, SolverRunKind, SolverRunStatus
from backend.staffing.services.confirmations import confirmations_due_run, offer_confirm
from backend.staffing.services.dispatch import dispatch_run_execute
from backend.staffing.services.offers import offer_accept
from backend.staffing.services.orders import order_confirm
from tests.staffing.world import agency, dispatch_world, order_with_shift, pool_worker, site

pytestmark = pytest.mark.django_db


def _planned_with_accepts(accepting: int):
    world = dispatch_world(n_workers=14, headcount=3)
    order = order_confirm(user=world.dispatcher, order_id=world.extra["order"].pk)
    dispatch_run_execute(run_id=SolverRun.objects.get(order=order).pk)
    shift = world.extra["shift"]
    called = list(Offer.objects.filter(shift=shift, status=OfferStatus.OFFERED).order_by("position"))
    for offer in called[:accepting]:
        offer_accept(user=offer.worker.user, offer_id=offer.pk)
    shift.refresh_from_db()
    return world, shift, called


def test_accepted_workers_are_asked_once_the_day_before() -> None:
    _world, shift, called = _planned_with_accepts(3)
    offer_confirm(user=called[0].worker.user, offer_id=called[0].pk)
    too_early = confirmations_due_run(now=shift.starts_at - dt.timedelta(hours=30))
    assert too_early["staffing_confirmations_asked"] == 0
    day_before = shift.starts_at - dt.timedelta(hours=20)
    assert confirmations_due_run(now=day_before)["staffing_confirmations_asked"] == 2
    assert confirmations_due_run(now=day_before)["staffing_confirmations_asked"] == 0
    asked = OutboxMessage.objects.filter(payload__kind="staffing.confirm_request")
    assert sorted(m.payload["offer_id"] for m in asked) == sorted(o.pk for o in called[1:3])


def test_confirming_counts_once_and_needs_an_accepted_offer() -> None:
    _world, shift, called = _planned_with_accepts(1)
    offer_confirm(user=called[0].worker.user, offer_id=called[0].pk)
    offer_confirm(user=called[0].worker.user, offer_id=called[0].pk)
    shift.refresh_from_db()
    assert shift.confirmed_count == 1
    with pytest.raises(ApplicationError) as caught:
        offer_confirm(user=called[1].worker.user, offer_id=called[1].pk)
    assert caught.value.code == "offer_not_accepted"


def test_unconfirmed_places_are_released_at_the_cut_off_and_refilled_by_the_replan() -> None:
    _world, shift, called = _planned_with_accepts(3)
    offer_confirm(user=called[0].worker.user, offer_id=called[0].pk)
    offer_confirm(user=called[1].worker.user, offer_id=called[1].pk)
    before = set(
        Offer.objects.filter(shift=shift).exclude(status=OfferStatus.STANDBY).values_list("worker_id", flat=True)
    )
    confirmations_due_run(now=shift.starts_at - dt.timedelta(hours=20))  # the third is asked and stays silent
    cut_off = shift.starts_at - dt.timedelta(hours=11)
    report = confirmations_due_run(now=cut_off)
    assert (report["staffing_released"], report["staffing_replans"]) == (1, 1)
    released = Offer.objects.get(pk=called[2].pk)
    assert released.status == OfferStatus.RELEASED and released.released_at == cut_off
    shift.refresh_from_db()
    assert (shift.accepted_count, shift.confirmed_count) == (2, 2)
    replan = SolverRun.objects.get(kind=SolverRunKind.REPLAN)
    assert replan.status == SolverRunStatus.SUCCEEDED and replan.output["status"] == "feasible"
    worker_doc = next(w for w in replan.input["workers"] if w["id"] == f"w{released.worker_id}")
    assert f"s{shift.pk}" in worker_doc["excluded"]  # never called again for this shift
    new_calls = Offer.objects.filter(shift=shift, status=OfferStatus.OFFERED, wave__gt=1)
    assert new_calls.exists() and not set(new_calls.values_list("worker_id", flat=True)) & before
    assert shift.call_cap == len(replan.output["shifts"][f"s{shift.pk}"]["called"])
    told = OutboxMessage.objects.filter(payload__kind="staffing.released", payload__offer_id=released.pk)
    assert told.count() == 1
    # a second sweep finds nothing more to do
    assert confirmations_due_run(now=cut_off)["staffing_released"] == 0


def test_a_released_worker_cannot_confirm_any_more() -> None:
    _world, shift, called = _planned_with_accepts(1)
    confirmations_due_run(now=shift.starts_at - dt.timedelta(hours=20))
    confirmations_due_run(now=shift.starts_at - dt.timedelta(hours=11))
    with pytest.raises(ApplicationError) as caught:
        offer_confirm(user=called[0].worker.user, offer_id=called[0].pk)
    assert caught.value.code == "confirmation_closed"


def test_a_replacement_who_accepts_inside_the_cut_off_is_confirmed_and_never_released() -> None:
    hq = agency()
    worker = pool_worker(hq)
    now = timezone.now()
    _order, shift = order_with_shift(hq, call_cap=1, site_=site(hq))
    Shift.objects.filter(pk=shift.pk).update(
        starts_at=now + dt.timedelta(hours=6), ends_at=now + dt.timedelta(hours=14)
    )
    offer = Offer.objects.create(
        organization=hq,
        shift=shift,
        worker=worker,
        status=OfferStatus.OFFERED,
        offered_at=now,
        expires_at=now + dt.timedelta(hours=1),
    )
    accepted = offer_accept(user=worker.user, offer_id=offer.pk, now=now)
    assert accepted.status == OfferStatus.CONFIRMED and accepted.confirmed_at == now

    report = confirmations_due_run(now=now + dt.timedelta(minutes=5))

    offer.refresh_from_db()
    shift.refresh_from_db()
    assert report["staffing_released"] == 0 and offer.status == OfferStatus.CONFIRMED
    assert (shift.accepted_count, shift.confirmed_count) == (1, 1)


def test_an_accepted_worker_who_was_never_asked_is_not_released() -> None:
    _world, shift, called = _planned_with_accepts(1)
    # The ask sweep never ran (the worker was down all day): nobody asked, so nobody is released.
    report = confirmations_due_run(now=shift.starts_at - dt.timedelta(hours=11))
    assert report["staffing_released"] == 0
    assert Offer.objects.get(pk=called[0].pk).status == OfferStatus.ACCEPTED
