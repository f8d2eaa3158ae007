"""Reminders and follow-ups of appointments, through the task queue and the outbox.

**The hook.** The appointment services call ``appointment_changed(appointment=..., change=...)`` inside their own
transaction, after the appointment (and its lines) are saved, for every change a client should hear about:

* ``AppointmentChange.CREATED``: reminders are scheduled at the organization's offsets
  (``Organization.booking_reminder_offsets_minutes``, default 24 h and 2 h before the start);
* ``RESCHEDULED`` (pass ``previous_starts_at`` / ``previous_ends_at`` / ``previous_staff_id``): the reminders move to
  the new time, and the old slot is offered to the waiting list;
* ``CANCELLED``: the reminders are dropped, and the slot is offered to the waiting list;
* ``STATUS`` (pass ``previous_status``): after ``done`` the 1-10 rating request is scheduled; once the client has
  arrived, is done or did not come, the reminders still waiting are dropped.

The hook writes only in the caller's transaction (rows here, task rows with ``run_after``, outbox rows), so nothing
is scheduled for a change that rolls back; it never raises for a business reason.

**Exactly once, at the right time.** Each reminder is an ``AppointmentMessage`` row (appointment, kind, offset) with
a ``due_at`` and a ``version``. Scheduling enqueues ``appointment_message_send_task(message_id, version)`` with
``run_after=due_at``. Moving the appointment moves ``due_at`` and bumps ``version``, and enqueues a task for the new
moment; the task of the old moment still runs, finds a newer version and does nothing. The send itself locks the row,
checks version and status, queues the outbox message under the key ``booking:apptmsg:<id>:v<version>`` and marks the
row sent in one transaction, so neither a duplicate task nor a retry after a crash sends twice.

**The confirmation request** is the first reminder of a visit that is still ``booked`` (when the organization asks
for confirmations): its text asks the client to confirm, with confirm / cancel buttons on Telegram. The answer
(``appointment_confirm_by_client``) moves the appointment to ``confirmed`` through the appointment service.
"""

from __future__ import annotations

import datetime as dt
import logging
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from backend.booking.models import Appointment, AppointmentStatus
from backend.booking.models_comms import (
    AppointmentMessage,
    AppointmentMessageKind,
    AppointmentMessageStatus,
    CommsSettings,
    Review,
)
from backend.core.access_trace import access_traced
from backend.core.clock import clock_now
from backend.notifications.services import PushNote, push_notify

from .messaging import client_message_enqueue, client_route, customer_owns, organization_language

logger = logging.getLogger("brigada.booking")

#: Statuses whose visit still lies ahead: reminders go out only for these.
UPCOMING_STATUSES = frozenset({AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED})


class AppointmentChange(StrEnum):
    """What happened to an appointment, as the appointment services tell ``appointment_changed``."""

    CREATED = "created"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    STATUS = "status"


def comms_settings_for(organization_id: int) -> CommsSettings:
    """The organization's messaging settings: its row, or an unsaved one holding the defaults."""
    row = CommsSettings.objects.filter(organization_id=organization_id).first()
    return row if row is not None else CommsSettings(organization_id=organization_id)


def appointment_changed(
    *,
    appointment: Appointment,
    change: AppointmentChange | str,
    actor: Any = None,
    previous_starts_at: dt.datetime | None = None,
    previous_ends_at: dt.datetime | None = None,
    previous_staff_id: int | None = None,
    previous_status: str | None = None,
) -> None:
    """React to a change of ``appointment`` (see the module docstring); call inside the change's transaction."""
    change = AppointmentChange(change)
    if change in (AppointmentChange.RESCHEDULED, AppointmentChange.CANCELLED):
        _staff_change_push(appointment, change, actor, previous_status)
    if change in (AppointmentChange.CREATED, AppointmentChange.RESCHEDULED):
        reminders_schedule(appointment=appointment)
    if change == AppointmentChange.CANCELLED:
        reminders_drop(appointment=appointment)
    if change == AppointmentChange.STATUS:
        if appointment.status not in UPCOMING_STATUSES:
            reminders_drop(appointment=appointment)
        if appointment.status == AppointmentStatus.DONE:
            review_request_schedule(appointment=appointment)
    # A freed slot goes to the waiting list. The hold offered to someone else is not part of this request's answer:
    # its events stay out of the request's access trace, or an idempotent replay of (say) the customer's cancel would
    # be refused for a stranger's hold.
    with access_traced():
        _offer_freed_time(appointment, change, actor, previous_starts_at, previous_ends_at, previous_staff_id)


