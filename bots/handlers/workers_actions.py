"""The worker side of the bot, sync part: each action calls one staffing service for the linked account and says
what to answer. No business rule lives here (the services decide who may do what and what happens); this module
maps their answers and refusals to short replies in the worker's language.

Every id that arrives in callback data is passed to a service that looks it up among the caller's own rows, so
another worker's offer, a made-up id and an offer that has moved on (expired, withdrawn, released) all end the same
way: the one polite ``NOT_AVAILABLE`` answer, and the buttons go away.

All of it runs in a worker thread (``sync_to_async``) under ``translation.override(user.language)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from backend.core.exceptions import ApplicationError, NotFound
from backend.staffing import selectors
from backend.staffing.exceptions import StaffingErrorCode
from backend.staffing.local_time import at_site, shift_span
from backend.staffing.models import Offer, OfferStatus
from backend.staffing.services import attendance, confirmations, money, offers
from backend.staffing.services.availability_days import (
    DAYS_AHEAD,
    DayAvailability,
    DayState,
    availability_day_set,
    availability_days,
)
from backend.staffing.services.buttons import offer_keyboard, shift_confirm_data

T = TypeVar("T")

#: Refusals that mean "this button no longer leads anywhere": answered exactly like a forged id.
STALE_CODES = frozenset(
    {
        "not_found",
        StaffingErrorCode.OFFER_NOT_OPEN,
        StaffingErrorCode.OFFER_EXPIRED,
        StaffingErrorCode.SHIFT_STARTED,
        StaffingErrorCode.CONFIRMATION_CLOSED,
        StaffingErrorCode.OFFER_NOT_ACCEPTED,
        StaffingErrorCode.INVALID_AVAILABILITY,
    }
)
#: The availability keyboard's callback data: ``wa:set:<yyyymmdd>:<1 free | 0 not free>``.
AVAIL_PREFIX = "wa"
AVAIL_SET = "set"
MAX_LISTED_OFFERS = 5
MAX_LISTED_LINES = 10


def not_available() -> str:
    return _("Sorry, this is no longer available.")


@dataclass
class Reply:
    """What the async handler sends: a toast for the button (``answer``; ``alert`` shows it as a dialog), a status
    line added under the message the button hangs on (``status``), the message's new buttons (``markup``; None
    removes them, unless ``keep_markup``), and separate messages to send (``messages``: text and buttons)."""

    answer: str | None = None
    alert: bool = False
    status: str | None = None
    markup: dict[str, Any] | None = None
    keep_markup: bool = False
    messages: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)


def _stale(exc: ApplicationError) -> bool:
    return isinstance(exc, NotFound) or exc.code in STALE_CODES


def _refused(exc: ApplicationError) -> Reply:
    if _stale(exc):
        return Reply(answer=not_available(), alert=False)
    # A refusal the worker can act on (another shift at that time, a suspended profile, a lock conflict): say why
    # and keep the buttons, the same press may work later.
    return Reply(answer=exc.message, alert=True, keep_markup=True)


def _guarded(call: Callable[[], Reply]) -> Reply:
    try:
        return call()
    except ApplicationError as exc:
        return _refused(exc)


def _when(offer: Offer) -> str:
    return shift_span(offer.shift)


def _offer_line(offer: Offer) -> str:
    order = offer.shift.order
    return _("%(title)s, %(site)s, %(when)s, %(rate)s %(currency)s/hour") % {
        "title": order.title,
        "site": order.site.address,
        "when": _when(offer),
        "rate": order.pay_rate,
        "currency": order.currency,
    }


def _card(offer_id: int) -> Offer:
    return Offer.objects.select_related("shift__order__site__organization").get(pk=offer_id)


# --- call-ups: Accept / Decline --------------------------------------------------------------------------------


def offer_answer(*, user: Any, action: str, offer_id: int) -> Reply:
    """Accept or decline the caller's offer ``offer_id`` (``action`` is "accept" or "decline")."""

    def run() -> Reply:
        if action == "accept":
            try:
                offer = offers.offer_accept(user=user, offer_id=offer_id)
            except offers.ShiftFull as full:
                # The race was lost: the kind refusal, and the worker stays on standby (the service's decision).
                return Reply(
                    answer=full.message,
                    alert=True,
                    status=_("All places were taken a moment ago. You are on standby."),
                )
            offer = _card(offer.pk)
            if offer.status == OfferStatus.CONFIRMED:
                status = _("You accepted and confirmed: %(line)s. See you there!") % {"line": _offer_line(offer)}
            else:
                status = _("You accepted: %(line)s. We will ask you to confirm the day before.") % {
                    "line": _offer_line(offer)
                }
            return Reply(answer=_("The place is yours!"), status="✅ " + status)
        if action == "decline":
            offers.offer_decline(user=user, offer_id=offer_id, reason="declined in Telegram")
            return Reply(answer=_("Declined. Thank you for answering."), status=_("You declined this offer."))
        return Reply(answer=not_available())

    return _guarded(run)


