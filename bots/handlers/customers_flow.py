"""The customer's steps, as plain synchronous functions: take the caller, their flow state and a button's data,
call the booking services and selectors, and return the next ``Screen`` and state. ``customers`` runs them in a
worker thread (``sync_to_async``) and talks to Telegram.

No rule lives here: which branches, services, masters, days and slots are offered, whether a visit may be moved or
cancelled, whether a slot is still free — each is the booking layer's answer, asked afresh at every step (a slot is
never remembered: the booking itself decides, race-safe, and a loser hears "just taken" with the next free time).
Every id a button carries goes back through those services as the caller's own; a refusal of an object the caller
may not see is the same ``not_available`` as a vanished one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from backend.booking import customer_selectors as reads
from backend.booking.exceptions import BookingErrorCode
from backend.booking.exceptions_comms import BookingCommsErrorCode
from backend.booking.selectors import booking_context, next_free_slots
from backend.booking.services import customer_actions as actions
from backend.booking.services.appointments import appointment_create_for_customer, visit_quote
from backend.core.exceptions import ApplicationError, Conflict, NotFound, PermissionDenied

from . import customers_screens as screens
from .customers_screens import Screen

State = dict[str, Any]
#: The flow names under which the steps keep their state.
BOOK_FLOW = "book"
REVIEW_FLOW = "review"
#: How many next free slots a "just taken" answer offers.
NEXT_OFFERED = 3


@dataclass(frozen=True)
class Customer:
    """The caller: the account linked to their Telegram user, and the organization (and branch) of the link they
    came by."""

    user: Any
    organization_id: int | None
    branch_id: int | None = None


def _guarded(step: Callable[[], tuple[Screen, State | None]], state: State | None) -> tuple[Screen, State | None]:
    """Run a step; what the caller may not see, what has gone, or what no real button asks answers
    ``not_available`` and keeps the state."""
    try:
        return step()
    except ApplicationError:
        # Not the caller's, gone, or a read refused for input no button of ours carries (a day in the past, past
        # the search bound): the steps answer the refusals a customer can act on themselves.
        return screens.not_available(), state
    except (ValueError, IndexError, KeyError, OverflowError, OSError):  # malformed data: no real button sends it
        return screens.not_available(), state


def _parts(data: str) -> list[str]:
    return data.split(":")


# --- booking -----------------------------------------------------------------------------------------------------


def book_start(who: Customer, now: dt.datetime | None = None) -> tuple[Screen, State | None]:
    """The first step: the branches of the organization (skipped when the link named a branch or there is one)."""
    if who.organization_id is None:
        return screens.not_available(), None
    branches = list(reads.customer_branches(user=who.user, organization_id=who.organization_id))
    ids = [b.pk for b in branches]
    if who.branch_id in ids or len(ids) == 1:
        branch_id = who.branch_id if who.branch_id in ids else ids[0]
        state: State = {"branch": branch_id, "services": []}
        return _services(who, state), state
    return screens.branches_screen(branches), {"services": []}


def _branch_check(who: Customer, branch_id: int) -> Any:
    """The branch, when it is one the caller may book in the organization they came by (else a 404)."""
    branch = next(
        (
            b
            for b in reads.customer_branches(user=who.user, organization_id=who.organization_id or 0)
            if b.pk == branch_id
        ),
        None,
    )
    if branch is None:
        raise NotFound("branch")
    return branch


def _services(who: Customer, state: State) -> Screen:
    branch = _branch_check(who, state["branch"])
    services = list(reads.customer_services(user=who.user, branch_id=branch.pk))
    return screens.services_screen(branch, services, state.get("services", []))


def _days(who: Customer, state: State, first_day: dt.date | None, now: dt.datetime) -> Screen:
    today = reads.branch_today(user=who.user, branch_id=state["branch"], now=now)
    first = max(first_day or today, today)
    days = reads.slot_days(
        user=who.user,
        branch_id=state["branch"],
        service_ids=state["services"],
        first_day=first,
        staff_id=state.get("staff"),
        now=now,
    )
    next_from = first + dt.timedelta(days=reads.DAYS_PER_PAGE)
    return screens.days_screen(days, next_from, target=screens.BOOKING, waitlist=len(state["services"]) == 1)


def _slots(who: Customer, state: State, day: dt.date, page: int, now: dt.datetime) -> Screen:
    search = reads.day_slots(
        user=who.user,
        branch_id=state["branch"],
        service_ids=state["services"],
        day=day,
        staff_id=state.get("staff"),
        now=now,
    )
    return screens.slots_screen(day, [s.start for s in search.slots], search.context.zone, page, target=screens.BOOKING)


def _just_taken(who: Customer, state: State, after: dt.datetime, now: dt.datetime) -> Screen:
    context = booking_context(user=who.user, branch_id=state["branch"])
    slots = next_free_slots(
        branch_id=context.branch.pk,
        service_ids=state["services"],
        after=after,
        staff_id=state.get("staff"),
        public=context.public,
        limit=NEXT_OFFERED,
        now=now,
    )
    today = now.astimezone(context.zone).date()
    return screens.just_taken_screen([s.start for s in slots], context.zone, target=screens.BOOKING, today=today)


def _confirm(who: Customer, state: State, start: dt.datetime, now: dt.datetime) -> Screen:
    common = {"user": who.user, "branch_id": state["branch"], "service_ids": state["services"]}
    quote = visit_quote(start=start, staff_id=state.get("staff"), now=now, **common)
    if quote is None:
        return _just_taken(who, state, start, now)
    branch = _branch_check(who, state["branch"])
    services = {s.pk: s.name for s in reads.customer_services(user=who.user, branch_id=branch.pk)}
    masters = {m.pk: m for m in reads.visit_masters(**common)}
    staff_ids = list(dict.fromkeys(line.staff_id for line in quote.slot.lines))
    master_names = ", ".join(screens.person(masters[s]) for s in staff_ids if s in masters)
    return screens.confirm_screen(
        services=[services[line.service_id] for line in quote.slot.lines],
        master=master_names,
        start=start,
        zone=ZoneInfo(branch.effective_time_zone),
        branch=branch.name,
        price=screens.money(quote.price, quote.currency),
    )


def _book(who: Customer, state: State, start: dt.datetime, now: dt.datetime) -> tuple[Screen, State | None]:
    try:
        appointment = appointment_create_for_customer(
            user=who.user,
            branch_id=state["branch"],
            service_ids=state["services"],
            start=start,
            staff_id=state.get("staff"),
            now=now,
        )
    except Conflict as exc:
        if exc.code == BookingErrorCode.SLOT_TAKEN:
            return _just_taken(who, state, start, now), state
        return _other_days(who, state, exc.message), state
    except ApplicationError as exc:
        if isinstance(exc, (NotFound, PermissionDenied)):
            raise
        return _other_days(who, state, exc.message), state
    appointment = reads.customer_visit(user=who.user, appointment_id=appointment.pk)
    return screens.booked_screen(appointment), None


def _other_days(who: Customer, state: State, message: str) -> Screen:
    """A booking refused for a reason of its own (the client already has a visit then, too soon...): its words, and
    the way back to the days."""
    today = reads.branch_today(user=who.user, branch_id=state["branch"])
    return screens.refused(message, [[(screens.other_days_label(), f"cb:dp:{screens.day_code(today)}")]])


def booking_step(
    who: Customer, state: State | None, data: str, now: dt.datetime | None = None
) -> tuple[Screen, State | None]:
    """One press of a ``cb:`` button: the next screen and the flow's state (None: the flow is over)."""
    now = now or timezone.now()
    parts = _parts(data)
    action = parts[1] if len(parts) > 1 else ""
    if action == "start":
        return _guarded(lambda: book_start(who, now), state)
    if action == "x":
        return screens.stopped_screen(), None
    if state is None:
        return screens.out_of_date(), None
    current: State = dict(state)

    def step() -> tuple[Screen, State | None]:
        if action == "b":
            current.update(branch=int(parts[2]), services=[], staff=None)
            _branch_check(who, current["branch"])
            return _services(who, current), current
        if "branch" not in current:
            return screens.out_of_date(), None
        if action == "s":
            service_id = int(parts[2])
            chosen: list[int] = list(current.get("services", []))
            if service_id in chosen:
                chosen.remove(service_id)
            else:
                # The service must be one the caller may book here (else a 404 like any forged id).
                if (
                    not reads.customer_services(user=who.user, branch_id=current["branch"])
                    .filter(pk=service_id)
                    .exists()
                ):
                    raise NotFound("service")
                chosen.append(service_id)
            current["services"] = chosen
            return _services(who, current), current
        if not current.get("services"):
            return screens.out_of_date(), None
        if action == "sd":
            if len(parts) > 2:  # back from the masters to the services
                return _services(who, current), current
            try:
                masters = reads.visit_masters(
                    user=who.user, branch_id=current["branch"], service_ids=current["services"]
                )
            except ApplicationError as exc:
                if isinstance(exc, (NotFound, PermissionDenied)):
                    raise
                return screens.refused(exc.message, _services(who, current).rows), current
            return screens.masters_screen(masters), current
        if action == "m":
            staff_id = int(parts[2]) or None
            if staff_id is not None:
                masters = reads.visit_masters(
                    user=who.user, branch_id=current["branch"], service_ids=current["services"]
                )
                if staff_id not in {m.pk for m in masters}:
                    raise NotFound("master")
            current["staff"] = staff_id
            return _days(who, current, None, now), current
        if action == "dp":
            return _days(who, current, screens.day_of(parts[2]), now), current
        if action == "d":
            day = screens.day_of(parts[2])
            current["day"] = parts[2]
            return _slots(who, current, day, 0, now), current
        if action == "tp":
            return _slots(who, current, screens.day_of(parts[2]), int(parts[3]), now), current
        if action == "t":
            return _confirm(who, current, screens.moment_of(int(parts[2])), now), current
        if action == "ok":
            return _book(who, current, screens.moment_of(int(parts[2])), now)
        if action == "w":
            today = reads.branch_today(user=who.user, branch_id=current["branch"], now=now)
            return screens.waitlist_days_screen([today + dt.timedelta(days=i) for i in range(7)]), current
        if action == "wd":
            day = screens.day_of(parts[2])
            try:
                actions.customer_waitlist_join_day(
                    user=who.user,
                    branch_id=current["branch"],
                    service_id=current["services"][0],
                    day=day,
                    staff_id=current.get("staff"),
                    now=now,
                )
            except ApplicationError as exc:
                if isinstance(exc, (NotFound, PermissionDenied)):
                    raise
                return screens.refused(exc.message), current
            return screens.waitlist_joined_screen(day), None
        return screens.out_of_date(), state

    return _guarded(step, state)