def _offer_freed_time(
    appointment: Appointment,
    change: AppointmentChange,
    actor: Any,
    previous_starts_at: dt.datetime | None,
    previous_ends_at: dt.datetime | None,
    previous_staff_id: int | None,
) -> None:
    # Imported here: the waiting list books through the appointment services, which call this module.
    from .waitlist import waitlist_slot_freed

    if change == AppointmentChange.CANCELLED and appointment.group_session_id is None:
        waitlist_slot_freed(
            branch_id=appointment.branch_id,
            staff_id=appointment.staff_id,
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            actor=actor,
            exclude_client_id=appointment.client_id,
        )
    if change == AppointmentChange.RESCHEDULED and previous_starts_at is not None and previous_ends_at is not None:
        waitlist_slot_freed(
            branch_id=appointment.branch_id,
            staff_id=previous_staff_id or appointment.staff_id,
            starts_at=previous_starts_at,
            ends_at=previous_ends_at,
            actor=actor,
            exclude_client_id=appointment.client_id,
        )


def _enqueue_send(message: AppointmentMessage) -> None:
    from backend.booking.tasks import appointment_message_send_task

    appointment_message_send_task.using(run_after=message.due_at).enqueue(
        message_id=message.pk, version=message.version
    )


def _offsets(appointment: Appointment) -> list[int]:
    raw = getattr(appointment.organization, "booking_reminder_offsets_minutes", None) or []
    return sorted({int(m) for m in raw if isinstance(m, int) and m > 0}, reverse=True)


def reminders_schedule(*, appointment: Appointment, now: dt.datetime | None = None) -> list[AppointmentMessage]:
    """Schedule (or move) the reminders of ``appointment`` at its organization's offsets; returns the rows due.

    A reminder whose moment has already passed is skipped (the nearer one still goes); one whose offset is no
    longer configured is cancelled. An unchanged reminder is left alone, so calling this twice changes nothing.
    """
    now = now or clock_now()
    existing = {
        m.offset_minutes: m
        for m in AppointmentMessage.objects.select_for_update().filter(
            appointment=appointment, kind=AppointmentMessageKind.REMINDER
        )
    }
    if appointment.status not in UPCOMING_STATUSES:
        reminders_drop(appointment=appointment)
        return []
    offsets = _offsets(appointment)
    scheduled: list[AppointmentMessage] = []
    for offset in offsets:
        due = appointment.starts_at - dt.timedelta(minutes=offset)
        status = AppointmentMessageStatus.SCHEDULED if due > now else AppointmentMessageStatus.SKIPPED
        row = existing.get(offset)
        if row is None:
            row = AppointmentMessage.objects.create(
                organization_id=appointment.organization_id,
                appointment=appointment,
                kind=AppointmentMessageKind.REMINDER,
                offset_minutes=offset,
                due_at=due,
                status=status,
            )
        elif row.due_at == due and row.status in (AppointmentMessageStatus.SCHEDULED, AppointmentMessageStatus.SENT):
            continue  # already scheduled (or sent) for this very moment
        else:
            row.due_at, row.status, row.version = due, status, row.version + 1
            row.sent_at, row.outbox_message = None, None
            row.save(update_fields=["due_at", "status", "version", "sent_at", "outbox_message", "updated_at"])
        if status == AppointmentMessageStatus.SCHEDULED:
            _enqueue_send(row)
            scheduled.append(row)
    AppointmentMessage.objects.filter(
        appointment=appointment, kind=AppointmentMessageKind.REMINDER, status=AppointmentMessageStatus.SCHEDULED
    ).exclude(offset_minutes__in=offsets).update(status=AppointmentMessageStatus.CANCELLED, updated_at=timezone.now())
    return scheduled


def reminders_drop(*, appointment: Appointment) -> int:
    """Cancel the reminders of ``appointment`` that have not gone out; returns how many."""
    return AppointmentMessage.objects.filter(
        appointment=appointment, kind=AppointmentMessageKind.REMINDER, status=AppointmentMessageStatus.SCHEDULED
    ).update(status=AppointmentMessageStatus.CANCELLED, updated_at=timezone.now())


