"""Where the client-messaging rules change appointments: always through the appointment services.

A waiting-list offer holds its slot as an appointment of the waiting client in status ``held`` (``channel=waitlist``,
``hold_expires_at`` = the end of the hold), made by ``appointments.appointment_hold``. ``held`` is one of the active
statuses, so its occupancy counts and the database's no-double-booking guard (decision 0009: exclusion constraints on
PostgreSQL, triggers on SQLite) keeps everyone else off the slot during the hold; "my appointments" and the
reminders leave held ones out.

* ``hold_appointment_create``: the hold, by the rules of a staff booking (the master works then, the service is
  offered at the branch); ``None`` when they refuse it (the slot is taken after all, or no longer bookable);
* ``hold_appointment_keep``: the offer was taken — held -> booked (``appointment_hold_take``), whose hook schedules
  the reminders;
* ``hold_appointment_release``: the offer ended untaken — held -> cancelled (``appointment_hold_release``), whose hook
  offers the slot to the next entry;
* ``appointment_confirm_by_client``: the client's answer to the confirmation request (booked -> confirmed).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from backend.accounts.models import User
from backend.booking.exceptions_comms import BookingCommsErrorCode
from backend.booking.models import STATUS_TRANSITIONS, Appointment, AppointmentStatus
from backend.booking.models_comms import WaitlistEntry, WaitlistOffer
from backend.core.exceptions import Conflict, ValidationFailed
from backend.organizations.permissions import Perm

from . import appointments


def hold_appointment_create(
    *, entry: WaitlistEntry, offer: WaitlistOffer, hold_minutes: int, now: dt.datetime
) -> Appointment | None:
    """Hold ``offer``'s slot for ``entry``'s client until the offer's ``hold_until``; ``None`` if it cannot be held.

    The hold's customer is the account that joined, else the active account with the client's phone (the client
    takes the offer in the app with it, and then sees the visit among their own).
    """
    customer_id = entry.customer_id
    if customer_id is None:
        customer_id = User.objects.filter(phone=entry.client.phone, is_active=True).values_list("pk", flat=True).first()
    try:
        with transaction.atomic():
            return appointments.appointment_hold(
                branch_id=entry.branch_id,
                client_id=entry.client_id,
                service_ids=[entry.service_id],
                start=offer.starts_at,
                hold_minutes=hold_minutes,
                staff_id=offer.staff_id,
                customer_id=customer_id,
                actor=None,
                now=now,
            )
    except (Conflict, ValidationFailed):
        return None  # taken after all (the guard said so), or no longer bookable (schedule, service switched off)


def hold_appointment_keep(*, offer: WaitlistOffer, actor: Any) -> Appointment:
    """The client took the offer: their held appointment becomes a booking (held -> booked) with its reminders."""
    if offer.appointment_id is None:
        raise Conflict(_("This offer is no longer open."), code=BookingCommsErrorCode.OFFER_GONE)
    try:
        return appointments.appointment_hold_take(user=actor, appointment_id=offer.appointment_id)
    except Conflict as exc:
        raise Conflict(_("This offer is no longer open."), code=BookingCommsErrorCode.OFFER_GONE) from exc


def hold_appointment_release(*, offer: WaitlistOffer, actor: Any) -> None:
    """The offer ended untaken: held -> cancelled; the appointment service's hook passes the slot on."""
    if offer.appointment_id is not None:
        appointments.appointment_hold_release(appointment_id=offer.appointment_id, actor=actor)


@transaction.atomic
def appointment_confirm_by_client(*, user: Any, appointment_id: int) -> Appointment:
    """The client confirms their visit (the answer to the confirmation request): booked -> confirmed.

    Confirming a confirmed visit changes nothing; any other status is a 409 ``not_confirmable``. The move itself is
    the appointment service's (``appointment_status_set``), which tells the reminders.
    """
    from .reviews import appointment_for_client_action

    appointment = appointment_for_client_action(
        user=user, appointment_id=appointment_id, staff_perm=Perm.BOOKING_MANAGE
    )
    if appointment.status == AppointmentStatus.CONFIRMED:
        return appointment
    if AppointmentStatus.CONFIRMED not in STATUS_TRANSITIONS.get(appointment.status, frozenset()):
        raise Conflict(_("This visit cannot be confirmed any more."), code=BookingCommsErrorCode.NOT_CONFIRMABLE)
    return appointments.appointment_status_set(
        user=user, appointment_id=appointment_id, status=AppointmentStatus.CONFIRMED
    )
