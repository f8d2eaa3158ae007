"""The confirmation ladder: the day before, accepted workers are asked to confirm; whoever has not confirmed by the
cut-off is released, and their places are refilled through the solver's incremental re-plan (via the adapter).

Times, in hours before the shift starts: ``STAFFING_CONFIRM_ASK_HOURS`` (ask, default 24) and
``STAFFING_CONFIRM_CUTOFF_HOURS`` (release, default 12). The periodic step (``confirmations_due_run``) runs from
the task worker's sweep; each part acts only on rows still due, so running it twice changes nothing.

The re-plan starts from the order's latest applied plan (the run's stored instance and solution): holders of a
place are fixed, the released, decliners and time-outs excluded for good, and only the shifts that lost someone
are topped up; newly called workers are offered at once (the next wave), and the shift's planned call count follows
the new plan.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from backend.core.clock import clock_now
from backend.core.events import event_record
from backend.core.exceptions import Conflict
from backend.core.models import EventAction
from backend.staffing import solver_adapter as adapter
from backend.staffing.exceptions import StaffingErrorCode
from backend.staffing.local_time import at_site
from backend.staffing.models import (
    OFFER_HOLDS_PLACE,
    Offer,
    OfferStatus,
    Order,
    Shift,
    ShiftStatus,
    SolverRun,
    SolverRunKind,
    SolverRunStatus,
)
from backend.staffing.selectors import offer_of_worker
from backend.staffing.services.board import publish_board
from backend.staffing.services.buttons import confirm_keyboard
from backend.staffing.services.dispatch import ANSWERED_NO, DISPATCHABLE, dispatch_plan_apply
from backend.staffing.services.locking import conflict_retry, worker_lock
from backend.staffing.services.offers import offer_decline, offer_notify, worker_active_check


def _ask_hours() -> dt.timedelta:
    return dt.timedelta(hours=settings.STAFFING_CONFIRM_ASK_HOURS)


def _cutoff_hours() -> dt.timedelta:
    return dt.timedelta(hours=settings.STAFFING_CONFIRM_CUTOFF_HOURS)


@conflict_retry
@transaction.atomic
def offer_confirm(*, user: Any, offer_id: int, now: dt.datetime | None = None) -> Offer:
    """The caller confirms a place they accepted. Confirming twice is a no-op; 409 ``offer_not_accepted`` for an
    offer without a place, ``confirmation_closed`` once they were released, ``worker_not_active`` when suspended."""
    now = now or clock_now()
    found = offer_of_worker(user=user, offer_id=offer_id)
    worker_active_check(worker_lock(found.worker_id))  # lock order: worker, shift, offer
    shift = Shift.objects.select_for_update().get(pk=found.shift_id)
    offer = Offer.objects.select_for_update().get(pk=found.pk)
    if offer.status in (OfferStatus.CONFIRMED, OfferStatus.CHECKED_IN, OfferStatus.COMPLETED):
        return offer
    if offer.status == OfferStatus.RELEASED:
        raise Conflict(
            _("The time to confirm is over and the place went to someone else."),
            code=StaffingErrorCode.CONFIRMATION_CLOSED,
        )
    if offer.status != OfferStatus.ACCEPTED:
        raise Conflict(_("Accept the offer first."), code=StaffingErrorCode.OFFER_NOT_ACCEPTED)
    if shift.starts_at <= now:
        raise Conflict(_("The shift has already started."), code=StaffingErrorCode.SHIFT_STARTED)
    offer.status = OfferStatus.CONFIRMED
    offer.confirmed_at = now
    offer.save(update_fields=["status", "confirmed_at", "updated_at"])
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=F("confirmed_count") + 1, updated_at=timezone.now())
    publish_board([shift.pk])
    event_record(
        entity=offer,
        action=EventAction.STATUS,
        actor=user,
        before={"status": OfferStatus.ACCEPTED},
        after={"status": offer.status},
    )
    return offer


@conflict_retry
@transaction.atomic
def confirmation_answer(*, user: Any, offer_id: int, come: bool, now: dt.datetime | None = None) -> Offer:
    """The caller answers the day-before question about a place they hold: yes confirms it (``offer_confirm``), no
    gives it back at once so the next worker on standby is offered it (``offer_decline``). A "no" is refused with
    409 ``offer_not_accepted`` for an offer that holds no place (an open call-up is declined, not un-confirmed),
    ``confirmation_closed`` once the place was released; answering no twice is a no-op."""
    if come:
        return offer_confirm(user=user, offer_id=offer_id, now=now)
    found = offer_of_worker(user=user, offer_id=offer_id)
    if found.status == OfferStatus.DECLINED and found.confirm_requested_at is not None:
        return found
    if found.status == OfferStatus.RELEASED:
        raise Conflict(
            _("The time to confirm is over and the place went to someone else."),
            code=StaffingErrorCode.CONFIRMATION_CLOSED,
        )
    if found.status not in (OfferStatus.ACCEPTED, OfferStatus.CONFIRMED):
        raise Conflict(_("Accept the offer first."), code=StaffingErrorCode.OFFER_NOT_ACCEPTED)
    return offer_decline(user=user, offer_id=offer_id, reason="cannot come (day-before confirmation)", now=now)


def confirmations_request(*, now: dt.datetime | None = None) -> int:
    """Ask every accepted worker whose shift starts within the ask window (and after the cut-off) to confirm,
    once per offer. Returns how many were asked."""
    now = now or clock_now()
    asked = 0
    due = (
        Offer.objects.filter(
            status=OfferStatus.ACCEPTED,
            confirm_requested_at__isnull=True,
            shift__status=ShiftStatus.OPEN,
            shift__starts_at__lte=now + _ask_hours(),
            shift__starts_at__gt=now + _cutoff_hours(),
        )
        .select_related("worker__user", "shift__order__site__organization")
        .order_by("id")
    )
    for offer in due:
        with transaction.atomic():
            # Claim: another sweep may be asking at the same moment.
            if not Offer.objects.filter(pk=offer.pk, confirm_requested_at__isnull=True).update(
                confirm_requested_at=now, updated_at=timezone.now()
            ):
                continue
            cutoff = offer.shift.starts_at - _cutoff_hours()
            with translation.override(offer.worker.user.language):
                figures = {
                    "title": offer.shift.order.title,
                    "day": at_site(offer.shift, offer.shift.starts_at).strftime("%d.%m"),
                    "start": at_site(offer.shift, offer.shift.starts_at).strftime("%H:%M"),
                    "cutoff": at_site(offer.shift, cutoff).strftime("%d.%m %H:%M"),
                }
                sms = (
                    _(
                        "Please confirm your shift %(title)s on %(day)s at %(start)s in the app before "
                        "%(cutoff)s, or the place goes to someone else."
                    )
                    % figures
                )
                text, buttons = sms, None
                if offer.worker.user.telegram_user_id:
                    text = (
                        _(
                            "Will you come to your shift %(title)s on %(day)s at %(start)s? Please answer below "
                            "before %(cutoff)s, or the place goes to someone else."
                        )
                        % figures
                    )
                    buttons = confirm_keyboard(offer.pk)
            offer_notify(
                offer=offer, kind="confirm_request", text=text, reply_markup=buttons, sms_text=sms, sms_fallback=True
            )
            event_record(
                entity=offer,
                action=EventAction.UPDATE,
                before={"confirm_requested_at": None},
                after={"confirm_requested_at": now},
            )
            asked += 1
    return asked


@transaction.atomic
def _release_shift(*, shift_id: int, now: dt.datetime) -> list[int]:
    shift = Shift.objects.select_for_update().get(pk=shift_id)
    unconfirmed = list(
        Offer.objects.select_for_update()
        .select_related("worker__user", "shift__order__site__organization")
        .filter(shift=shift, status=OfferStatus.ACCEPTED, confirm_requested_at__isnull=False)
        .order_by("id")
    )
    if not unconfirmed or shift.status != ShiftStatus.OPEN:
        return []
    for offer in unconfirmed:
        offer.status = OfferStatus.RELEASED
        offer.released_at = now
        offer.save(update_fields=["status", "released_at", "updated_at"])
        event_record(
            entity=offer,
            action=EventAction.STATUS,
            before={"status": OfferStatus.ACCEPTED},
            after={"status": offer.status},
            note="not confirmed by the cut-off",
        )
        with translation.override(offer.worker.user.language):
            text = _(
                "You did not confirm the shift %(title)s on %(day)s in time, so the place went to someone else."
            ) % {"title": offer.shift.order.title, "day": at_site(offer.shift, offer.shift.starts_at).strftime("%d.%m")}
        offer_notify(offer=offer, kind="released", text=text, sms_fallback=True)
    Shift.objects.filter(pk=shift.pk).update(
        accepted_count=F("accepted_count") - len(unconfirmed), updated_at=timezone.now()
    )
    publish_board([shift.pk])
    return [o.pk for o in unconfirmed]


def confirmations_release(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Release the places of workers who were asked to confirm and did not by the cut-off, then re-plan each
    affected order through the adapter. Nobody is released without having been asked (an accept inside the cut-off
    window is a confirmation already, see ``offer_accept``). Returns (released offers, re-plans applied)."""
    now = now or clock_now()
    shift_ids = list(
        Shift.objects.filter(
            status=ShiftStatus.OPEN,
            starts_at__gt=now,
            starts_at__lte=now + _cutoff_hours(),
            offers__status=OfferStatus.ACCEPTED,
            offers__confirm_requested_at__isnull=False,
        )
        .values_list("id", flat=True)
        .distinct()
    )
    released = 0
    orders: set[int] = set()
    for shift_id in shift_ids:
        ids = _release_shift(shift_id=shift_id, now=now)
        if ids:
            released += len(ids)
            orders.add(Shift.objects.values_list("order_id", flat=True).get(pk=shift_id))
    replans = sum(1 for order_id in sorted(orders) if replan_order(order_id=order_id, now=now) is not None)
    return released, replans