# --- the day-before question -----------------------------------------------------------------------------------


def confirmation_reply(*, user: Any, offer_id: int, come: bool) -> Reply:
    """The caller's yes / no to the day-before question about the place held by ``offer_id``."""

    def run() -> Reply:
        offer = _card(confirmations.confirmation_answer(user=user, offer_id=offer_id, come=come).pk)
        if come:
            return Reply(
                answer=_("Thank you! See you there."),
                status="✅ " + _("Confirmed: %(line)s.") % {"line": _offer_line(offer)},
            )
        return Reply(
            answer=_("Thank you for telling us in time."),
            status=_("You cannot come: the place goes to someone else."),
        )

    return _guarded(run)


# --- lists ---------------------------------------------------------------------------------------------------


def open_offers(*, user: Any, now: dt.datetime | None = None) -> Reply:
    """The caller's open call-ups, one message each with its Accept / Decline buttons."""
    rows = list(selectors.open_offers_of_worker(user=user, now=now)[:MAX_LISTED_OFFERS])
    if not rows:
        return Reply(messages=[(_("No open offers right now. We will write as soon as there is work."), None)])
    return Reply(messages=[(_("Work offer: %(line)s.") % {"line": _offer_line(o)}, offer_keyboard(o.pk)) for o in rows])


def my_shifts(*, user: Any, now: dt.datetime | None = None) -> Reply:
    """The caller's shifts that have not ended, with a Confirm button for each place not confirmed yet."""
    now = now or timezone.now()
    rows = list(selectors.upcoming_shifts_of_worker(user=user, now=now)[:MAX_LISTED_LINES])
    if not rows:
        return Reply(messages=[(_("You have no upcoming shifts."), None)])
    lines = [_("Your shifts:")]
    buttons = []
    for o in rows:
        lines.append(f"• {_offer_line(o)}: {o.get_status_display()}")
        if o.status == OfferStatus.ACCEPTED and o.shift.starts_at > now:
            label = _("Confirm %(day)s") % {"day": at_site(o.shift, o.shift.starts_at).strftime("%d.%m")}
            buttons.append([{"text": label, "callback_data": shift_confirm_data(o.pk, yes=True)}])
    markup = {"inline_keyboard": buttons} if buttons else None
    return Reply(messages=[("\n".join(lines), markup)])


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency}"


def earnings(*, user: Any, now: dt.datetime | None = None) -> Reply:
    """This month's earnings: the total and the latest worked shifts."""

    def run() -> Reply:
        first, today, found = money.worker_earnings_month(user=user, now=now)
        period = {"from": first.strftime("%d.%m"), "to": today.strftime("%d.%m")}
        if not found.lines:
            return Reply(messages=[(_("No worked shifts from %(from)s to %(to)s yet.") % period, None)])
        totals = ", ".join(_money(a, c) for c, a in sorted(found.totals.items()))
        lines = [
            _("Earned from %(from)s to %(to)s: %(totals)s for %(hours)s h.")
            % {**period, "totals": totals, "hours": found.hours}
        ]
        for line in found.lines[-MAX_LISTED_LINES:]:
            amount = _money(line.amount, line.currency)
            lines.append(f"• {line.date:%d.%m} {line.order_title}: {line.hours} h × {line.pay_rate} = {amount}")
        return Reply(messages=[("\n".join(lines), None)])

    return _guarded_message(run)