# --- my bookings, cancel, confirm, rate --------------------------------------------------------------------------


def my_visits(who: Customer, now: dt.datetime | None = None) -> Screen:
    return screens.my_visits_screen(reads.customer_upcoming_visits(user=who.user, now=now))


def my_step(who: Customer, data: str, now: dt.datetime | None = None) -> Screen:
    """A ``cm:`` button: the list, or one visit with its Move / Cancel buttons."""
    parts = _parts(data)

    def step() -> tuple[Screen, State | None]:
        if parts[1] == "l":
            return my_visits(who, now), None
        if parts[1] == "v":
            visit = reads.customer_visit(user=who.user, appointment_id=int(parts[2]))
            return screens.visit_screen(visit, open_=reads.visit_is_open(visit)), None
        return screens.not_available(), None

    return _guarded(step, None)[0]


#: Refusals that mean "this button's object has moved on" (a visit no longer open, an offer closed): answered as
#: ``not_available``, the same words as for an id that is not the caller's.
_GONE = frozenset(
    {BookingErrorCode.INVALID_TRANSITION, BookingCommsErrorCode.OFFER_GONE, BookingCommsErrorCode.NOT_CONFIRMABLE}
)


def _refusal(exc: ApplicationError) -> Screen:
    """A service's refusal about the caller's own object: its own words (never reached for a stranger's object,
    which is a 404 before any rule is checked)."""
    if isinstance(exc, (NotFound, PermissionDenied)):
        return screens.not_available()
    if exc.code in _GONE:
        return screens.not_available()
    return screens.refused(exc.message)


