"""A customer books in Telegram, end to end through PTB's real HTTP stack against the fake Bot API server: branch →
services → master or "any" → day → slot → confirm; a slot someone took meanwhile answers "just taken" with the next
free one; old buttons of a finished conversation answer gracefully. Each test reads what the fake recorded (texts,
keyboards, toasts) and the database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from backend.booking.models import Appointment, AppointmentStatus, BookingChannel
from bots.testing.harness import BotHarness, toast_of
from tests.bots.customer_world import (
    Salon,
    at,
    customer_joins,
    day_caption,
    salon_build,
    tomorrow,
    visit_booked,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def salon(transactional_db: Any) -> Salon:
    return salon_build()


def captions(reply: Any) -> list[str]:
    return [b.text for b in reply.flat_buttons]


def _visits(**filters: Any) -> list[Appointment]:
    return list(Appointment.objects.filter(**filters).prefetch_related("lines").order_by("id"))


async def test_a_customer_books_two_services_with_a_named_master(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    customer = await customer_joins(bot, salon, tg)
    day = tomorrow()

    await bot.command(tg, "book")
    branches = bot.last(tg)
    assert branches.method == "sendMessage" and branches.text == "Choose a branch:"
    assert captions(branches) == ["Centre", "Riverside", "Stop"]

    await bot.tap(tg, "Centre")
    services = bot.last(tg)
    assert services.method == "editMessageText" and services.message_id == branches.message_id
    assert "Choose one or several services" in services.text
    assert captions(services) == ["Colouring", "Haircut", "Stop"]  # no "Next" before a choice

    await bot.tap(tg, "Haircut")
    await bot.tap(tg, "Colouring")
    assert captions(bot.last(tg)) == ["✅ Colouring", "✅ Haircut", "Next ›", "Stop"]

    await bot.tap(tg, "Next")
    masters = bot.last(tg)
    assert masters.text == "Choose a master:"
    assert captions(masters) == ["Any master", "Aigerim Bek", "Dana Sarsen", "‹ Back", "Stop"]

    await bot.tap(tg, "Aigerim")
    days = bot.last(tg)
    assert days.text == "Choose a day:" and day_caption(day) in captions(days)

    await bot.tap(tg, day_caption(day))
    slots = bot.last(tg)
    assert slots.text == f"Free times on {day_caption(day)}:"
    assert captions(slots)[:3] == ["09:00", "09:30", "10:00"]

    await bot.tap(tg, "10:00")
    confirm = bot.last(tg)
    assert confirm.text.splitlines() == [
        "Please check your booking:",
        "Services: Haircut, Colouring",
        "Master: Aigerim Bek",
        f"When: {day_caption(day)} at 10:00",
        "Where: Centre",
        "Price: 15\u00a0000 KZT",  # Aigerim's own 6000 for the haircut + 9000
    ]
    assert await sync_to_async(_visits)() == []  # nothing is booked before the confirmation

    replies = await bot.tap(tg, "Confirm")
    assert toast_of(replies) == "Booked!"
    done = bot.last(tg)
    assert done.text == (
        f"Booked! Haircut, Colouring — {day_caption(day)} at 10:00, Aigerim Bek (Centre). "
        "We will remind you before the visit."
    )
    assert captions(done) == ["My bookings"]

    [visit] = await sync_to_async(_visits)()
    assert (visit.customer_id, visit.staff_id, visit.starts_at, visit.status, visit.channel) == (
        customer.pk,
        salon.aigerim.pk,
        at(day, 10),
        AppointmentStatus.BOOKED,
        BookingChannel.CUSTOMER,
    )
    assert [(line.service_id, line.staff_id) for line in visit.lines.all()] == [
        (salon.haircut.pk, salon.aigerim.pk),
        (salon.colouring.pk, salon.aigerim.pk),
    ]
    assert visit.price == Decimal("15000")
    print("\n--- the conversation as the fake Bot API recorded it ---\n" + bot.transcript(tg))


async def test_a_slot_taken_meanwhile_answers_just_taken_with_the_next_free(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    customer = await customer_joins(bot, salon, tg)
    day = tomorrow()
    await bot.command(tg, "book")
    await bot.tap(tg, "Centre")
    await bot.tap(tg, "Haircut")
    await bot.tap(tg, "Next")
    await bot.tap(tg, "Any master")
    await bot.tap(tg, day_caption(day))
    await bot.tap(tg, "11:00")
    assert "When: " + day_caption(day) + " at 11:00" in bot.last(tg).text

    # while the customer reads the summary, two others take 11:00 with both masters
    others = [await sync_to_async(UserFactory)() for _ in range(2)]
    for other, master in zip(others, (salon.aigerim, salon.dana), strict=True):
        await sync_to_async(visit_booked)(salon, other, at(day, 11), staff=master)

    replies = await bot.tap(tg, "Confirm")
    assert toast_of(replies) == "Just taken"
    taken = bot.last(tg)
    assert taken.text == f"Sorry, this time has just been taken. The next free time is {day_caption(day)} at 12:00."
    assert captions(taken) == [f"{day_caption(day)} {t}" for t in ("12:00", "12:30", "13:00")] + ["Other days"]
    assert await sync_to_async(lambda: Appointment.objects.filter(customer=customer).count())() == 0

    await bot.tap(tg, f"{day_caption(day)} 12:00")
    assert f"When: {day_caption(day)} at 12:00" in bot.last(tg).text
    await bot.tap(tg, "Confirm")
    assert bot.last(tg).text.startswith(f"Booked! Haircut — {day_caption(day)} at 12:00")
    [mine] = await sync_to_async(_visits)(customer=customer)
    assert mine.starts_at == at(day, 12) and mine.staff_id in {salon.aigerim.pk, salon.dana.pk}
    assert await sync_to_async(lambda: Appointment.objects.count())() == 3


async def test_a_branch_link_starts_at_its_services_and_the_menu_offers_booking(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    await customer_joins(bot, salon, tg, branch=salon.branch)
    assert {"Book a visit", "My bookings"} <= set(captions(bot.last(tg)))  # the main menu after /start
    await bot.tap(tg, "Book a visit")
    services = bot.last(tg)
    assert services.text.startswith("Centre. Choose one or several services")
    assert captions(services) == ["Colouring", "Haircut", "Stop"]


async def test_old_buttons_of_a_finished_booking_answer_gracefully(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    await customer_joins(bot, salon, tg)
    day = tomorrow()
    await bot.command(tg, "book")
    await bot.tap(tg, "Centre")
    await bot.tap(tg, "Haircut")
    await bot.tap(tg, "Next")
    await bot.tap(tg, "Dana")
    await bot.tap(tg, day_caption(day))
    await bot.tap(tg, "15:00")
    summary = bot.last(tg)
    confirm = summary.button("Confirm").callback_data
    await bot.tap(tg, "Confirm")
    assert bot.last(tg).text.startswith("Booked!")

    # the same Confirm pressed again (a double tap, an old message): the conversation is over, nothing more is booked
    replies = await bot.press(tg, str(confirm), message_id=summary.message_id)
    assert toast_of(replies) == "This button is out of date. Let us start again."
    assert captions(bot.last(tg)) == ["Book a visit", "My bookings"]
    assert await sync_to_async(lambda: Appointment.objects.count())() == 1


async def test_a_stranger_is_asked_to_link_first(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    await bot.command(tg, "book")
    assert bot.last(tg).text == "Please open the link your salon or agency gave you, or send /start to link your phone."
    assert await sync_to_async(lambda: Appointment.objects.count())() == 0
