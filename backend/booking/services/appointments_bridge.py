"""Where the client-messaging rules write appointments: the waiting list's held slot, and the client's confirmation.

A waiting-list offer holds its slot as an appointment of the waiting client in status ``held`` (``channel=waitlist``,
``hold_expires_at`` = the end of the hold). ``held`` is one of the active statuses, so its occupancy counts and the
database's no-double-booking guard (decision 0009: exclusion constraints on PostgreSQL, triggers on SQLite) keeps
everyone else off the slot during the hold. Creating it can fail like any booking: the guard's ``IntegrityError`` is
answered as ``Conflict(slot_taken)``, and the waiting list moves on. The transitions are the model's
(``held -> booked | cancelled``); "my appointments" and the reminders leave held ones out.

* ``hold_appointment_create``: the held appointment (one line, the master's price and duration snapshot);
* ``hold_appointment_keep``: the offer was taken — held -> booked, and ``appointment_changed(CREATED)`` schedules its
  reminders;
* ``hold_appointment_release``: the offer ended without being taken — held -> cancelled, its occupancy freed, and
  ``appointment_changed(CANCELLED)`` offers the slot to the next entry;
* ``appointment_confirm_by_client``: the client's answer to the confirmation request (booked -> confirmed).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.booking.exceptions_comms import BookingCommsErrorCode
from backend.booking.models import (
    STATUS_TRANSITIONS,
    Appointment,
    AppointmentLine,
    AppointmentStatus,
    BookingChannel,
    Occupancy,
)
from backend.booking.models_comms import WaitlistEntry, WaitlistOffer
from backend.catalog.models import StaffService
from backend.core.events import event_record, snapshot
from backend.core.exceptions import Conflict
from backend.core.models import EventAction
from backend.organizations.permissions import Perm

APPOINTMENT_FIELDS = ("client", "staff", "starts_at", "ends_at", "status", "channel", "price")


@transaction.atomic
def hold_appointment_create(*, entry: WaitlistEntry, offer: WaitlistOffer) -> Appointment:
    """Hold ``offer``'s slot for ``entry``'s client; ``Conflict(slot_taken)`` if the guard refuses it."""
    link = StaffService.objects.select_related("service").get(
        staff_id=offer.staff_id, service_id=entry.service_id, is_active=True
    )
    service = link.service
    price = link.price if link.price is not None else service.price
    before = dt.timedelta(minutes=service.buffer_before_minutes)
    after = dt.timedelta(minutes=service.buffer_after_minutes)
    try:
        with transaction.atomic():
            appointment = Appointment.objects.create(
                organization_id=entry.organization_id,
                branch_id=entry.branch_id,
                client_id=entry.client_id,
                customer_id=entry.customer_id,
                staff_id=offer.staff_id,
                starts_at=offer.starts_at,
                ends_at=offer.ends_at,
                status=AppointmentStatus.HELD,
                hold_expires_at=offer.hold_until,
                channel=BookingChannel.WAITLIST,
                price=price,
                currency=entry.organization.currency,
                created_by=None,
            )
            line = AppointmentLine.objects.create(
                appointment=appointment,
                position=0,
                service=service,
                staff_id=offer.staff_id,
                starts_at=offer.starts_at,
                ends_at=offer.ends_at,
                duration_minutes=int((offer.ends_at - offer.starts_at).total_seconds() // 60),
                buffer_before_minutes=service.buffer_before_minutes,
                buffer_after_minutes=service.buffer_after_minutes,
                price=price,
            )
            Occupancy.objects.create(
                organization_id=entry.organization_id,
                branch_id=entry.branch_id,
                staff_id=offer.staff_id,
                starts_at=offer.starts_at - before,
                ends_at=offer.ends_at + after,
                line=line,
                is_active=True,
            )
    except IntegrityError as exc:  # the exclusion constraint / trigger: somebody holds this time
        raise Conflict(_("This time is already taken."), code=BookingCommsErrorCode.SLOT_TAKEN) from exc
    event_record(
        entity=appointment,
        action=EventAction.CREATE,
        after=snapshot(appointment, APPOINTMENT_FIELDS),
        note="waiting list: held for an offer",
    )
    return appointment


def hold_appointment_keep(*, offer: WaitlistOffer, actor: Any) -> Appointment:
    """The client took the offer: their held appointment becomes a booking (held -> booked) with its reminders."""
    from .reminders import AppointmentChange, appointment_changed

    appointment = Appointment.objects.select_for_update().filter(pk=offer.appointment_id or 0).first()
    if appointment is None or appointment.status != AppointmentStatus.HELD:
        raise Conflict(_("This offer is no longer open."), code=BookingCommsErrorCode.OFFER_GONE)
    before = snapshot(appointment, APPOINTMENT_FIELDS)
    appointment.status, appointment.status_changed_at = AppointmentStatus.BOOKED, timezone.now()
    appointment.hold_expires_at = None
    appointment.save(update_fields=["status", "status_changed_at", "hold_expires_at", "updated_at"])
    event_record(
        entity=appointment,
        action=EventAction.STATUS,
        actor=actor,
        before=before,
        after=snapshot(appointment, APPOINTMENT_FIELDS),
        note="waiting list: offer taken",
    )
    appointment_changed(appointment=appointment, change=AppointmentChange.CREATED, actor=actor)
    return appointment


def hold_appointment_release(*, offer: WaitlistOffer, actor: Any) -> None:
    """The offer ended untaken: cancel the held appointment (freeing its time) and let the hook pass the slot on."""
    from .reminders import AppointmentChange, appointment_changed

    appointment = Appointment.objects.select_for_update().filter(pk=offer.appointment_id or 0).first()
    if appointment is None or appointment.status != AppointmentStatus.HELD:
        return
    before = snapshot(appointment, APPOINTMENT_FIELDS)
    now = timezone.now()
    appointment.status, appointment.status_changed_at, appointment.cancelled_at = AppointmentStatus.CANCELLED, now, now
    appointment.cancel_reason, appointment.hold_expires_at = "waiting list: offer not taken", None
    appointment.save(
        update_fields=["status", "status_changed_at", "cancelled_at", "cancel_reason", "hold_expires_at", "updated_at"]
    )
    Occupancy.objects.filter(line__appointment=appointment).update(is_active=False)
    event_record(
        entity=appointment,
        action=EventAction.STATUS,
        actor=actor,
        before=before,
        after=snapshot(appointment, APPOINTMENT_FIELDS),
        note="waiting list: hold released",
    )
    appointment_changed(
        appointment=appointment, change=AppointmentChange.CANCELLED, actor=actor, previous_status=AppointmentStatus.HELD
    )


@transaction.atomic
def appointment_confirm_by_client(*, user: Any, appointment_id: int) -> Appointment:
    """The client confirms their visit (the answer to the confirmation request): booked -> confirmed.

    Confirming a confirmed visit changes nothing; any other status is a 409 ``not_confirmable``.
    """
    from .reminders import AppointmentChange, appointment_changed
    from .reviews import appointment_for_client_action

    appointment = appointment_for_client_action(
        user=user, appointment_id=appointment_id, staff_perm=Perm.BOOKING_MANAGE
    )
    if appointment.status == AppointmentStatus.CONFIRMED:
        return appointment
    if AppointmentStatus.CONFIRMED not in STATUS_TRANSITIONS.get(appointment.status, frozenset()):
        raise Conflict(_("This visit cannot be confirmed any more."), code=BookingCommsErrorCode.NOT_CONFIRMABLE)
    before = snapshot(appointment, APPOINTMENT_FIELDS)
    previous = appointment.status
    appointment.status, appointment.status_changed_at = AppointmentStatus.CONFIRMED, timezone.now()
    appointment.save(update_fields=["status", "status_changed_at", "updated_at"])
    event_record(
        entity=appointment,
        action=EventAction.STATUS,
        actor=user,
        before=before,
        after=snapshot(appointment, APPOINTMENT_FIELDS),
        note="confirmed by the client",
    )
    appointment_changed(appointment=appointment, change=AppointmentChange.STATUS, actor=user, previous_status=previous)
    return appointment
