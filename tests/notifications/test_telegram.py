"""Telegram delivery over the Bot API: limits shared by all workers, retry_after honoured."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.notifications.dispatch import outbox_deliver_due
from backend.notifications.models import Channel, DeliveryRateSlot, OutboxMessage, OutboxStatus
from backend.notifications.ratelimit import slot_reserve
from backend.notifications.services import message_enqueue

from .fakes import FakeProvider

pytestmark = pytest.mark.django_db


def telegram(key: str, chat: str = "100", **kwargs: Any) -> OutboxMessage:
    message, _ = message_enqueue(
        channel=Channel.TELEGRAM, recipient=chat, body=f"hello {key}", dedupe_key=key, **kwargs
    )
    return message


def test_send_message_reaches_the_bot_api(bot_api: FakeProvider) -> None:
    # given a message with an inline keyboard
    markup = {"inline_keyboard": [[{"text": "Confirm", "callback_data": "confirm:1"}]]}
    message = telegram("t1", payload={"reply_markup": markup})
    # when delivery runs
    outbox_deliver_due(worker="w1")
    # then sendMessage was called with the token in the path and the payload merged in
    [request] = bot_api.received
    message.refresh_from_db()
    assert request.path == "/bot123:TEST/sendMessage"
    assert request.body == {"chat_id": "100", "text": "hello t1", "reply_markup": markup}
    assert (message.status, message.provider_message_id) == (OutboxStatus.SENT, "1")


def test_429_retry_after_defers_without_counting_an_attempt(bot_api: FakeProvider) -> None:
    # given the Bot API asks us to slow down for 7 seconds
    bot_api.reply = lambda request, n: (
        429,
        {"ok": False, "description": "Too Many Requests", "parameters": {"retry_after": 7}},
        {},
    )
    message = telegram("t1")
    before = timezone.now()
    # when delivery runs
    outbox_deliver_due(worker="w1")
    # then the message waits at least retry_after, the attempt is not counted, and the whole chat is held back
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)
    assert message.next_attempt_at >= before + timedelta(seconds=7)
    assert DeliveryRateSlot.objects.get(key="telegram:chat:100").next_allowed_at >= before + timedelta(seconds=7)


def test_blocked_bot_is_a_permanent_failure(bot_api: FakeProvider) -> None:
    bot_api.reply = lambda request, n: (403, {"ok": False, "description": "Forbidden: bot was blocked"}, {})
    message = telegram("t1")
    outbox_deliver_due(worker="w1")
    message.refresh_from_db()
    assert message.status == OutboxStatus.FAILED and "blocked" in message.last_error


def test_no_token_fails_clearly(settings: Any) -> None:
    settings.TELEGRAM_BOT_TOKEN = ""
    settings.TELEGRAM_BACKEND = "api"
    message = telegram("t1")
    outbox_deliver_due(worker="w1")
    message.refresh_from_db()
    assert message.status == OutboxStatus.FAILED and "TELEGRAM_BOT_TOKEN" in message.last_error


def test_second_message_to_a_busy_chat_is_deferred_not_sent_early(bot_api: FakeProvider) -> None:
    # given a chat that may not receive anything for 10 more seconds (a shared slot another worker reserved)
    DeliveryRateSlot.objects.create(key="telegram:chat:100", next_allowed_at=timezone.now() + timedelta(seconds=10))
    busy = telegram("to-busy-chat", chat="100")
    free = telegram("to-free-chat", chat="200")
    # when delivery runs
    outbox_deliver_due(worker="w1")
    # then the other chat is served, the busy one waits for its slot without losing an attempt
    busy.refresh_from_db()
    assert [r.body["chat_id"] for r in bot_api.received] == ["200"]
    assert (busy.status, busy.attempts) == (OutboxStatus.PENDING, 0)
    assert free.pk != busy.pk


def _slots_after(key: str, interval: float, reservations: int) -> timedelta:
    """Reserve ``reservations`` slots on a key busy for a while; how far its next free slot moved."""
    start = timezone.now() + timedelta(seconds=3)  # in the future, so the clock does not move the slots
    DeliveryRateSlot.objects.create(key=key, next_allowed_at=start)
    for _ in range(reservations):
        assert slot_reserve(key=key, interval=interval, max_wait=60.0) is not None
    return DeliveryRateSlot.objects.get(key=key).next_allowed_at - start


def test_per_chat_slots_are_one_second_apart() -> None:
    assert _slots_after("telegram:chat:7", 1.0, 3) == timedelta(seconds=3)


def test_global_limit_is_thirty_a_second() -> None:
    # 30 sends take one second of the shared budget, whoever the workers are
    assert abs(_slots_after("telegram:global", 1 / 30, 30) - timedelta(seconds=1)) < timedelta(milliseconds=1)


def test_slot_beyond_max_wait_is_not_reserved() -> None:
    slot_reserve(key="k", interval=10.0, max_wait=1.0)
    before = DeliveryRateSlot.objects.get(key="k").next_allowed_at
    assert slot_reserve(key="k", interval=10.0, max_wait=1.0) is None
    assert DeliveryRateSlot.objects.get(key="k").next_allowed_at == before
