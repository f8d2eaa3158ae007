"""Reminders through the task queue and the outbox: scheduled at the offsets, moved on reschedule (sent once, at the
new time, by the real worker), dropped on cancel; the confirmation request and the client's answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from backend.booking.models import Appointment, AppointmentStatus
from backend.booking.models_comms import AppointmentMessage, AppointmentMessageStatus, CommsSettings
from backend.booking.services import appointments
from backend.booking.services.appointments_bridge import appointment_confirm_by_client
from backend.booking.services.reminders import AppointmentChange, appointment_changed
from backend.booking.tasks import appointment_message_send_task
from backend.core.exceptions import Conflict, NotFound
from backend.crm.models import Client
from backend.notifications.backends import outbox_memory
from backend.notifications.models import Channel, OutboxMessage, OutboxStatus
from tests.booking.comms_world import (
    Salon,
    appointment_row,
    book,
    cancel,
    future,
    queue_clock_reaches,
    reschedule,
    salon_make,
    worker_run,
)
from tests.factories import UserFactory

H = dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def _memory_outbox_cleared() -> Iterator[None]:
    """The memory SMS/Telegram backends collect sends per process: each test reads only its own."""
    outbox_memory.clear()
    yield
    outbox_memory.clear()


def _reminder_tasks() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=appointment_message_send_task.module_path).order_by("run_after"))


def _book(salon: Salon, client: Client, start: dt.datetime, **kwargs: Any) -> Appointment:
    return book(salon, client, start, **kwargs)


def _book_as_customer(salon: Salon, customer: Any, start: dt.datetime, staff: Any = None) -> Appointment:
    return appointments.appointment_create_for_customer(
        user=customer,
        branch_id=salon.branch.pk,
        service_ids=[salon.service.pk],
        start=start,
        staff_id=(staff or salon.master).pk,
    )


@pytest.mark.django_db
def test_booking_schedules_a_reminder_per_offset() -> None:
    salon = salon_make()
    start = future(days=3)
    appointment = _book(salon, salon.client(), start)
    rows = list(AppointmentMessage.objects.filter(appointment=appointment).order_by("due_at"))
    assert [(r.offset_minutes, r.due_at, r.status) for r in rows] == [
        (24 * 60, start - 24 * H, AppointmentMessageStatus.SCHEDULED),
        (2 * 60, start - 2 * H, AppointmentMessageStatus.SCHEDULED),
    ]
    assert [t.run_after for t in _reminder_tasks()] == [start - 24 * H, start - 2 * H]
    # the hook called twice for the same moment schedules nothing more
    appointment_changed(appointment=appointment, change=AppointmentChange.CREATED)
    assert len(_reminder_tasks()) == 2


@pytest.mark.django_db
def test_a_reminder_whose_moment_passed_is_skipped() -> None:
    salon = salon_make()
    soon = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + 5 * H  # booked 5 hours ahead
    # Written as the appointment service writes it, then the hook: the master's hours need not cover "now + 5 h".
    with transaction.atomic():
        appointment = appointment_row(salon, salon.client(), soon)
        appointment_changed(appointment=appointment, change=AppointmentChange.CREATED)
    by_offset = {r.offset_minutes: r.status for r in AppointmentMessage.objects.filter(appointment=appointment)}
    assert by_offset == {24 * 60: AppointmentMessageStatus.SKIPPED, 2 * 60: AppointmentMessageStatus.SCHEDULED}
    assert [t.run_after for t in _reminder_tasks()] == [soon - 2 * H]


@pytest.mark.django_db(transaction=True)
def test_rescheduled_reminder_goes_out_once_at_the_new_time() -> None:
    # given a visit in 3 days with reminders 24 h and 2 h before
    salon = salon_make()
    client = salon.client()
    old_start = future(days=3)
    appointment = _book(salon, client, old_start)
    # when it is moved a day later
    new_start = old_start + 24 * H
    reschedule(salon, appointment, new_start)
    # then the queue holds the old moments' tasks (now stale) and the new ones
    assert [t.run_after for t in _reminder_tasks()] == sorted(
        [old_start - 24 * H, old_start - 2 * H, new_start - 24 * H, new_start - 2 * H]
    )
    # when the old 24 h moment arrives and the worker runs: nothing is sent
    queue_clock_reaches(old_start - 24 * H)
    worker_run()
    assert not OutboxMessage.objects.exists()
    # when the old 2 h moment arrives (it precedes the new 24 h one here): still nothing
    queue_clock_reaches(old_start - 2 * H)
    worker_run()
    assert not OutboxMessage.objects.exists()
    # when the new 24 h moment arrives: exactly one reminder, for the new time, delivered once
    queue_clock_reaches(new_start - 24 * H)
    worker_run()
    [first] = OutboxMessage.objects.all()
    reminder_24 = AppointmentMessage.objects.get(appointment=appointment, offset_minutes=24 * 60)
    assert first.dedupe_key == f"booking:apptmsg:{reminder_24.pk}:v2"
    assert (first.status, first.channel, first.recipient) == (OutboxStatus.SENT, Channel.SMS, client.phone)
    local = new_start.astimezone(dt.timezone(dt.timedelta(hours=5)))
    assert local.strftime("%H:%M") in first.body
    # when the new 2 h moment arrives and the worker runs again (twice): the second reminder, once
    queue_clock_reaches(new_start - 2 * H)
    worker_run()
    worker_run()
    assert OutboxMessage.objects.count() == 2
    assert [r.body for r in outbox_memory].count(first.body) == 1
    assert len(outbox_memory) == 2
    assert set(AppointmentMessage.objects.filter(appointment=appointment).values_list("status", flat=True)) == {
        AppointmentMessageStatus.SENT
    }


@pytest.mark.django_db(transaction=True)
def test_cancelled_appointment_gets_no_reminder() -> None:
    salon = salon_make()
    appointment = _book(salon, salon.client(), future(days=2))
    cancel(salon, appointment)
    queue_clock_reaches(appointment.starts_at)
    worker_run()
    assert not OutboxMessage.objects.exists()
    assert set(AppointmentMessage.objects.filter(appointment=appointment).values_list("status", flat=True)) == {
        AppointmentMessageStatus.CANCELLED
    }


@pytest.mark.django_db(transaction=True)
def test_a_change_that_rolls_back_schedules_nothing() -> None:
    salon = salon_make()
    client = salon.client()
    with pytest.raises(RuntimeError), transaction.atomic():
        book(salon, client, future(days=2))
        raise RuntimeError("the request failed after the booking")
    assert not AppointmentMessage.objects.exists()
    assert not _reminder_tasks()


@pytest.mark.django_db(transaction=True)
def test_no_reminder_without_messages_consent_unless_the_client_booked_themselves() -> None:
    salon = salon_make()
    start = future(days=2)
    silent = _book(salon, salon.client(consent=False), start)
    customer_client = salon.client(consent=False)
    customer = UserFactory(phone=customer_client.phone)
    _book_as_customer(salon, customer, start, staff=salon.other_master)
    queue_clock_reaches(start - 24 * H)
    worker_run()
    assert list(OutboxMessage.objects.values_list("recipient", flat=True)) == [customer_client.phone]
    assert AppointmentMessage.objects.get(appointment=silent, offset_minutes=24 * 60).status == "skipped"


@pytest.mark.django_db(transaction=True)
def test_first_reminder_asks_to_confirm_and_the_answer_confirms() -> None:
    # given a Telegram-linked customer's booked visit
    salon = salon_make()
    client = salon.client()
    customer = UserFactory(phone=client.phone, telegram_user_id=700100)
    appointment = _book_as_customer(salon, customer, future(days=2))
    assert appointment.client_id == client.pk
    # when the 24 h reminder goes out
    queue_clock_reaches(appointment.starts_at - 24 * H)
    worker_run()
    [request] = OutboxMessage.objects.all()
    assert request.channel == Channel.TELEGRAM and "confirm" in request.body.lower()
    buttons = request.payload["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == [f"appt:confirm:{appointment.pk}", f"appt:cancel:{appointment.pk}"]
    # when the customer answers "confirm"
    confirmed = appointment_confirm_by_client(user=customer, appointment_id=appointment.pk)
    assert confirmed.status == AppointmentStatus.CONFIRMED
    # then the 2 h reminder is a plain reminder
    queue_clock_reaches(appointment.starts_at - 2 * H)
    worker_run()
    second = OutboxMessage.objects.exclude(pk=request.pk).get()
    assert "confirm" not in second.body.lower()


@pytest.mark.django_db
def test_confirmation_is_refused_to_strangers_and_after_cancel() -> None:
    salon = salon_make()
    appointment = _book(salon, salon.client(), future(days=2))
    with pytest.raises(NotFound):
        appointment_confirm_by_client(user=UserFactory(), appointment_id=appointment.pk)
    cancel(salon, appointment)
    with pytest.raises(Conflict) as caught:
        appointment_confirm_by_client(user=salon.manager, appointment_id=appointment.pk)
    assert caught.value.code == "not_confirmable"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED


@pytest.mark.django_db
def test_offsets_come_from_the_organization() -> None:
    salon = salon_make()
    salon.org.booking_reminder_offsets_minutes = [3 * 24 * 60, 60]
    salon.org.save()
    CommsSettings.objects.create(organization=salon.org, confirmation_requests=False)
    start = future(days=5)
    appointment = _book(salon, salon.client(), start)
    assert sorted(AppointmentMessage.objects.filter(appointment=appointment).values_list("due_at", flat=True)) == [
        start - 72 * H,
        start - H,
    ]
