"""The waiting list in Telegram, end to end against the fake Bot API server: a customer joins it from the booking
flow; when someone else cancels, the waiting list's offer (the booking services' message with its ``wl:…`` buttons)
reaches the chat and "Take it" books the held place; "No, thanks" keeps them waiting and passes the place on."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from backend.booking.models import Appointment, AppointmentStatus
from backend.booking.models_comms import WaitlistEntry, WaitlistOffer, WaitlistOfferStatus, WaitlistStatus
from backend.booking.services.appointments import appointment_cancel
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
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def salon(transactional_db: Any) -> Salon:
    return salon_build()


async def _join_by_bot(bot: BotHarness, tg: Any) -> None:
    day = tomorrow()
    await bot.command(tg, "book")
    await bot.tap(tg, "Centre")
    await bot.tap(tg, "Haircut")
    await bot.tap(tg, "Next")
    await bot.tap(tg, "Aigerim")
    await bot.tap(tg, "Waiting list")
    assert bot.last(tg).text.startswith("Which day are you waiting for?")
    replies = await bot.tap(tg, day_caption(day))
    assert toast_of(replies) == "On the waiting list"
    assert bot.last(tg).text == (
        f"You are on the waiting list for {day_caption(day)}. We will write as soon as a place frees up."
    )


def _offer_message(user: Any) -> OutboxMessage:
    return OutboxMessage.objects.filter(recipient=str(user.telegram_user_id), dedupe_key__startswith="waitlist:").get()


def _cancel(visit: Appointment, user: Any) -> None:
    appointment_cancel(user=user, appointment_id=visit.pk)


async def test_a_waiting_list_offer_taken_in_telegram(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    customer = await customer_joins(bot, salon, tg)
    other = await sync_to_async(UserFactory)()
    taken = await sync_to_async(visit_booked)(salon, other, at(tomorrow(), 10))
    await _join_by_bot(bot, tg)
    entry = await sync_to_async(WaitlistEntry.objects.get)(customer=customer)
    assert (entry.service_id, entry.staff_id, entry.status) == (salon.haircut.pk, salon.aigerim.pk, "waiting")

    # someone else cancels: the freed 10:00 is held for our customer and offered in Telegram
    await sync_to_async(_cancel)(taken, other)
    offer_message = await sync_to_async(_offer_message)(customer)
    offer = await sync_to_async(WaitlistOffer.objects.get)(entry=entry)
    await deliver(bot, offer_message)
    shown = bot.last(tg)
    assert "is free on" in shown.text
    assert [(b.text, b.callback_data) for b in shown.flat_buttons] == [
        ("Take it", f"wl:take:{offer.pk}"),
        ("No, thanks", f"wl:decline:{offer.pk}"),
    ]
    replies = await bot.tap(tg, "Take it")
    assert toast_of(replies) == "Booked!"
    assert bot.last(tg).text == (
        f"Done! The place is yours: Haircut — {day_caption(tomorrow())} at 10:00, Aigerim Bek (Centre)."
    )
    mine = await sync_to_async(Appointment.objects.get)(customer=customer)
    assert (mine.status, mine.starts_at, mine.staff_id) == (
        AppointmentStatus.BOOKED,
        at(tomorrow(), 10),
        salon.aigerim.pk,
    )
    offer = await sync_to_async(WaitlistOffer.objects.get)(pk=offer.pk)
    entry = await sync_to_async(WaitlistEntry.objects.get)(pk=entry.pk)
    assert (offer.status, entry.status, entry.appointment_id) == (
        WaitlistOfferStatus.TAKEN,
        WaitlistStatus.BOOKED,
        mine.pk,
    )
    # the offer's buttons pressed again: the offer is closed, nothing changes
    replies = await bot.press(tg, f"wl:take:{offer.pk}")
    assert toast_of(replies) == "This button is no longer valid."
    assert await sync_to_async(lambda: Appointment.objects.filter(customer=customer).count())() == 1


async def test_a_waiting_list_offer_declined_keeps_the_customer_waiting(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    customer = await customer_joins(bot, salon, tg)
    other = await sync_to_async(UserFactory)()
    taken = await sync_to_async(visit_booked)(salon, other, at(tomorrow(), 14))
    await _join_by_bot(bot, tg)
    await sync_to_async(_cancel)(taken, other)
    await deliver(bot, await sync_to_async(_offer_message)(customer))
    await bot.tap(tg, "No, thanks")
    assert bot.last(tg).text == "All right. You stay on the waiting list; we will write about the next place."
    entry = await sync_to_async(WaitlistEntry.objects.get)(customer=customer)
    offer = await sync_to_async(WaitlistOffer.objects.get)(entry=entry)
    assert (entry.status, offer.status) == (WaitlistStatus.WAITING, WaitlistOfferStatus.DECLINED)
    assert await sync_to_async(lambda: Appointment.objects.filter(customer=customer, status="booked").count())() == 0
