"""Worker conversations end to end: the staffing services write a call-up to the outbox, the outbox's Telegram
backend sends it to the fake Bot API over HTTP, the worker presses a button, python-telegram-bot's real HTTP stack
brings the press to our handlers, the services answer, and the fake records what the bot said. Assertions are on
the recorded calls and on the database.

Two workers racing for the last place run on PostgreSQL (the race needs row locks and two connections): their two
presses are processed concurrently, each service call in its own thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from backend.accounts.models import User
from backend.notifications.dispatch import outbox_deliver_due
from backend.notifications.models import Channel, OutboxMessage, OutboxStatus
from backend.staffing.models import Attendance, Offer, OfferStatus, Shift, WorkerAvailability
from backend.staffing.services.confirmations import confirmations_request
from backend.staffing.services.offers import offer_accept, offers_send
from bots.testing.fake_bot_api import FakeBotApi, TgUser
from bots.testing.harness import BotHarness, Reply, toast_of
from tests.staffing.world import SITE_POINT, order_with_shift, pool_worker, staffing_world

pytestmark = pytest.mark.django_db(transaction=True)

AT_SITE = (float(SITE_POINT[0]) + 0.001, float(SITE_POINT[1]))  # about 111 m north of the site
FAR = (float(SITE_POINT[0]) + 0.02, float(SITE_POINT[1]))  # about 2.2 km


# --- the world (sync: committed before the bot reads it from its threads) --------------------------------------


def _world(*, places: int, offered: int, standby: int = 0, send: bool = True) -> dict[str, Any]:
    world = staffing_world(0)
    _, shift = order_with_shift(world.franchise, call_cap=places)
    offers, people = [], []
    for i in range(offered + standby):
        worker = pool_worker(world.hq, km_north=1 + i, telegram=True)
        User.objects.filter(pk=worker.user_id).update(language="en")
        worker.user.language = "en"
        offers.append(
            Offer.objects.create(
                organization=world.franchise,
                shift=shift,
                worker=worker,
                position=i + 1,
                is_standby=i >= offered,
                status=OfferStatus.STANDBY,
            )
        )
        people.append(TgUser(worker.user.telegram_user_id, first_name=f"Worker{i + 1}", language_code="en"))
    if send:
        offers_send(shift=shift, offers=offers[:offered], wave=1)
    return {"world": world, "shift": shift, "offers": offers, "people": people}


def _deliver() -> int:
    """Run the outbox's delivery (the real Telegram backend, aimed at the fake by the settings) until no Telegram
    message is waiting: the backend paces each chat (about one message a second) and defers the next one."""
    sent = 0
    deadline = time.monotonic() + 15
    try:
        while True:
            sent += outbox_deliver_due(limit=100, time_budget=20).sent
            waiting = OutboxMessage.objects.filter(channel=Channel.TELEGRAM, status=OutboxStatus.PENDING).exists()
            if not waiting or time.monotonic() > deadline:
                return sent
            time.sleep(0.2)
    finally:
        connections.close_all()


async def deliver(settings: Any) -> None:
    settings.TELEGRAM_BACKEND = "api"
    await sync_to_async(_deliver)()


def _db(fn: Any) -> Any:
    """Run ``fn`` on the database from the async test (committed data, a connection closed afterwards)."""

    def call() -> Any:
        try:
            return fn()
        finally:
            connections.close_all()

    return sync_to_async(call)()


def _status(offer_id: int) -> str:
    return Offer.objects.values_list("status", flat=True).get(pk=offer_id)


def _shift_counts(shift_id: int) -> tuple[int, int]:
    return Shift.objects.values_list("accepted_count", "confirmed_count").get(pk=shift_id)


def _edits(replies: list[Reply]) -> list[Reply]:
    return [r for r in replies if r.method.lower().startswith("editmessage")]


# --- a call-up: the message with buttons, Accept, the answer ---------------------------------------------------


async def test_a_call_up_arrives_with_buttons_and_accept_takes_the_place(
    bot: BotHarness, bot_settings: Any, fake_bot_api: FakeBotApi
) -> None:
    scene = await _db(lambda: _world(places=1, offered=1))
    worker, offer = scene["people"][0], scene["offers"][0]

    await deliver(bot_settings)

    call_up = bot.last(worker)
    assert call_up.method == "sendMessage" and call_up.text.startswith("Work offer: Loaders, Tverskaya 1")
    assert [(b.text, b.callback_data) for b in call_up.flat_buttons] == [
        ("Accept", f"offer:accept:{offer.pk}"),
        ("Decline", f"offer:decline:{offer.pk}"),
    ]

    replies = await bot.tap(worker, "Accept")

    assert toast_of(replies) == "The place is yours!"
    (edit,) = _edits(replies)
    assert edit.message_id == call_up.message_id
    assert edit.text.startswith(call_up.text) and "✅ You accepted: Loaders" in edit.text
    assert edit.flat_buttons == []  # the buttons are gone
    assert await _db(lambda: _status(offer.pk)) == OfferStatus.ACCEPTED
    assert await _db(lambda: _shift_counts(scene["shift"].pk)) == (1, 0)
    print("\n--- call-up as the fake Bot API recorded it ---\n" + bot.transcript(worker))


async def test_decline_frees_the_place_for_the_next_worker_on_standby(bot: BotHarness, bot_settings: Any) -> None:
    scene = await _db(lambda: _world(places=1, offered=1, standby=1))
    first, second = scene["people"]
    await deliver(bot_settings)

    replies = await bot.tap(first, "Decline")

    assert toast_of(replies) == "Declined. Thank you for answering."
    assert "You declined this offer." in _edits(replies)[0].text
    assert await _db(lambda: _status(scene["offers"][0].pk)) == OfferStatus.DECLINED
    assert await _db(lambda: _status(scene["offers"][1].pk)) == OfferStatus.OFFERED
    await deliver(bot_settings)  # the standby worker's call-up (wave 2) goes out
    assert bot.last(second).button("Accept").callback_data == f"offer:accept:{scene['offers'][1].pk}"


# --- security: forged data and stale buttons -------------------------------------------------------------------


async def test_forged_callback_data_cannot_accept_someone_elses_offer(bot: BotHarness, bot_settings: Any) -> None:
    scene = await _db(lambda: _world(places=1, offered=2))
    thief, victim = scene["people"]
    victims_offer = scene["offers"][1]
    await deliver(bot_settings)

    forged = await bot.press(thief, f"offer:accept:{victims_offer.pk}")
    forged_decline = await bot.press(thief, f"offer:decline:{victims_offer.pk}")
    garbage = await bot.press(thief, "offer:accept:1e9")
    made_up = await bot.press(thief, "offer:accept:999999999")

    not_available = "Sorry, this is no longer available."
    assert [toast_of(r) for r in (forged, forged_decline, garbage, made_up)] == [not_available] * 4
    assert await _db(lambda: _status(victims_offer.pk)) == OfferStatus.OFFERED
    assert await _db(lambda: _shift_counts(scene["shift"].pk)) == (0, 0)
    # the victim's own button still works
    assert toast_of(await bot.tap(victim, "Accept")) == "The place is yours!"


async def test_stale_buttons_of_an_expired_or_withdrawn_offer_answer_gracefully(
    bot: BotHarness, bot_settings: Any
) -> None:
    scene = await _db(lambda: _world(places=2, offered=2))
    late, withdrawn = scene["people"]
    await deliver(bot_settings)
    await _db(
        lambda: Offer.objects.filter(pk=scene["offers"][0].pk).update(
            expires_at=timezone.now() - dt.timedelta(minutes=1)
        )
    )
    await _db(lambda: Offer.objects.filter(pk=scene["offers"][1].pk).update(status=OfferStatus.WITHDRAWN))

    for person in (late, withdrawn):
        replies = await bot.tap(person, "Accept")
        assert toast_of(replies) == "Sorry, this is no longer available."
        (edit,) = _edits(replies)
        assert edit.method == "editMessageReplyMarkup" and edit.flat_buttons == []
    assert await _db(lambda: _shift_counts(scene["shift"].pk)) == (0, 0)


# --- the race for the last place -------------------------------------------------------------------------------


def _race_reset(shift_id: int) -> None:
    now = timezone.now()
    Offer.objects.filter(shift_id=shift_id).update(
        status=OfferStatus.OFFERED,
        is_standby=False,
        responded_at=None,
        offered_at=now,
        expires_at=now + dt.timedelta(hours=1),
    )
    Shift.objects.filter(pk=shift_id).update(accepted_count=0, confirmed_count=0)


@pytest.mark.postgres
async def test_two_workers_racing_for_the_last_place_one_wins_the_other_is_told_kindly_and_stays_on_standby(
    bot: BotHarness, bot_settings: Any, fake_bot_api: FakeBotApi
) -> None:
    scene = await _db(lambda: _world(places=1, offered=2, send=False))
    shift_id = scene["shift"].pk
    people, offers = scene["people"], scene["offers"]
    rounds = 10
    for _round in range(rounds):
        await _db(lambda: _race_reset(shift_id))
        updates = [
            fake_bot_api.callback_update(person, f"offer:accept:{offer.pk}")
            for person, offer in zip(people, offers, strict=True)
        ]
        mark = fake_bot_api.mark()
        # Both presses at once: PTB processes them concurrently, each service call in a thread of its own.
        await asyncio.gather(*(bot.process(u) for u in updates))
        toasts = [c for c in fake_bot_api.since(mark) if c.method == "answerCallbackQuery"]
        won = [c for c in toasts if c.params.get("text") == "The place is yours!"]
        lost = [c for c in toasts if str(c.params.get("text")).startswith("Thank you for answering so quickly!")]
        assert (len(toasts), len(won), len(lost)) == (2, 1, 1), [c.params for c in toasts]
        assert "All places on this shift were taken a moment ago. You are on standby" in lost[0].params["text"]
        assert lost[0].params.get("show_alert") is True
        statuses = await _db(lambda: sorted(Offer.objects.filter(shift_id=shift_id).values_list("status", flat=True)))
        assert statuses == [OfferStatus.ACCEPTED, OfferStatus.STANDBY]
        assert await _db(lambda: _shift_counts(shift_id)) == (1, 0)


# --- the day-before question -----------------------------------------------------------------------------------


async def test_the_day_before_question_yes_confirms_and_no_gives_the_place_back(
    bot: BotHarness, bot_settings: Any
) -> None:
    def scene_() -> dict[str, Any]:
        scene = _world(places=2, offered=2)
        for offer in scene["offers"]:
            offer_accept(user=offer.worker.user, offer_id=offer.pk)
        confirmations_request(now=scene["shift"].starts_at - dt.timedelta(hours=20))
        return scene

    scene = await _db(scene_)
    coming, not_coming = scene["people"]
    await deliver(bot_settings)
    question = bot.last(coming)
    assert question.text.startswith("Will you come to your shift Loaders")
    assert [b.callback_data for b in question.flat_buttons] == [
        f"shift:confirm:{scene['offers'][0].pk}:yes",
        f"shift:confirm:{scene['offers'][0].pk}:no",
    ]

    yes = await bot.tap(coming, "Yes")
    no = await bot.tap(not_coming, "No")

    assert toast_of(yes) == "Thank you! See you there." and "✅ Confirmed: Loaders" in _edits(yes)[0].text
    assert toast_of(no) == "Thank you for telling us in time."
    assert await _db(lambda: _status(scene["offers"][0].pk)) == OfferStatus.CONFIRMED
    assert await _db(lambda: _status(scene["offers"][1].pk)) == OfferStatus.DECLINED
    assert await _db(lambda: _shift_counts(scene["shift"].pk)) == (1, 1)
    # a forged answer for the other worker's place changes nothing
    forged = await bot.press(not_coming, f"shift:confirm:{scene['offers'][0].pk}:no")
    assert toast_of(forged) == "Sorry, this is no longer available."
    assert await _db(lambda: _status(scene["offers"][0].pk)) == OfferStatus.CONFIRMED


# --- check-in by location --------------------------------------------------------------------------------------


def _on_the_day() -> dict[str, Any]:
    scene = _world(places=1, offered=1, send=False)
    offer = scene["offers"][0]
    Offer.objects.filter(pk=offer.pk).update(status=OfferStatus.OFFERED, offered_at=timezone.now())
    offer_accept(user=offer.worker.user, offer_id=offer.pk)
    start = timezone.now() - dt.timedelta(minutes=5)
    Shift.objects.filter(pk=scene["shift"].pk).update(starts_at=start, ends_at=start + dt.timedelta(hours=8))
    return scene


async def test_check_in_by_sharing_location_uses_the_site_radius(bot: BotHarness) -> None:
    scene = await _db(_on_the_day)
    worker, offer = scene["people"][0], scene["offers"][0]

    asked = await bot.command(worker, "checkin")
    assert asked[0].reply_keyboard[0][0]["request_location"] is True

    far = await bot.share_location(worker, *FAR)
    assert "from the site; check in within 300 m" in far[0].text
    assert await _db(lambda: _status(offer.pk)) == OfferStatus.ACCEPTED  # a refused check-in changes nothing

    done = await bot.share_location(worker, *AT_SITE)

    assert done[0].text.startswith("You are checked in: Loaders")
    assert await _db(lambda: _status(offer.pk)) == OfferStatus.CHECKED_IN
    attendance = await _db(lambda: Attendance.objects.get(offer_id=offer.pk))
    assert attendance.check_in_latitude == Decimal(str(round(AT_SITE[0], 6)))
    assert 100 < attendance.check_in_distance_m < 125

    await bot.command(worker, "checkout")
    out = await bot.share_location(worker, *AT_SITE)
    assert out[0].text.startswith("You checked out:")
    assert await _db(lambda: _status(offer.pk)) == OfferStatus.COMPLETED


async def test_a_live_location_checks_in_silently_once_near_the_site(bot: BotHarness, fake_bot_api: FakeBotApi) -> None:
    scene = await _db(_on_the_day)
    worker, offer = scene["people"][0], scene["offers"][0]

    first = fake_bot_api.location_update(worker, *FAR, live_period=900)
    message_id = first["message"]["message_id"]
    started = await bot.process(first)
    assert "from the site" in started[0].text  # the first share answers, like any location

    walking = await bot.move_live_location(worker, message_id, FAR[0] - 0.01, FAR[1])
    assert walking == []  # still too far: nothing said
    arrived = await bot.move_live_location(worker, message_id, *AT_SITE)
    assert arrived[0].text.startswith("You are checked in")
    again = await bot.move_live_location(worker, message_id, *AT_SITE)
    assert again == []  # already checked in: the live location goes on quietly
    assert await _db(lambda: _status(offer.pk)) == OfferStatus.CHECKED_IN


# --- lists, earnings, rating, availability ---------------------------------------------------------------------


async def test_my_offers_my_shifts_earnings_and_rating(bot: BotHarness) -> None:
    scene = await _db(lambda: _world(places=2, offered=2))
    first, second = scene["people"]
    await _db(lambda: offer_accept(user=scene["offers"][1].worker.user, offer_id=scene["offers"][1].pk))

    offers = await bot.command(first, "offers")
    assert offers[0].text.startswith("Work offer: Loaders")
    assert offers[0].button("Accept").callback_data == f"offer:accept:{scene['offers'][0].pk}"

    shifts = await bot.command(second, "shifts")
    assert shifts[0].text.startswith("Your shifts:") and "accepted" in shifts[0].text
    confirmed = await bot.tap(second, "Confirm")
    assert toast_of(confirmed) == "Thank you! See you there."

    earnings = await bot.command(second, "earnings")
    assert earnings[0].text.startswith("No worked shifts from")
    rating = await bot.command(second, "rating")
    assert rating[0].text.startswith("Reliability ")


async def test_availability_for_the_coming_days_is_set_by_tapping_a_day(bot: BotHarness) -> None:
    scene = await _db(lambda: _world(places=1, offered=1, send=False))
    worker = scene["people"][0]

    shown = await bot.command(worker, "availability")
    days = shown[0].buttons
    assert len(days) == 7 and all(row[0].text.startswith("✖") for row in days)

    tapped = await bot.press(worker, days[1][0].callback_data, message_id=shown[0].message_id)

    assert toast_of(tapped) == "Saved."
    (edit,) = _edits(tapped)
    assert edit.buttons[1][0].text.startswith("✅") and edit.buttons[0][0].text.startswith("✖")
    windows = await _db(lambda: list(WorkerAvailability.objects.filter(worker=scene["offers"][0].worker)))
    assert len(windows) == 1 and windows[0].ends_at - windows[0].starts_at == dt.timedelta(hours=24)

    back = await bot.press(worker, edit.buttons[1][0].callback_data, message_id=shown[0].message_id)
    assert _edits(back)[0].buttons[1][0].text.startswith("✖")
    assert await _db(lambda: WorkerAvailability.objects.filter(worker=scene["offers"][0].worker).count()) == 0


async def test_an_unlinked_telegram_user_is_asked_to_link_first(bot: BotHarness) -> None:
    stranger = bot.user(language="en")
    replies = await bot.press(stranger, "offer:accept:1")
    assert toast_of(replies) and "/start" in (toast_of(replies) or "")
    said = await bot.command(stranger, "shifts")
    assert "/start" in said[0].text


async def test_the_main_menu_and_help_reach_the_worker_flows(bot: BotHarness) -> None:
    from bots.handlers.base import main_menu

    scene = await _db(lambda: _world(places=1, offered=1))
    worker = scene["people"][0]

    menu = main_menu(worker=True)
    assert menu is not None
    entries = [b.callback_data for row in menu.inline_keyboard for b in row]
    assert {"wm:offers", "wm:shifts", "wm:checkin", "wm:availability"} <= set(entries)
    customers = main_menu(worker=False)
    customer_entries = {b.callback_data for row in customers.inline_keyboard for b in row} if customers else set()
    assert "wm:offers" not in customer_entries  # worker entries only for workers

    offers = await bot.press(worker, "wm:offers")
    assert offers[-1].text.startswith("Work offer: Loaders") and offers[-1].button("Accept")
    check_in = await bot.press(worker, "wm:checkin")
    assert check_in[-1].reply_keyboard[0][0]["request_location"] is True
    forged = await bot.press(worker, "wm:drop_tables")
    assert toast_of(forged)  # answered as a stale button, nothing else happens
    help_text = (await bot.command(worker, "help"))[0].text
    assert "/offers" in help_text and "/checkin" in help_text
