"""Telegram delivery rules that need no server: rate keys, paired slots, error classes, unreachable chats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.notifications.backends import (
    TELEGRAM_CHAT_INTERVAL,
    TELEGRAM_GLOBAL_INTERVAL,
    TELEGRAM_GLOBAL_KEY,
    TELEGRAM_GROUP_INTERVAL,
    TelegramVerdict,
    telegram_error_classify,
    telegram_rate_key,
)
from backend.notifications.models import Channel, DeliveryRateSlot, TelegramChat, UnreachableReason
from backend.notifications.ratelimit import slot_reserve, slot_reserve_pair
from backend.notifications.services import (
    message_enqueue,
    plain_text,
    telegram_chat_mark_unreachable,
    telegram_chat_reachable,
    telegram_chat_unblock,
)


def test_private_chats_and_groups_have_their_own_keys_and_paces() -> None:
    assert telegram_rate_key("100") == ("telegram:chat:100", TELEGRAM_CHAT_INTERVAL)
    assert telegram_rate_key(-1001234) == ("telegram:group:-1001234", TELEGRAM_GROUP_INTERVAL)
    # the paces keep inside Telegram's limits: 1/s per chat, 20/min per group, 30/s overall
    assert TELEGRAM_CHAT_INTERVAL >= 1.0
    assert 60 / TELEGRAM_GROUP_INTERVAL <= 20
    assert 1 / TELEGRAM_GLOBAL_INTERVAL <= 30


@pytest.mark.parametrize(
    ("status", "description", "parameters", "verdict", "reason", "retry_after"),
    [
        (429, "Too Many Requests: retry after 5", {"retry_after": 5}, TelegramVerdict.RATE_LIMITED, "", 5.0),
        (429, "Too Many Requests", {}, TelegramVerdict.RATE_LIMITED, "", 1.0),
        (
            403,
            "Forbidden: bot was blocked by the user",
            {},
            TelegramVerdict.UNREACHABLE,
            UnreachableReason.BLOCKED,
            None,
        ),
        (403, "Forbidden: user is deactivated", {}, TelegramVerdict.UNREACHABLE, UnreachableReason.DEACTIVATED, None),
        (400, "Bad Request: chat not found", {}, TelegramVerdict.UNREACHABLE, UnreachableReason.CHAT_NOT_FOUND, None),
        (
            403,
            "Forbidden: bot was kicked from the group chat",
            {},
            TelegramVerdict.UNREACHABLE,
            UnreachableReason.KICKED,
            None,
        ),
        (
            403,
            "Forbidden: bot can't initiate conversation with a user",
            {},
            TelegramVerdict.UNREACHABLE,
            UnreachableReason.NOT_STARTED,
            None,
        ),
        (403, "Forbidden: something new", {}, TelegramVerdict.UNREACHABLE, UnreachableReason.FORBIDDEN, None),
        (400, "Bad Request: message is too long", {}, TelegramVerdict.PERMANENT, "", None),
        (400, "Bad Request: can't parse entities", {}, TelegramVerdict.PERMANENT, "", None),
        (401, "Unauthorized", {}, TelegramVerdict.TEMPORARY, "", None),
        (404, "Not Found", {}, TelegramVerdict.TEMPORARY, "", None),
        (502, "Bad Gateway", {}, TelegramVerdict.TEMPORARY, "", None),
        (500, "Internal Server Error", {"retry_after": 3}, TelegramVerdict.TEMPORARY, "", 3.0),
    ],
)
def test_bot_api_errors_are_classified(
    status: int, description: str, parameters: dict[str, int], verdict: str, reason: str, retry_after: float | None
) -> None:
    answer = telegram_error_classify(status, description, parameters)
    assert (answer.verdict, answer.reason, answer.retry_after) == (verdict, reason, retry_after)


@pytest.mark.django_db
def test_a_pair_reservation_moves_both_slots_to_the_same_moment() -> None:
    # given a bot budget free only in 0.5 s and a chat free now
    start = timezone.now() + timedelta(seconds=0.5)
    DeliveryRateSlot.objects.create(key=TELEGRAM_GLOBAL_KEY, next_allowed_at=start)
    # when a send to the chat reserves
    answer = slot_reserve_pair(
        own="telegram:chat:1", own_interval=1.0, shared=TELEGRAM_GLOBAL_KEY, shared_interval=0.1, max_wait=3.0
    )
    # then both slots count from the moment the message will really go out (not from "now" for the chat)
    assert answer.reserved and 0.3 < answer.wait <= 0.5
    assert DeliveryRateSlot.objects.get(key="telegram:chat:1").next_allowed_at == start + timedelta(seconds=1)
    assert DeliveryRateSlot.objects.get(key=TELEGRAM_GLOBAL_KEY).next_allowed_at == start + timedelta(seconds=0.1)


@pytest.mark.django_db
def test_a_busy_chat_reserves_nothing_and_leaves_the_bot_budget_to_other_chats() -> None:
    # given a chat busy for 2 more seconds and a free bot budget
    busy_until = timezone.now() + timedelta(seconds=2)
    DeliveryRateSlot.objects.create(key="telegram:chat:1", next_allowed_at=busy_until)
    # when a send to it asks for a slot
    answer = slot_reserve_pair(
        own="telegram:chat:1", own_interval=1.0, shared=TELEGRAM_GLOBAL_KEY, shared_interval=0.1, max_wait=3.0
    )
    # then it is told to come back when the chat is free, and no slot moved
    assert (answer.reserved, answer.limited_by) == (False, "telegram:chat:1")
    assert 1.5 < answer.wait <= 2.0
    assert DeliveryRateSlot.objects.get(key="telegram:chat:1").next_allowed_at == busy_until
    assert not DeliveryRateSlot.objects.filter(key=TELEGRAM_GLOBAL_KEY, next_allowed_at__gt=timezone.now()).exists()
    # and another chat is served at once
    other = slot_reserve_pair(
        own="telegram:chat:2", own_interval=1.0, shared=TELEGRAM_GLOBAL_KEY, shared_interval=0.1, max_wait=3.0
    )
    assert other.reserved and other.wait == 0


@pytest.mark.django_db
def test_twenty_one_group_messages_span_more_than_a_minute() -> None:
    # given a group's slot free from a moment in the future (so the clock does not move it)
    start = timezone.now() + timedelta(seconds=5)
    key, interval = telegram_rate_key("-100500")
    DeliveryRateSlot.objects.create(key=key, next_allowed_at=start)
    # when 21 sends reserve it (the wait bound lifted so the whole minute can be booked at once)
    waits = [slot_reserve(key=key, interval=interval, max_wait=3600) for _ in range(21)]
    # then the 21st goes out at least a minute after the 1st: never more than 20 in a minute
    assert all(w is not None for w in waits)
    assert waits[20] - waits[0] >= 60  # type: ignore[operator]


def test_plain_text_for_the_sms_fallback() -> None:
    assert plain_text("<b>Shift</b> at 10:00 &amp; bring boots", "HTML") == "Shift at 10:00 & bring boots"
    assert plain_text(r"Shift 1\.5 h \- ok", "MarkdownV2") == "Shift 1.5 h - ok"
    assert plain_text("<as is>", "") == "<as is>"


@pytest.mark.django_db
def test_a_chat_marked_unreachable_is_reachable_again_after_start() -> None:
    # given a chat marked blocked
    telegram_chat_mark_unreachable(chat_id="42", reason=UnreachableReason.BLOCKED, error="403 blocked")
    telegram_chat_mark_unreachable(chat_id=42, reason=UnreachableReason.DEACTIVATED)  # a later mark: no second row
    assert not telegram_chat_reachable(chat_id=42)
    chat = TelegramChat.objects.get(chat_id=42)
    assert chat.unreachable_reason == UnreachableReason.BLOCKED and chat.unreachable_since is not None
    # when the user starts the bot again
    assert telegram_chat_unblock(chat_id=42) is True
    # then it is reachable, and unblocking again (or an unknown chat) changes nothing
    assert telegram_chat_reachable(chat_id=42)
    assert telegram_chat_unblock(chat_id=42) is False
    assert telegram_chat_unblock(chat_id=7) is False
    assert telegram_chat_unblock(chat_id="not-a-chat") is False


@pytest.mark.django_db
def test_the_sms_fallback_flag_only_sticks_to_telegram_messages() -> None:
    telegram, _ = message_enqueue(channel=Channel.TELEGRAM, recipient="1", body="b", dedupe_key="t", sms_fallback=True)
    sms, _ = message_enqueue(channel=Channel.SMS, recipient="+77010000001", body="b", dedupe_key="s", sms_fallback=True)
    plain, _ = message_enqueue(channel=Channel.TELEGRAM, recipient="1", body="b", dedupe_key="p")
    assert (telegram.sms_fallback, sms.sms_fallback, plain.sms_fallback) == (True, False, False)