def rating(*, user: Any) -> Reply:
    """Reliability and rank with the reasons of the latest changes."""

    def run() -> Reply:
        worker, changes = attendance.worker_rating(user=user, limit=MAX_LISTED_LINES)
        lines = [
            _("Reliability %(reliability)d%%, rank %(rank).0f of 100. Shifts: %(shows)d, no-shows: %(no_shows)d.")
            % {
                "reliability": round(worker.reliability * 100),
                "rank": worker.rank,
                "shows": worker.shows_count,
                "no_shows": worker.no_shows_count,
            }
        ]
        if changes:
            lines.append(_("Why it changed:"))
        for change in changes:
            delta = change.rank_after - change.rank_before
            why = change.reason_text or change.get_reason_display()
            lines.append(f"• {change.occurred_at:%d.%m} {delta:+.1f}: {why}")
        return Reply(messages=[("\n".join(lines), None)])

    return _guarded_message(run)


def _guarded_message(call: Callable[[], Reply]) -> Reply:
    try:
        return call()
    except ApplicationError as exc:
        return Reply(messages=[(exc.message, None)])


# --- check-in and check-out ------------------------------------------------------------------------------------


def _degrees(value: float) -> Decimal:
    # The columns hold six decimals (about 0.1 m); Telegram sends more.
    return Decimal(str(round(float(value), 6)))


def check_in(*, user: Any, latitude: float, longitude: float, quiet: bool = False) -> Reply:
    """Check in at the shared point. ``quiet`` (a live location moving): only a success is worth a message."""
    try:
        done = attendance.attendance_check_in(user=user, latitude=_degrees(latitude), longitude=_degrees(longitude))
    except ApplicationError as exc:
        return Reply() if quiet else Reply(messages=[(exc.message, None)])
    offer = _card(done.offer_id)
    text = _("You are checked in: %(line)s, %(distance)d m from the site. Have a good shift!") % {
        "line": _offer_line(offer),
        "distance": round(done.check_in_distance_m or 0),
    }
    return Reply(messages=[(text, None)])


def check_out(*, user: Any, latitude: float, longitude: float) -> Reply:
    """Check out at the shared point: hours and pay are frozen by the service."""
    try:
        done = attendance.attendance_check_out(user=user, latitude=_degrees(latitude), longitude=_degrees(longitude))
    except ApplicationError as exc:
        return Reply(messages=[(exc.message, None)])
    offer = _card(done.offer_id)
    text = _("You checked out: %(hours)s h, %(amount)s. Thank you!") % {
        "hours": done.hours,
        "amount": _money(done.pay_amount or Decimal(0), offer.shift.order.currency),
    }
    return Reply(messages=[(text, None)])


# --- availability by days --------------------------------------------------------------------------------------


def _avail_data(day: dt.date, free: bool) -> str:
    return f"{AVAIL_PREFIX}:{AVAIL_SET}:{day:%Y%m%d}:{1 if free else 0}"


def _day_button(day: DayAvailability) -> dict[str, str]:
    label = date_format(day.day, "D d.m")
    if day.state == DayState.FREE:
        text = "✅ " + _("%(day)s: free") % {"day": label}
    elif day.state == DayState.PARTLY:
        hours = ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in day.windows)
        text = "◐ " + _("%(day)s: %(hours)s") % {"day": label, "hours": hours}
    else:
        text = "✖ " + _("%(day)s: not free") % {"day": label}
    # A tap switches: a free or partly free day becomes not free, a day off becomes free all day.
    return {"text": text, "callback_data": _avail_data(day.day, day.state == DayState.BUSY)}


def _days_markup(days: list[DayAvailability]) -> dict[str, Any]:
    return {"inline_keyboard": [[_day_button(d)] for d in days]}


def availability_text() -> str:
    return _("When can you work? Tap a day to switch it between free all day and not free.")


def availability(*, user: Any, now: dt.datetime | None = None) -> Reply:
    """The coming days with their state, one button each."""

    def run() -> Reply:
        days = availability_days(user=user, days=DAYS_AHEAD, now=now)
        return Reply(messages=[(availability_text(), _days_markup(days))])

    return _guarded_message(run)


def availability_switch(*, user: Any, day: dt.date, free: bool, now: dt.datetime | None = None) -> Reply:
    """A tap on a day: set it free or not free, then show the days again."""

    def run() -> Reply:
        availability_day_set(user=user, day=day, free=free, now=now)
        days = availability_days(user=user, days=DAYS_AHEAD, now=now)
        return Reply(answer=_("Saved."), markup=_days_markup(days))

    return _guarded(run)