def appointment_step(who: Customer, data: str, now: dt.datetime | None = None) -> tuple[Screen, State | None]:
    """An ``appt:`` button (the reminders' Confirm / Cancel, the rating's 1-10, ours): the answer, and the rating
    comment awaited next (a state) after a score."""
    parts = _parts(data)

    def step() -> tuple[Screen, State | None]:
        action, appointment_id = parts[1], int(parts[2])
        try:
            if action == "confirm":
                return screens.confirmed_screen(
                    actions.customer_visit_confirm(user=who.user, appointment_id=appointment_id)
                ), None
            if action == "cancel":
                visit = reads.customer_visit(user=who.user, appointment_id=appointment_id)
                if not reads.visit_is_open(visit):
                    return screens.not_available(), None
                return screens.cancel_ask_screen(visit), None
            if action == "cx":
                actions.customer_visit_cancel(user=who.user, appointment_id=appointment_id, now=now)
                visit = reads.customer_visit(user=who.user, appointment_id=appointment_id)
                return screens.cancelled_screen(visit), None
            if action == "keep":
                return screens.kept_screen(reads.customer_visit(user=who.user, appointment_id=appointment_id)), None
            if action == "rate":
                score = int(parts[3])
                actions.customer_visit_rate(user=who.user, appointment_id=appointment_id, score=score)
                return screens.rated_screen(appointment_id, score), {"appointment": appointment_id}
            if action == "nc":
                reads.customer_visit(user=who.user, appointment_id=appointment_id)
                return screens.no_comment_screen(), None
        except ApplicationError as exc:
            return _refusal(exc), None
        return screens.not_available(), None

    return _guarded(step, None)