def review_request_schedule(*, appointment: Appointment, now: dt.datetime | None = None) -> AppointmentMessage | None:
    """Schedule the rating request of a done visit, ``review_request_delay_minutes`` after it ends (or now, if that
    has passed); ``None`` when the organization does not ask for ratings or one is already scheduled."""
    options = comms_settings_for(appointment.organization_id)
    if not options.review_requests:
        return None
    now = now or clock_now()
    due = max(appointment.ends_at, now) + dt.timedelta(minutes=options.review_request_delay_minutes)
    row, created = AppointmentMessage.objects.get_or_create(
        appointment=appointment,
        kind=AppointmentMessageKind.REVIEW_REQUEST,
        offset_minutes=0,
        defaults={"organization_id": appointment.organization_id, "due_at": due},
    )
    if not created:
        return None
    _enqueue_send(row)
    return row


# --- sending ----------------------------------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def _service_names(appointment: Appointment) -> str:
    return ", ".join(line.service.name for line in appointment.lines.select_related("service").order_by("position"))


def _may_message(appointment: Appointment) -> bool:
    """Service messages need the messages consent, or a visit the client booked through their own account."""
    return appointment.client.consent_messages_at is not None or appointment.customer_id is not None


def _reminder_body(message: AppointmentMessage, appointment: Appointment, *, ask_to_confirm: bool) -> str:
    local = appointment.starts_at.astimezone(_zone(appointment.branch.effective_time_zone))
    values = {
        "services": _service_names(appointment),
        "organization": appointment.organization.name,
        "branch": appointment.branch.name,
        "date": date_format(local.date(), "SHORT_DATE_FORMAT"),
        "time": local.strftime("%H:%M"),
    }
    text = _("Reminder: %(services)s at %(organization)s (%(branch)s) on %(date)s at %(time)s.") % values
    if ask_to_confirm:
        text += " " + _("Please confirm your visit, or cancel it if your plans changed.")
    return text


def _review_body(appointment: Appointment) -> str:
    return _("Thank you for visiting %(organization)s! How was it? Rate your visit from 1 to 10.") % {
        "organization": appointment.organization.name
    }


def _visit_push(appointment: Appointment, title: str, body: str) -> PushNote:
    """A push about the client's visit that opens it in the app (``booking.appointment``), times in branch time."""
    local = appointment.starts_at.astimezone(_zone(appointment.branch.effective_time_zone))
    return PushNote(
        kind="booking.appointment",
        object_id=appointment.pk,
        title=title,
        body=body,
        params={
            "services": _service_names(appointment),
            "organization": appointment.organization.name,
            "date": local.strftime("%d.%m"),
            "time": local.strftime("%H:%M"),
        },
    )


VISIT_MOVED = (
    gettext_noop("Your visit was moved"),
    gettext_noop("%(services)s at %(organization)s is now on %(date)s at %(time)s."),
)
VISIT_CANCELLED = (
    gettext_noop("Your visit was cancelled"),
    gettext_noop("%(services)s at %(organization)s on %(date)s at %(time)s is cancelled."),
)
VISIT_REMINDER = (
    gettext_noop("Visit reminder"),
    gettext_noop("%(services)s at %(organization)s on %(date)s at %(time)s."),
)


def _staff_change_push(
    appointment: Appointment, change: AppointmentChange, actor: Any, previous_status: str | None
) -> int:
    """A visit moved or cancelled by someone else (staff) than the client: push it to the client's phones.

    Push only (staff usually tell the client themselves; the push is free and makes sure). Not for the client's own
    change, not for a waiting-list hold let go, not without the right to send service messages (``_may_message``).
    Once per visit and new time (a visit moved twice pushes twice), once per cancellation.
    """
    if actor is None or previous_status == AppointmentStatus.HELD or appointment.status == AppointmentStatus.HELD:
        return 0
    client = appointment.client
    if customer_owns(user=actor, customer_id=appointment.customer_id, client=client) or not _may_message(appointment):
        return 0
    user = client_route(client).user
    if user is None:
        return 0
    if change == AppointmentChange.RESCHEDULED:
        texts, key = VISIT_MOVED, f"booking:appt:{appointment.pk}:moved:{appointment.starts_at:%Y%m%dT%H%M}"
    else:
        texts, key = VISIT_CANCELLED, f"booking:appt:{appointment.pk}:cancelled"
    return push_notify(
        user=user,
        note=_visit_push(appointment, *texts),
        dedupe_key=key,
        organization_id=appointment.organization_id,
        expires_at=appointment.starts_at if change == AppointmentChange.RESCHEDULED else None,
    )


