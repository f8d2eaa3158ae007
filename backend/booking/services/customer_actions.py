"""What a customer does with their own visits from a messenger (the Telegram bot's buttons): confirm, cancel,
move, rate and comment, join the waiting list, take or decline an offer.

A button's id is a boundary: whoever sends it acts **only as the client themselves**
(``customer_selectors.customer_visit`` / ``customer_offer``: the account that booked or joined, or the account with
the client's phone). Staff rights the same account may hold elsewhere do not apply here, so a forged id of somebody
else's visit is a 404 even for a manager of that organization. Each action then runs through the one service that
owns the rule (cutoffs, transitions, the race-safe booking), unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from backend.booking.customer_selectors import customer_offer, customer_visit
from backend.booking.models import Appointment
from backend.booking.models_comms import Review, WaitlistEntry, WaitlistOffer
from backend.booking.selectors import booking_context
from backend.booking.services.availability import local_day_bounds

from . import appointments, appointments_bridge, reviews, waitlist


def customer_visit_cancel(*, user: Any, appointment_id: int, now: dt.datetime | None = None) -> Appointment:
    """Cancel one of the caller's own visits (up to the cutoff: ``appointments.appointment_cancel``)."""
    customer_visit(user=user, appointment_id=appointment_id)
    return appointments.appointment_cancel(user=user, appointment_id=appointment_id, now=now)


def customer_visit_confirm(*, user: Any, appointment_id: int) -> Appointment:
    """Confirm one of the caller's own visits (``appointments_bridge.appointment_confirm_by_client``)."""
    customer_visit(user=user, appointment_id=appointment_id)
    return appointments_bridge.appointment_confirm_by_client(user=user, appointment_id=appointment_id)


def customer_visit_reschedule(
    *, user: Any, appointment_id: int, start: dt.datetime, now: dt.datetime | None = None
) -> Appointment:
    """Move one of the caller's own visits to ``start`` (``appointments.appointment_reschedule``: 409
    ``slot_taken`` with the next free slots when someone was faster)."""
    customer_visit(user=user, appointment_id=appointment_id)
    return appointments.appointment_reschedule(user=user, appointment_id=appointment_id, start=start, now=now)


def customer_visit_rate(*, user: Any, appointment_id: int, score: int) -> Review:
    """Rate one of the caller's own done visits from 1 to 10 (``reviews.review_submit``)."""
    customer_visit(user=user, appointment_id=appointment_id)
    return reviews.review_submit(user=user, appointment_id=appointment_id, score=score)


def customer_review_comment(*, user: Any, appointment_id: int, comment: str) -> Review:
    """Add the comment to the caller's own rating (``reviews.review_comment_add``)."""
    customer_visit(user=user, appointment_id=appointment_id)
    return reviews.review_comment_add(user=user, appointment_id=appointment_id, comment=comment)


def customer_offer_take(*, user: Any, offer_id: int) -> Appointment:
    """Take one of the caller's own waiting-list offers (``waitlist.waitlist_offer_take``: 409 ``offer_gone``)."""
    customer_offer(user=user, offer_id=offer_id)
    return waitlist.waitlist_offer_take(user=user, offer_id=offer_id)


def customer_offer_decline(*, user: Any, offer_id: int) -> WaitlistOffer:
    """Decline one of the caller's own waiting-list offers (``waitlist.waitlist_offer_decline``)."""
    customer_offer(user=user, offer_id=offer_id)
    return waitlist.waitlist_offer_decline(user=user, offer_id=offer_id)


def customer_waitlist_join_day(
    *,
    user: Any,
    branch_id: int,
    service_id: int,
    day: dt.date,
    staff_id: int | None = None,
    now: dt.datetime | None = None,
) -> WaitlistEntry:
    """Wait for a place on one local day at the branch (from now on, when the day is today): the caller joins as
    themselves (``waitlist.waitlist_join``)."""
    context = booking_context(user=user, branch_id=branch_id)
    start, end = local_day_bounds(context.zone, day)
    start = max(start, (now or timezone.now()).replace(second=0, microsecond=0))
    return waitlist.waitlist_join(
        user=user, branch_id=branch_id, service_id=service_id, windows=[(start, end)], staff_id=staff_id
    )
