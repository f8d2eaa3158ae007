"""Offers: sending call-ups, first-come acceptance capped at the planned call count, declines, expiry and the
standby ladder.

Concurrency rule (services/locking.py): a write acting for one worker takes the worker row first (the overlap
check of ``offer_accept`` runs under it); every write that changes a shift's counters or its offers takes the
shift row next (the conditional UPDATE of ``offer_accept`` or ``select_for_update``), then offer rows. One order
of locks, so a decline, an expiry and two hundred accepts cannot deadlock; and accepts serialise on the shift row,
so the last winner can move the remaining open offers to standby without racing another accept.

Messages go through the outbox in the same transaction (Telegram when the worker linked it, SMS otherwise) and a
WebSocket event after commit; a rolled-back change tells nobody anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from backend.core.clock import clock_now
from backend.core.events import event_record
from backend.core.exceptions import Conflict
from backend.core.models import EventAction
from backend.notifications.models import Channel
from backend.notifications.services import PushNote, message_enqueue
from backend.realtime.services import realtime_publish
from backend.staffing.exceptions import StaffingErrorCode
from backend.staffing.local_time import at_site
from backend.staffing.models import (
    OFFER_HOLDS_PLACE,
    Offer,
    OfferStatus,
    Shift,
    ShiftStatus,
    Worker,
    WorkerStatus,
)
from backend.staffing.selectors import offer_of_worker
from backend.staffing.services.board import publish_board
from backend.staffing.services.buttons import offer_keyboard
from backend.staffing.services.locking import conflict_retry, worker_lock

#: Least rest between two shifts a worker holds (the solver's ``min_rest_minutes`` default).
MIN_REST = dt.timedelta(minutes=60)


class ShiftFull(Conflict):
    """409 ``shift_full``: every planned place was taken before this accept; the worker stays on standby."""

    def __init__(self, offer_id: int) -> None:
        super().__init__(
            _(
                "Thank you for answering so quickly! All places on this shift were taken a moment ago. "
                "You are on standby: if a place frees up, we will offer it to you first."
            ),
            code=StaffingErrorCode.SHIFT_FULL,
            fields={"offer_id": [str(offer_id)], "status": [OfferStatus.STANDBY]},
        )


# --- sending --------------------------------------------------------------------------------------------------


def _channel_of(user: Any) -> tuple[str, str]:
    if getattr(user, "telegram_user_id", None):
        return Channel.TELEGRAM, str(user.telegram_user_id)
    return Channel.SMS, user.phone


# The push that goes with each kind of offer message (msgids: each of the worker's phones gets its own language).
OFFER_PUSHES: dict[str, tuple[str, str]] = {
    "offer": (
        gettext_noop("New work offer"),
        gettext_noop("%(title)s on %(day)s at %(start)s. Answer in the app."),
    ),
    "confirm_request": (
        gettext_noop("Confirm your shift"),
        gettext_noop("%(title)s on %(day)s at %(start)s: please confirm, or the place goes to someone else."),
    ),
    "released": (
        gettext_noop("Shift place released"),
        gettext_noop("You did not confirm %(title)s on %(day)s in time."),
    ),
    "shift_full": (
        gettext_noop("You are on standby"),
        gettext_noop("All places on %(title)s on %(day)s are taken. If one frees up, it is offered to you first."),
    ),
    "withdrawn": (
        gettext_noop("Offer withdrawn"),
        gettext_noop("The offer for %(title)s on %(day)s is withdrawn."),
    ),
}


def offer_push(offer: Offer, kind: str) -> PushNote | None:
    """The push for an offer message of ``kind`` (deep link ``staffing.<kind>`` to the offer), if it has one."""
    texts = OFFER_PUSHES.get(kind)
    if texts is None:
        return None
    shift = offer.shift
    return PushNote(
        kind=f"staffing.{kind}",
        object_id=offer.pk,
        title=texts[0],
        body=texts[1],
        params={
            "title": shift.order.title,
            "day": at_site(shift, shift.starts_at).strftime("%d.%m"),
            "start": at_site(shift, shift.starts_at).strftime("%H:%M"),
        },
    )


def offer_notify(
    *,
    offer: Offer,
    kind: str,
    text: str,
    wave: int | None = None,
    reply_markup: dict[str, Any] | None = None,
    sms_text: str | None = None,
    sms_fallback: bool = False,
) -> None:
    """Tell the offer's worker about it: an outbox message (once per offer, kind and wave), with a push to their
    registered phones (``OFFER_PUSHES``, queued by the outbox once per message), and a WebSocket event.
    ``reply_markup`` (inline buttons, see ``services/buttons.py``) goes with the message when it goes by Telegram,
    with ``sms_text`` as ``payload["sms_body"]``: the wording without buttons, should the message fall back to SMS.

    Call inside the transaction that made the change."""
    user = offer.worker.user
    channel, recipient = _channel_of(user)
    payload: dict[str, Any] = {"kind": f"staffing.{kind}", "offer_id": offer.pk, "shift_id": offer.shift_id}
    if reply_markup is not None and channel == Channel.TELEGRAM:
        payload["reply_markup"] = reply_markup
        if sms_text:
            payload["sms_body"] = sms_text
    message_enqueue(
        channel=channel,
        recipient=recipient,
        body=text,
        dedupe_key=f"staffing.offer:{offer.pk}:{kind}:{wave if wave is not None else offer.wave}",
        user=user,
        organization_id=offer.organization_id,
        payload=payload,
        expires_at=offer.shift.starts_at,
        sms_fallback=sms_fallback,  # by SMS instead if the worker blocked the bot (notifications, decision 0021)
        push=offer_push(offer, kind),  # and a push to the worker's phones, when they registered any
    )
    realtime_publish(
        user_id=user.pk,
        event={
            "type": f"staffing.{kind}",
            "offer_id": offer.pk,
            "shift_id": offer.shift_id,
            "status": offer.status,
            "expires_at": offer.expires_at.isoformat() if offer.expires_at else None,
        },
    )


def _offer_message(offer: Offer) -> tuple[str, dict[str, Any] | None, str]:
    """The call-up in the worker's language: (text, Accept / Decline buttons when it goes by Telegram, the text
    for SMS)."""
    shift = offer.shift
    order = shift.order
    by_telegram = _channel_of(offer.worker.user)[0] == Channel.TELEGRAM
    with translation.override(offer.worker.user.language):
        figures = {
            "title": order.title,
            "site": order.site.address,
            "start": at_site(shift, shift.starts_at).strftime("%d.%m %H:%M"),
            "end": at_site(shift, shift.ends_at).strftime("%H:%M"),
            "rate": order.pay_rate,
            "currency": order.currency,
            "expires": at_site(shift, offer.expires_at).strftime("%d.%m %H:%M") if offer.expires_at else "-",
        }
        sms = (
            _(
                "Work offer: %(title)s, %(site)s, %(start)s-%(end)s, %(rate)s %(currency)s/hour. "
                "Accept in the app before %(expires)s."
            )
            % figures
        )
        if not by_telegram:
            return sms, None, sms
        text = (
            _(
                "Work offer: %(title)s, %(site)s, %(start)s-%(end)s, %(rate)s %(currency)s/hour. "
                "Answer with the buttons below before %(expires)s."
            )
            % figures
        )
        return text, offer_keyboard(offer.pk), sms


def offers_send(*, shift: Shift, offers: Sequence[Offer], wave: int, now: dt.datetime | None = None) -> int:
    """Offer ``offers`` of ``shift`` (locked by the caller) now: status offered, wave, an answer deadline of
    ``STAFFING_OFFER_TTL_MINUTES`` (never after the shift starts), a message and an event each. Returns how many."""
    now = now or clock_now()
    expires = min(now + dt.timedelta(minutes=settings.STAFFING_OFFER_TTL_MINUTES), shift.starts_at)
    sent = 0
    for offer in offers:
        offer.status = OfferStatus.OFFERED
        offer.wave = wave
        offer.offered_at = now
        offer.expires_at = expires
        offer.responded_at = None
        offer.save(update_fields=["status", "wave", "offered_at", "expires_at", "responded_at", "updated_at"])
        offer.shift = shift
        event_record(entity=offer, action=EventAction.STATUS, after={"status": offer.status, "wave": wave})
        text, buttons, sms = _offer_message(offer)
        offer_notify(
            offer=offer, kind="offer", text=text, wave=wave, reply_markup=buttons, sms_text=sms, sms_fallback=True
        )
        sent += 1
    if sent:
        Shift.objects.filter(pk=shift.pk).update(offered_count=F("offered_count") + sent, updated_at=timezone.now())
        shift.offered_count += sent
        offers_expiry_schedule(shift_id=shift.pk, at=expires)
        publish_board([shift.pk])
    return sent


def offers_expiry_schedule(*, shift_id: int, at: dt.datetime) -> None:
    """Queue the expiry sweep of one shift for ``at`` (in the caller's transaction, so it exists iff they commit)."""
    from backend.staffing.tasks import offers_expire_task

    offers_expire_task.using(run_after=at).enqueue(shift_id=shift_id)


def offers_top_up(*, shift: Shift, now: dt.datetime | None = None) -> int:
    """Fill the shift's open places from standby: places = planned calls − accepted − offers still waiting for an
    answer. Workers who were offered this shift before (it filled while they waited) come first, then the plan's
    standby order. Caller locks the shift."""
    now = now or clock_now()
    if shift.status != ShiftStatus.OPEN or shift.starts_at <= now:
        return 0
    waiting = Offer.objects.filter(shift=shift, status=OfferStatus.OFFERED).count()
    places = shift.call_cap - shift.accepted_count - waiting
    if places <= 0:
        return 0
    candidates = list(
        Offer.objects.select_related("worker__user", "shift__order__site__organization")
        .filter(shift=shift, status=OfferStatus.STANDBY)
        .order_by(F("offered_at").asc(nulls_last=True), "position", "id")[:places]
    )
    if not candidates:
        return 0
    wave = (Offer.objects.filter(shift=shift).aggregate(w=Max("wave"))["w"] or 0) + 1
    return offers_send(shift=shift, offers=candidates, wave=wave, now=now)


# --- the worker's answers ---------------------------------------------------------------------------------------


def _holds_overlapping(offer: Offer, shift: Shift) -> bool:
    return (
        Offer.objects.filter(
            worker_id=offer.worker_id,
            status__in=OFFER_HOLDS_PLACE,
            shift__starts_at__lt=shift.ends_at + MIN_REST,
            shift__ends_at__gt=shift.starts_at - MIN_REST,
        )
        .exclude(pk=offer.pk)
        .exists()
    )


def worker_active_check(worker: Worker) -> None:
    """409 ``worker_not_active`` unless the worker is active (a suspended worker takes no place and answers none)."""
    if worker.status != WorkerStatus.ACTIVE:
        raise Conflict(
            _("Your profile is not active, so you cannot take shifts now."), code=StaffingErrorCode.WORKER_NOT_ACTIVE
        )


def _accept_refusal(offer: Offer, shift: Shift, now: dt.datetime) -> None:
    """Raise the 409 an accept of ``offer`` gets from what the rows say, in the order the worker hears them: not
    active, the offer no longer open or its answer time over, the shift started or cancelled, every place taken."""
    worker_active_check(offer.worker)
    if offer.status == OfferStatus.STANDBY and offer.offered_at is not None:
        pass  # a standby who was offered once may take a place that frees up
    elif offer.status != OfferStatus.OFFERED:
        raise Conflict(_("This offer is no longer open."), code=StaffingErrorCode.OFFER_NOT_OPEN)
    elif offer.expires_at is not None and offer.expires_at <= now:
        raise Conflict(_("Sorry, the time to answer this offer is over."), code=StaffingErrorCode.OFFER_EXPIRED)
    if shift.status != ShiftStatus.OPEN or shift.starts_at <= now:
        raise Conflict(_("This shift has already started or was cancelled."), code=StaffingErrorCode.SHIFT_STARTED)
    if shift.accepted_count >= shift.call_cap:
        raise ShiftFull(offer.pk)


@conflict_retry
@transaction.atomic
def offer_accept(*, user: Any, offer_id: int, now: dt.datetime | None = None) -> Offer:
    """The caller accepts their offer. First come, first served, capped at the shift's planned call count by one
    conditional UPDATE: ``accepted_count = accepted_count + 1 WHERE accepted_count < call_cap``. A late accepter
    gets 409 ``shift_full`` and stays on standby (offered first when a place frees up). Accepting twice is a no-op.
    409 ``offer_not_open`` / ``offer_expired`` / ``shift_started`` / ``overlapping_shift`` otherwise."""
    now = now or clock_now()
    offer = offer_of_worker(user=user, offer_id=offer_id)
    if offer.status in OFFER_HOLDS_PLACE:
        return offer
    # What the rows already say, before any lock: once a shift fills, the accepts still arriving (most of them, in
    # a storm: 185 of 200 in tests/staffing/test_accept_race.py) are answered without queueing on the worker's and
    # the shift's rows. A refusal read here is one the locked path below would give a moment later; a place that
    # frees meanwhile goes to standby first anyway (offers_top_up).
    _accept_refusal(offer, offer.shift, now)
    # The worker's lock first (services/locking.py): two accepts of one worker's overlapping shifts serialise
    # here, so the second one's overlap check sees the first one's committed place.
    worker = worker_lock(offer.worker_id)
    offer = Offer.objects.select_related("shift").get(pk=offer.pk)
    offer.worker = worker
    if offer.status in OFFER_HOLDS_PLACE:
        return offer
    shift = offer.shift
    _accept_refusal(offer, shift, now)
    if _holds_overlapping(offer, shift):
        raise Conflict(_("You already have a shift at this time."), code=StaffingErrorCode.OVERLAPPING_SHIFT)
    # The guard (FIELD-NOTES: read-then-write let 2-44 clients win per round; this lets exactly the cap win).
    # Waiting on the row lock re-evaluates the WHERE against the winner's committed count: the reads above only
    # answer early, this is what keeps the cap.
    took = Shift.objects.filter(pk=shift.pk, status=ShiftStatus.OPEN, accepted_count__lt=F("call_cap")).update(
        accepted_count=F("accepted_count") + 1, updated_at=timezone.now()
    )
    if not took:
        raise ShiftFull(offer.pk)
    # We hold the shift row now; the offer may have moved meanwhile (withdrawn, or to standby by a winner).
    # Inside the confirmation cut-off there is no time left to ask: accepting then is confirming (decision 0012),
    # so the release sweep, which releases only those who were asked and stayed silent, never throws it away.
    late = now >= shift.starts_at - dt.timedelta(hours=settings.STAFFING_CONFIRM_CUTOFF_HOURS)
    answer = {
        "status": OfferStatus.CONFIRMED if late else OfferStatus.ACCEPTED,
        "responded_at": now,
        "confirmed_at": now if late else None,
        "updated_at": timezone.now(),
    }
    moved = Offer.objects.filter(pk=offer.pk, status__in=(OfferStatus.OFFERED, OfferStatus.STANDBY)).update(**answer)
    if not moved:
        raise Conflict(_("This offer is no longer open."), code=StaffingErrorCode.OFFER_NOT_OPEN)
    for field, value in answer.items():
        setattr(offer, field, value)
    if late:
        Shift.objects.filter(pk=shift.pk).update(confirmed_count=F("confirmed_count") + 1)
    shift.refresh_from_db()
    event_record(entity=offer, action=EventAction.STATUS, actor=user, after={"status": offer.status})
    realtime_publish(user_id=user.pk, event={"type": "staffing.accepted", "offer_id": offer.pk, "shift_id": shift.pk})
    publish_board([shift.pk])
    if shift.accepted_count >= shift.call_cap:
        _shift_filled(shift=shift, now=now)
    return offer


def _shift_filled(*, shift: Shift, now: dt.datetime) -> None:
    """The last place went: open offers move to standby, and their workers hear it at once, by the outbox too (an
    SMS- or Telegram-only worker has no socket open), once per offer and wave."""
    waiting = list(
        Offer.objects.select_related("worker__user", "shift__order__site__organization").filter(
            shift=shift, status=OfferStatus.OFFERED
        )
    )
    if not waiting:
        return
    Offer.objects.filter(pk__in=[o.pk for o in waiting]).update(
        status=OfferStatus.STANDBY, is_standby=True, updated_at=timezone.now()
    )
    for offer in waiting:
        offer.status, offer.is_standby = OfferStatus.STANDBY, True
        with translation.override(offer.worker.user.language):
            text = _(
                "All places on %(title)s on %(day)s are taken. You are on standby: if a place frees up, we will "
                "offer it to you first."
            ) % {"title": offer.shift.order.title, "day": at_site(offer.shift, offer.shift.starts_at).strftime("%d.%m")}
        offer_notify(offer=offer, kind="shift_full", text=text)


def _give_back(offer: Offer, shift: Shift, *, now: dt.datetime) -> None:
    """Lower the shift's counters for an offer that held a place (caller holds the shift lock)."""
    updates: dict[str, Any] = {"accepted_count": F("accepted_count") - 1, "updated_at": now}
    if offer.status == OfferStatus.CONFIRMED:
        updates["confirmed_count"] = F("confirmed_count") - 1
    Shift.objects.filter(pk=shift.pk).update(**updates)
    shift.refresh_from_db()


@conflict_retry
@transaction.atomic
def offer_decline(*, user: Any, offer_id: int, reason: str = "", now: dt.datetime | None = None) -> Offer:
    """The caller declines their offer (or gives back a place they accepted, before the shift starts): the next
    worker on standby is offered the place. Declining twice is a no-op."""
    now = now or clock_now()
    found = offer_of_worker(user=user, offer_id=offer_id)
    shift = Shift.objects.select_for_update().get(pk=found.shift_id)
    offer = Offer.objects.select_for_update().select_related("worker__user").get(pk=found.pk)
    if offer.status == OfferStatus.DECLINED:
        return offer
    if offer.status not in (OfferStatus.OFFERED, OfferStatus.STANDBY, OfferStatus.ACCEPTED, OfferStatus.CONFIRMED):
        raise Conflict(_("This offer can no longer be declined."), code=StaffingErrorCode.OFFER_NOT_OPEN)
    if offer.status in OFFER_HOLDS_PLACE:
        if shift.starts_at <= now:
            raise Conflict(_("The shift has already started."), code=StaffingErrorCode.SHIFT_STARTED)
        _give_back(offer, shift, now=now)
    before = offer.status
    offer.status = OfferStatus.DECLINED
    offer.responded_at = now
    offer.save(update_fields=["status", "responded_at", "updated_at"])
    event_record(
        entity=offer,
        action=EventAction.STATUS,
        actor=user,
        before={"status": before},
        after={"status": offer.status},
        note=reason[:255],
    )
    offers_top_up(shift=shift, now=now)
    publish_board([shift.pk])
    return offer


@conflict_retry
@transaction.atomic
def offers_expire(*, shift_id: int, now: dt.datetime | None = None) -> int:
    """Expire the shift's offers whose answer time is over and offer their places to standby; idempotent (the
    expiry task may run twice). Returns how many expired."""
    now = now or clock_now()
    shift = Shift.objects.select_for_update().filter(pk=shift_id).first()
    if shift is None:
        return 0
    due = list(
        Offer.objects.select_for_update()
        .select_related("worker__user", "shift")
        .filter(shift=shift, status=OfferStatus.OFFERED, expires_at__lte=now)
        .order_by("id")
    )
    for offer in due:
        offer.status = OfferStatus.EXPIRED
        offer.save(update_fields=["status", "updated_at"])
        event_record(entity=offer, action=EventAction.STATUS, after={"status": offer.status})
        realtime_publish(
            user_id=offer.worker.user_id,
            event={"type": "staffing.expired", "offer_id": offer.pk, "shift_id": shift.pk, "status": offer.status},
        )
    if due:
        offers_top_up(shift=shift, now=now)
        publish_board([shift.pk])
    return len(due)


def offer_withdraw_many(*, offers: Iterable[Offer], actor: Any, reason: str, now: dt.datetime | None = None) -> int:
    """Withdraw offers (a cancelled order, a re-plan that no longer calls them): holders give their places back,
    and whoever had been told about the offer is told it is off. Caller holds the shifts' locks."""
    now = now or clock_now()
    count = 0
    touched: set[int] = set()
    for offer in offers:
        touched.add(offer.shift_id)
        before = offer.status
        if before in OFFER_HOLDS_PLACE:
            _give_back(offer, offer.shift, now=now)
        offer.status = OfferStatus.WITHDRAWN
        offer.save(update_fields=["status", "updated_at"])
        event_record(
            entity=offer,
            action=EventAction.STATUS,
            actor=actor,
            before={"status": before},
            after={"status": offer.status},
            note=reason[:255],
        )
        if before != OfferStatus.STANDBY or offer.offered_at is not None:
            with translation.override(offer.worker.user.language):
                text = _("The offer for %(title)s on %(day)s is withdrawn: %(reason)s") % {
                    "title": offer.shift.order.title,
                    "day": offer.shift.date.strftime("%d.%m"),
                    "reason": reason,
                }
            offer_notify(offer=offer, kind="withdrawn", text=text, sms_fallback=before in OFFER_HOLDS_PLACE)
        count += 1
    publish_board(touched)
    return count


#: Offers a suspended worker loses: waiting ones and the places they hold on shifts that have not started.
LIVE_FOR_WORKER = (OfferStatus.OFFERED, OfferStatus.STANDBY, OfferStatus.ACCEPTED, OfferStatus.CONFIRMED)


def worker_offers_withdraw(*, worker: Worker, actor: Any, reason: str, now: dt.datetime | None = None) -> int:
    """Withdraw every live offer of ``worker`` (locked by the caller) on shifts that have not started: places go
    back and are offered to standby, the worker is told, the boards move. Locks the shifts (ascending id), then the
    offers, after the worker: the one lock order. Returns how many were withdrawn."""
    now = now or clock_now()
    live = Offer.objects.filter(
        worker=worker, status__in=LIVE_FOR_WORKER, shift__status=ShiftStatus.OPEN, shift__starts_at__gt=now
    )
    shift_ids = sorted(set(live.values_list("shift_id", flat=True)))
    if not shift_ids:
        return 0
    shifts = {s.pk: s for s in Shift.objects.select_for_update().filter(pk__in=shift_ids).order_by("pk")}
    offers = list(
        live.select_for_update(of=("self",))
        .select_related("worker__user", "shift__order__site__organization")
        .filter(shift_id__in=shift_ids)
        .order_by("shift_id", "id")
    )
    count = offer_withdraw_many(offers=offers, actor=actor, reason=reason, now=now)
    for shift in shifts.values():
        shift.refresh_from_db()
        offers_top_up(shift=shift, now=now)
    return count


__all__ = [
    "LIVE_FOR_WORKER",
    "ShiftFull",
    "offer_accept",
    "offer_decline",
    "offer_notify",
    "offer_withdraw_many",
    "offers_expire",
    "offers_expiry_schedule",
    "offers_send",
    "offers_top_up",
    "worker_active_check",
    "worker_offers_withdraw",
]
