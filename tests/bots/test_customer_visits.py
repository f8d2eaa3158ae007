"""A customer's own visits in Telegram, end to end against the fake Bot API server: "my bookings", moving a visit,
cancelling it, the reminder's Confirm / Cancel buttons, and the 1-10 rating after the visit with its optional
comment. The reminders and the rating request are the booking services' own messages (with their own
``appt:…`` buttons), delivered to the chat as the outbox's Telegram backend delivers them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from backend.booking.models import Appointment, AppointmentStatus
from backend.booking.models_comms import AppointmentMessage, AppointmentMessageKind, Review
from backend.booking.services.reminders import appointment_message_send
from backend.notifications.models import OutboxMessage
from bots.testing.harness import BotHarness, toast_of
from tests.bots.customer_world import (
    Salon,
    at,
    customer_joins,
    day_caption,
    deliver,
    salon_build,
    tomorrow,
    visit_booked,
    visit_done,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def salon(transactional_db: Any) -> Salon:
    return salon_build()


def captions(reply: Any) -> list[str]:
    return [b.text for b in reply.flat_buttons]


def _fresh(appointment: Appointment) -> Appointment:
    return Appointment.objects.get(pk=appointment.pk)


def _message_sent(appointment: Appointment, kind: str) -> OutboxMessage:
    """Send the appointment's first message of ``kind`` now (the task's work) and return what it queued."""
    row = (
        AppointmentMessage.objects.filter(appointment=appointment, kind=kind).order_by("-offset_minutes", "id").first()
    )
    assert row is not None
    assert appointment_message_send(message_id=row.pk, version=row.version) == "sent"
    row.refresh_from_db()
    assert row.outbox_message is not None
    return row.outbox_message


async def test_my_bookings_then_move_then_cancel(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    customer = await customer_joins(bot, salon, tg)
    day, later = tomorrow(), tomorrow() + dt.timedelta(days=1)
    visit = await sync_to_async(visit_booked)(salon, customer, at(day, 10))

    await bot.command(tg, "my")
    mine = bot.last(tg)
    assert mine.text.splitlines() == [
        "Your upcoming visits:",
        f"1. Haircut — {day_caption(day)} at 10:00, Aigerim Bek (Centre)",
    ]
    await bot.tap(tg, "1.")
    one = bot.last(tg)
    assert one.text.splitlines()[-1] == "Status: booked"
    assert captions(one) == ["Move", "Cancel visit", "‹ My bookings"]

    await bot.tap(tg, "Move")
    await bot.tap(tg, day_caption(later))
    await bot.tap(tg, "15:00")
    ask = bot.last(tg)
    assert ask.text.splitlines()[0] == f"Move your visit to {day_caption(later)} at 15:00?"
    assert await sync_to_async(lambda: _fresh(visit).starts_at)() == at(day, 10)  # asking changes nothing
    replies = await bot.tap(tg, "Yes, move it")
    assert toast_of(replies) == "Moved"
    assert bot.last(tg).text == (
        f"Done, the visit is moved: Haircut — {day_caption(later)} at 15:00, Aigerim Bek (Centre)."
    )
    moved = await sync_to_async(_fresh)(visit)
    assert (moved.starts_at, moved.staff_id, moved.rescheduled_count) == (at(later, 15), salon.aigerim.pk, 1)

    await bot.tap(tg, "My bookings")
    await bot.tap(tg, "1.")
    await bot.tap(tg, "Cancel visit")
    assert bot.last(tg).text.startswith("Cancel this visit?")
    assert await sync_to_async(lambda: _fresh(visit).status)() == AppointmentStatus.BOOKED
    replies = await bot.tap(tg, "Yes, cancel it")
    assert toast_of(replies) == "Cancelled"
    assert bot.last(tg).text.startswith("The visit is cancelled: Haircut")
    assert await sync_to_async(lambda: _fresh(visit).status)() == AppointmentStatus.CANCELLED
    await bot.command(tg, "my")
    assert bot.last(tg).text == "You have no upcoming visits."


async def test_the_reminder_buttons_confirm_one_visit_and_cancel_another(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    customer = await customer_joins(bot, salon, tg)
    day = tomorrow() + dt.timedelta(days=1)
    first = await sync_to_async(visit_booked)(salon, customer, at(day, 10))
    second = await sync_to_async(visit_booked)(salon, customer, at(day, 15), staff=salon.dana)

    reminder = await sync_to_async(_message_sent)(first, AppointmentMessageKind.REMINDER)
    assert (reminder.channel, reminder.recipient) == ("telegram", str(tg.id))
    await deliver(bot, reminder)
    shown = bot.last(tg)
    assert "Please confirm your visit" in shown.text
    assert [(b.text, b.callback_data) for b in shown.flat_buttons] == [
        ("Confirm", f"appt:confirm:{first.pk}"),
        ("Cancel", f"appt:cancel:{first.pk}"),
    ]
    replies = await bot.tap(tg, "Confirm")
    assert toast_of(replies) == "Confirmed"
    assert bot.last(tg).text == (
        f"Thank you, your visit is confirmed: Haircut — {day_caption(day)} at 10:00, Aigerim Bek (Centre). See you!"
    )
    assert await sync_to_async(lambda: _fresh(first).status)() == AppointmentStatus.CONFIRMED

    await deliver(bot, await sync_to_async(_message_sent)(second, AppointmentMessageKind.REMINDER))
    await bot.tap(tg, "Cancel")
    assert captions(bot.last(tg)) == ["Yes, cancel it", "No, keep it"]
    await bot.tap(tg, "Yes, cancel it")
    assert await sync_to_async(lambda: _fresh(second).status)() == AppointmentStatus.CANCELLED
    assert await sync_to_async(lambda: _fresh(first).status)() == AppointmentStatus.CONFIRMED


async def test_a_rating_after_the_visit_with_a_comment(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    customer = await customer_joins(bot, salon, tg)
    visit = await sync_to_async(visit_booked)(salon, customer, at(tomorrow(), 10))
    await sync_to_async(visit_done)(salon, visit)

    request = await sync_to_async(_message_sent)(visit, AppointmentMessageKind.REVIEW_REQUEST)
    await deliver(bot, request)
    assert captions(bot.last(tg)) == [str(n) for n in range(1, 11)]
    replies = await bot.press(tg, f"appt:rate:{visit.pk}:9", message_id=bot.last(tg).message_id)
    assert toast_of(replies) == "Thank you!"
    assert bot.last(tg).text.startswith("Thank you! You rated the visit 9 out of 10.")
    review = await sync_to_async(Review.objects.get)(appointment=visit)
    assert (review.score, review.comment, review.author_id) == (9, "", customer.pk)

    await bot.send(tg, "  Lovely cut, thank you Aigerim!  ")
    assert bot.last(tg).text == "Thank you for your words! We pass them on."
    review = await sync_to_async(Review.objects.get)(appointment=visit)
    assert review.comment == "Lovely cut, thank you Aigerim!"

    # the next message is not taken for a comment any more, and a second score is refused in words
    before = len(bot.replies(tg))
    await bot.send(tg, "hello")
    assert len(bot.replies(tg)) == before
    replies = await bot.press(tg, f"appt:rate:{visit.pk}:2")
    assert toast_of(replies) == "This visit has already been rated."
    assert await sync_to_async(lambda: Review.objects.get(appointment=visit).score)() == 9


async def test_a_rating_without_a_comment(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    customer = await customer_joins(bot, salon, tg)
    visit = await sync_to_async(visit_booked)(salon, customer, at(tomorrow(), 11))
    await sync_to_async(visit_done)(salon, visit)
    await deliver(bot, await sync_to_async(_message_sent)(visit, AppointmentMessageKind.REVIEW_REQUEST))
    await bot.tap(tg, "10")
    await bot.tap(tg, "No comment")
    assert bot.last(tg).text == "Thank you for your rating!"
    before = len(bot.replies(tg))
    await bot.send(tg, "just chatting")
    assert len(bot.replies(tg)) == before
    review = await sync_to_async(Review.objects.get)(appointment=visit)
    assert (review.score, review.comment) == (10, "")


async def test_a_move_to_a_time_taken_meanwhile_offers_the_next_free(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    customer = await customer_joins(bot, salon, tg)
    day, later = tomorrow(), tomorrow() + dt.timedelta(days=1)
    visit = await sync_to_async(visit_booked)(salon, customer, at(day, 10))
    await bot.command(tg, "my")
    await bot.tap(tg, "1.")
    await bot.tap(tg, "Move")
    await bot.tap(tg, day_caption(later))
    await bot.tap(tg, "11:00")
    # someone books Aigerim at 11:00 first
    other = await sync_to_async(UserFactory)()
    await sync_to_async(visit_booked)(salon, other, at(later, 11))
    replies = await bot.tap(tg, "Yes, move it")
    assert toast_of(replies) == "Just taken"
    taken = bot.last(tg)
    assert taken.text == f"Sorry, this time has just been taken. The next free time is {day_caption(later)} at 12:00."
    assert await sync_to_async(lambda: _fresh(visit).starts_at)() == at(day, 10)
    await bot.tap(tg, f"{day_caption(later)} 12:00")
    await bot.tap(tg, "Yes, move it")
    moved = await sync_to_async(_fresh)(visit)
    assert (moved.starts_at, moved.staff_id) == (at(later, 12), salon.aigerim.pk)