def replan_order(*, order_id: int, now: dt.datetime | None = None) -> SolverRun | None:
    """Incremental re-plan of an order from its latest applied plan, stored as a ``replan`` run and applied.
    None when the order has no applied plan to start from or is no longer dispatched."""
    now = now or clock_now()
    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.status not in DISPATCHABLE:
        return None
    base = (
        SolverRun.objects.filter(order=order, status=SolverRunStatus.SUCCEEDED)
        .exclude(output={})
        .order_by("-finished_at", "-id")
        .first()
    )
    if base is None:
        return None
    known = {str(s["id"]) for s in base.input.get("shifts", [])}
    accepts: dict[int, list[int]] = {}
    declines: dict[int, list[int]] = {}
    for worker_id, shift_id, status in Offer.objects.filter(shift__order=order).values_list(
        "worker_id", "shift_id", "status"
    ):
        if f"s{shift_id}" not in known:
            continue
        if status in OFFER_HOLDS_PLACE:
            accepts.setdefault(shift_id, []).append(worker_id)
        elif status in ANSWERED_NO or status == OfferStatus.WITHDRAWN:
            declines.setdefault(shift_id, []).append(worker_id)
    run = SolverRun.objects.create(
        organization_id=order.organization_id,
        order=order,
        kind=SolverRunKind.REPLAN,
        status=SolverRunStatus.RUNNING,
        started_at=now,
    )
    try:
        instance, plan = adapter.plan_replan(base.input, base.output, accepts=accepts, declines=declines)
    except adapter.SolverInputError as exc:
        run.status, run.error, run.finished_at = SolverRunStatus.FAILED, str(exc)[:4000], clock_now()
        run.save()
        return run
    run.solve_s = plan.wall_s
    run.save(update_fields=["solve_s", "updated_at"])
    figures = {
        **{k: v for k, v in base.figures.items() if k in ("prior", "workers", "shifts")},
        "base_run": base.pk,
        "released_or_declined": sum(len(v) for v in declines.values()),
    }
    return dispatch_plan_apply(run_id=run.pk, plan=plan, figures=figures, instance=instance, now=now)


def confirmations_due_run(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The ladder's periodic step (registered in ``BRIGADA_SWEEPS``): ask, then release and re-plan."""
    now = now or clock_now()
    asked = confirmations_request(now=now)
    released, replans = confirmations_release(now=now)
    return {"staffing_confirmations_asked": asked, "staffing_released": released, "staffing_replans": replans}
