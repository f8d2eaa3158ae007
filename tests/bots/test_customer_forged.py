"""Forged callback data cannot touch someone else's booking: every id a button carries is checked again on the
server against the pressing Telegram user's own account. Confirm, cancel, move, rate, view, take or decline an
offer with another customer's ids — as a customer, and as a manager of that organization (staff rights do not apply
in the customer's bot) — answers the same polite stale-button toast as an old button of one's own, and changes
nothing in the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from backend.booking.models import Appointment
from backend.booking.models_comms import Review, WaitlistEntry, WaitlistOffer
from backend.booking.services.appointments import appointment_cancel
from backend.booking.services.waitlist import waitlist_join
from backend.core.models import Event
from bots.testing.harness import BotHarness, link_user, toast_of
from tests.bots.customer_world import (
    Salon,
    at,
    customer_joins,
    salon_build,
    tomorrow,
    visit_booked,
    visit_done,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
STALE = "This button is no longer valid."


@dataclass
class Victim:
    user: Any
    visit: Appointment
    done: Appointment
    offer: WaitlistOffer


@pytest.fixture
def salon(transactional_db: Any) -> Salon:
    return salon_build()


@pytest.fixture
def victim(salon: Salon) -> Victim:
    """Another customer with a booked visit, a done one, and an open waiting-list offer."""
    user = UserFactory(first_name="Victim")
    day = tomorrow()
    visit = visit_booked(salon, user, at(day, 10))
    done = visit_done(salon, visit_booked(salon, user, at(day, 12), staff=salon.dana))
    start = at(day, 15)
    waitlist_join(
        user=user,
        branch_id=salon.branch.pk,
        service_id=salon.haircut.pk,
        staff_id=salon.aigerim.pk,
        windows=[(start, start + dt.timedelta(hours=2))],
    )
    third = UserFactory()
    appointment_cancel(user=third, appointment_id=visit_booked(salon, third, start).pk)
    offer = WaitlistOffer.objects.get(entry__customer=user)
    return Victim(user=user, visit=visit, done=done, offer=offer)


def _world() -> dict[str, Any]:
    return {
        "appointments": sorted(Appointment.objects.values_list("id", "status", "starts_at", "staff_id", "customer_id")),
        "reviews": sorted(Review.objects.values_list("id", "score", "comment")),
        "offers": sorted(WaitlistOffer.objects.values_list("id", "status")),
        "entries": sorted(WaitlistEntry.objects.values_list("id", "status")),
        "events": Event.objects.count(),
    }


def _forged(victim: Victim) -> list[str]:
    v, done, offer = victim.visit.pk, victim.done.pk, victim.offer.pk
    minute = int(at(tomorrow() + dt.timedelta(days=1), 16).timestamp() // 60)
    day = (tomorrow() + dt.timedelta(days=1)).strftime("%Y%m%d")
    return [
        f"appt:confirm:{v}",
        f"appt:cancel:{v}",
        f"appt:cx:{v}",
        f"appt:keep:{v}",
        f"appt:rate:{done}:1",
        f"appt:nc:{done}",
        f"cm:v:{v}",
        f"cr:s:{v}",
        f"cr:d:{v}:{day}",
        f"cr:t:{v}:{minute}",
        f"cr:ok:{v}:{minute}",
        f"wl:take:{offer}",
        f"wl:decline:{offer}",
        "appt:cx:abc",  # not even an id
    ]


async def _presses_change_nothing(bot: BotHarness, tg: Any, data: list[str]) -> None:
    before = await sync_to_async(_world)()
    for item in data:
        replies = await bot.press(tg, item)
        assert toast_of(replies) == STALE, (item, [r.text for r in replies])
        assert not [r for r in replies if r.method in ("sendMessage", "editMessageText")], item
    assert await sync_to_async(_world)() == before


async def test_a_customer_cannot_use_another_customers_ids(bot: BotHarness, salon: Salon, victim: Victim) -> None:
    tg = bot.user(language="en")
    await customer_joins(bot, salon, tg, first_name="Mallory")
    await _presses_change_nothing(bot, tg, _forged(victim))


async def test_a_manager_gets_no_staff_powers_through_the_customer_buttons(
    bot: BotHarness, salon: Salon, victim: Victim
) -> None:
    tg = bot.user(language="en")
    await sync_to_async(link_user)(salon.manager, tg)
    await _presses_change_nothing(bot, tg, _forged(victim))


async def test_booking_steps_refuse_another_organizations_branch_and_service(bot: BotHarness, salon: Salon) -> None:
    other = await sync_to_async(salon_build)()
    tg = bot.user(language="en")
    await customer_joins(bot, salon, tg)
    await bot.command(tg, "book")
    await bot.tap(tg, "Centre")
    for data in (f"cb:b:{other.branch.pk}", f"cb:s:{other.haircut.pk}"):
        replies = await bot.press(tg, data)
        assert toast_of(replies) == STALE, data
    await bot.tap(tg, "Colouring")
    await bot.tap(tg, "Next")
    for data in (f"cb:m:{other.aigerim.pk}", "cb:m:999999"):
        replies = await bot.press(tg, data)
        assert toast_of(replies) == STALE, data
    # days and instants no button would carry: far future, far past, not a date
    await bot.tap(tg, "Any master")
    for data in (
        "cb:dp:99991231",
        "cb:d:00010101",
        "cb:d:20261399",
        "cb:t:99999999999",
        "cb:ok:99999999999",
        "cb:tp:20261203:x",
    ):
        replies = await bot.press(tg, data)
        assert toast_of(replies) in (STALE, None), data
    assert await sync_to_async(lambda: Appointment.objects.count())() == 0
    # the conversation itself goes on with the salon's own services
    await bot.command(tg, "book")
    await bot.tap(tg, "Centre")
    await bot.tap(tg, "Haircut")
    assert [b.text for b in bot.last(tg).flat_buttons] == ["Colouring", "✅ Haircut", "Next ›", "Stop"]


async def test_a_stale_button_of_ones_own_reads_as_a_forged_one(bot: BotHarness, salon: Salon) -> None:
    tg = bot.user(language="en")
    customer = await customer_joins(bot, salon, tg)
    visit = await sync_to_async(visit_booked)(salon, customer, at(tomorrow(), 16))
    await bot.press(tg, f"appt:cancel:{visit.pk}")
    await bot.tap(tg, "Yes, cancel it")
    assert (await sync_to_async(Appointment.objects.get)(pk=visit.pk)).status == "cancelled"
    # the old reminder's buttons, pressed after the cancel: the same toast as for somebody else's id
    for data in (f"appt:confirm:{visit.pk}", f"appt:cancel:{visit.pk}", f"appt:cx:{visit.pk}", f"cr:s:{visit.pk}"):
        replies = await bot.press(tg, data)
        assert toast_of(replies) == STALE, data