def _is_first_reminder(message: AppointmentMessage) -> bool:
    earlier = AppointmentMessage.objects.filter(
        appointment_id=message.appointment_id,
        kind=AppointmentMessageKind.REMINDER,
        offset_minutes__gt=message.offset_minutes,
        status__in=(AppointmentMessageStatus.SCHEDULED, AppointmentMessageStatus.SENT),
    )
    return not earlier.exists()


def appointment_message_send(*, message_id: int, version: int, now: dt.datetime | None = None) -> str:
    """Send one due reminder or rating request if it still speaks for its appointment; returns the outcome.

    ``stale``: the row moved on (a newer version, cancelled, already sent) — the task of an old moment. Otherwise the
    row ends ``sent`` (an outbox message was queued under its versioned dedupe key), ``cancelled`` (the visit is no
    longer upcoming / not done) or ``skipped`` (too late, or no consent to message the client).
    """
    now = now or clock_now()
    with transaction.atomic():
        message = (
            AppointmentMessage.objects.select_for_update()
            .filter(pk=message_id)
            .select_related("appointment__client", "appointment__organization", "appointment__branch__organization")
            .first()
        )
        if message is None or message.version != version or message.status != AppointmentMessageStatus.SCHEDULED:
            return "stale"
        appointment = message.appointment
        outcome = AppointmentMessageStatus.SENT
        if message.kind == AppointmentMessageKind.REMINDER:
            if appointment.status not in UPCOMING_STATUSES:
                outcome = AppointmentMessageStatus.CANCELLED
            elif appointment.starts_at <= now:
                outcome = AppointmentMessageStatus.SKIPPED
        elif appointment.status != AppointmentStatus.DONE or Review.objects.filter(appointment=appointment).exists():
            outcome = AppointmentMessageStatus.CANCELLED
        if outcome == AppointmentMessageStatus.SENT and not _may_message(appointment):
            outcome = AppointmentMessageStatus.SKIPPED
        if outcome != AppointmentMessageStatus.SENT:
            message.status = outcome
            message.save(update_fields=["status", "updated_at"])
            return str(outcome)
        payload: dict[str, Any] = {}
        with organization_language(appointment.organization):
            if message.kind == AppointmentMessageKind.REMINDER:
                ask = (
                    appointment.status == AppointmentStatus.BOOKED
                    and comms_settings_for(appointment.organization_id).confirmation_requests
                    and _is_first_reminder(message)
                )
                body = _reminder_body(message, appointment, ask_to_confirm=ask)
                if ask:
                    payload = {
                        "reply_markup": {
                            "inline_keyboard": [
                                [
                                    {"text": _("Confirm"), "callback_data": f"appt:confirm:{appointment.pk}"},
                                    {"text": _("Cancel"), "callback_data": f"appt:cancel:{appointment.pk}"},
                                ]
                            ]
                        }
                    }
            else:
                body = _review_body(appointment)
                payload = {
                    "reply_markup": {
                        "inline_keyboard": [
                            [{"text": str(n), "callback_data": f"appt:rate:{appointment.pk}:{n}"} for n in range(1, 11)]
                        ]
                    }
                }
        outbox, _created = client_message_enqueue(
            client=appointment.client,
            body=body,
            payload=payload,
            dedupe_key=f"booking:apptmsg:{message.pk}:v{message.version}",
            expires_at=appointment.starts_at if message.kind == AppointmentMessageKind.REMINDER else None,
            sms_fallback=message.kind == AppointmentMessageKind.REMINDER,
            push=_visit_push(appointment, *VISIT_REMINDER) if message.kind == AppointmentMessageKind.REMINDER else None,
        )
        message.status, message.sent_at, message.outbox_message = AppointmentMessageStatus.SENT, now, outbox
        message.save(update_fields=["status", "sent_at", "outbox_message", "updated_at"])
    return str(AppointmentMessageStatus.SENT)