def review_comment(who: Customer, state: State, text: str) -> Screen:
    """The free text that follows a rating: its comment."""
    try:
        actions.customer_review_comment(user=who.user, appointment_id=int(state["appointment"]), comment=text)
    except ApplicationError as exc:
        screen = _refusal(exc)
        return screens.Screen(screen.text, screen.rows, new_message=True)
    return screens.comment_saved_screen()


# --- moving a visit ----------------------------------------------------------------------------------------------


def move_step(who: Customer, data: str, now: dt.datetime | None = None) -> Screen:
    """An ``cr:`` button: the days and slots for moving one of the caller's visits, the question, the move."""
    now = now or timezone.now()
    parts = _parts(data)

    def step() -> tuple[Screen, State | None]:
        action, appointment_id = parts[1], int(parts[2])
        visit = reads.customer_visit(user=who.user, appointment_id=appointment_id)
        if not reads.visit_is_open(visit):
            return screens.not_available(), None
        target = screens.moving(appointment_id)
        zone = ZoneInfo(visit.branch.effective_time_zone)
        today = now.astimezone(zone).date()
        if action in ("s", "dp"):
            first = max(screens.day_of(parts[3]), today) if action == "dp" else today
            days = reads.reschedule_days(user=who.user, appointment_id=appointment_id, first_day=first, now=now)
            screen = screens.days_screen(
                days, first + dt.timedelta(days=reads.DAYS_PER_PAGE), target=target, back=f"cm:v:{appointment_id}"
            )
            return screen, None
        if action in ("d", "tp"):
            day = screens.day_of(parts[3])
            page = int(parts[4]) if action == "tp" else 0
            search = reads.reschedule_slots(user=who.user, appointment_id=appointment_id, day=day, now=now)
            return screens.slots_screen(day, [s.start for s in search.slots], zone, page, target=target), None
        if action == "t":
            return screens.move_ask_screen(visit, screens.moment_of(int(parts[3]))), None
        if action == "ok":
            start = screens.moment_of(int(parts[3]))
            try:
                moved = actions.customer_visit_reschedule(
                    user=who.user, appointment_id=appointment_id, start=start, now=now
                )
            except Conflict as exc:
                if exc.code == BookingErrorCode.SLOT_TAKEN:
                    starts = [dt.datetime.fromisoformat(s["start"]) for s in exc.fields.get("next_slots", [])]
                    return screens.just_taken_screen(starts, zone, target=target, today=today), None
                return _refusal(exc), None
            except ApplicationError as exc:
                return _refusal(exc), None
            return screens.moved_screen(reads.customer_visit(user=who.user, appointment_id=moved.pk)), None
        return screens.not_available(), None

    return _guarded(step, None)[0]


# --- waiting-list offers -----------------------------------------------------------------------------------------


def offer_step(who: Customer, data: str) -> Screen:
    """A ``wl:`` button of a waiting-list offer: take it (the held slot becomes the caller's visit) or decline."""
    parts = _parts(data)

    def step() -> tuple[Screen, State | None]:
        action, offer_id = parts[1], int(parts[2])
        try:
            if action == "take":
                appointment = actions.customer_offer_take(user=who.user, offer_id=offer_id)
                return screens.offer_taken_screen(
                    reads.customer_visit(user=who.user, appointment_id=appointment.pk)
                ), None
            if action == "decline":
                actions.customer_offer_decline(user=who.user, offer_id=offer_id)
                return screens.offer_declined_screen(), None
        except ApplicationError as exc:
            return _refusal(exc), None
        return screens.not_available(), None

    return _guarded(step, None)[0]
