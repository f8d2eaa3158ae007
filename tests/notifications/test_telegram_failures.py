"""Telegram failures at the fake Bot API: network errors retried (never a blind resend), blocked users marked,
messages that matter sent by SMS instead, exactly once."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from backend.notifications.backends import outbox_memory
from backend.notifications.dispatch import outbox_deliver_due, outbox_sweep
from backend.notifications.models import Channel, OutboxMessage, OutboxStatus, TelegramChat, UnreachableReason
from backend.notifications.sealing import SECRET_SLOT
from backend.notifications.services import message_enqueue, telegram_chat_reachable, telegram_chat_unblock
from bots.testing.fake_bot_api import Failure

from .telegram_fake import TimedFakeBotApi, deliver_until_settled
from .telegram_fake import telegram_api as telegram_api

pytestmark = pytest.mark.django_db


def user(phone: str, telegram_id: int) -> Any:
    return get_user_model().objects.create_user(phone, telegram_user_id=telegram_id)


def telegram(key: str, chat: int, *, who: Any = None, matters: bool = False, **kwargs: Any) -> OutboxMessage:
    message, _ = message_enqueue(
        channel=Channel.TELEGRAM,
        recipient=str(chat),
        body=kwargs.pop("body", f"text {key}"),
        dedupe_key=key,
        user=who,
        sms_fallback=matters,
        **kwargs,
    )
    return message


def make_due() -> None:
    """Let the back-off pass (the test does not wait ten seconds for it)."""
    OutboxMessage.objects.filter(status=OutboxStatus.PENDING).update(next_attempt_at=timezone.now())


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_is_retried_with_back_off_and_sent_once(
    telegram_api: TimedFakeBotApi, settings: Any
) -> None:
    # given the Bot API cannot be reached (nothing listens on the port)
    settings.TELEGRAM_API_BASE_URL = f"http://127.0.0.1:{closed_port()}/bot"
    message = telegram("net:1", 100)
    before = timezone.now()
    # when delivery runs
    outbox_deliver_due(worker="w1")
    # then the message waits for another attempt with back-off (the request never left: safe to send again)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert message.next_attempt_at >= before + timedelta(seconds=5) and "connect" in message.last_error
    # when the Bot API is back and the back-off has passed
    settings.TELEGRAM_API_BASE_URL = telegram_api.base_url
    make_due()
    deliver_until_settled()  # the failed attempt still took the chat's one-second slot
    # then it was sent, once
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 2)
    assert [a.text for a in telegram_api.sends()] == ["text net:1"]


def test_a_server_error_is_retried_and_the_message_arrives_once(telegram_api: TimedFakeBotApi) -> None:
    # given a Bot API answering 502 once
    telegram_api.fail_server_error("sendMessage", status=502)
    message = telegram("net:2", 100)
    # when delivery runs, and again once the back-off has passed
    outbox_deliver_due(worker="w1")
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    make_due()
    deliver_until_settled()
    # then the second attempt delivered it
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert [a.http_status for a in telegram_api.sends()] == [502, 200]


def test_a_connection_dropped_mid_send_is_flagged_never_resent(telegram_api: TimedFakeBotApi) -> None:
    # given the Bot API reads the request and drops the connection without answering (it may have sent it)
    telegram_api.drop_connection("sendMessage")
    message = telegram("net:3", 100)
    # when delivery runs, and runs again, and the sweep passes
    outbox_deliver_due(worker="w1")
    make_due()
    outbox_deliver_due(worker="w2")
    outbox_sweep()
    # then the message waits for an operator in RECONCILE and reached the server only that once
    message.refresh_from_db()
    assert message.status == OutboxStatus.RECONCILE and "after sending" in message.last_error
    assert len(telegram_api.sends()) == 1
    assert not OutboxMessage.objects.filter(channel=Channel.SMS).exists()


def test_a_blocked_user_gets_the_call_up_by_sms_once_and_the_mailing_not_at_all(
    telegram_api: TimedFakeBotApi,
) -> None:
    # given a worker and a customer who both blocked the bot
    worker = user("+77010000101", 501)
    customer = user("+77010000102", 502)
    telegram_api.fail_blocked(chat_id=501)
    telegram_api.fail("sendMessage", Failure(403, "Forbidden: user is deactivated"), chat_id=502)
    call_up = telegram(
        "staffing.offer:1:offer:1",
        501,
        who=worker,
        matters=True,
        body="Work offer: loaders, 10:00-18:00",
        payload={"reply_markup": {"inline_keyboard": []}},
    )
    mailing = telegram("campaign:1:502", 502, who=customer, body="Spring sale -20%")
    # when delivery runs until nothing is pending (the fallback SMS included), and runs again
    deliver_until_settled()
    outbox_deliver_due(worker="w2")
    # then both Telegram messages failed for good and both chats are marked
    call_up.refresh_from_db()
    mailing.refresh_from_db()
    assert (call_up.status, mailing.status) == (OutboxStatus.FAILED, OutboxStatus.FAILED)
    assert dict(TelegramChat.objects.values_list("chat_id", "unreachable_reason")) == {
        501: UnreachableReason.BLOCKED,
        502: UnreachableReason.DEACTIVATED,
    }
    # and the call-up went to the worker's phone by SMS, in plain text, exactly once; the mailing did not
    [fallback] = OutboxMessage.objects.filter(channel=Channel.SMS)
    assert (fallback.recipient, fallback.body, fallback.fallback_for_id) == (
        "+77010000101",
        "Work offer: loaders, 10:00-18:00",
        call_up.pk,
    )
    assert fallback.status == OutboxStatus.SENT
    assert [(r.channel, r.recipient) for r in outbox_memory] == [(Channel.SMS, "+77010000101")]
    assert len(telegram_api.sends()) == 2


def test_a_marked_chat_is_not_called_again_until_the_user_starts_the_bot(telegram_api: TimedFakeBotApi) -> None:
    # given a worker who blocked the bot, found out by a first call-up
    worker = user("+77010000103", 503)
    telegram_api.fail_blocked()
    telegram("offer:a", 503, who=worker, matters=True)
    deliver_until_settled()
    assert len(telegram_api.sends()) == 1
    # when another call-up and a standby notice are due
    second = telegram("offer:b", 503, who=worker, matters=True)
    standby = telegram("offer:b:standby", 503, who=worker)
    deliver_until_settled()
    # then Telegram is not called for them; the call-up goes by SMS, the standby notice just fails
    assert len(telegram_api.sends()) == 1
    second.refresh_from_db()
    standby.refresh_from_db()
    assert (second.status, standby.status) == (OutboxStatus.FAILED, OutboxStatus.FAILED)
    assert "marked unreachable" in second.last_error
    assert sorted(OutboxMessage.objects.filter(channel=Channel.SMS).values_list("dedupe_key", flat=True)) == sorted(
        [f"sms-fallback:{m.pk}" for m in OutboxMessage.objects.filter(dedupe_key__in=["offer:a", "offer:b"])]
    )
    # when the user starts the bot again (bot-core's /start calls this)
    assert telegram_chat_unblock(chat_id=503) is True
    third = telegram("offer:c", 503, who=worker, matters=True)
    deliver_until_settled()
    # then messages reach Telegram again
    third.refresh_from_db()
    assert third.status == OutboxStatus.SENT and telegram_chat_reachable(chat_id=503)
    assert [a.text for a in telegram_api.sends(ok=True)] == ["text offer:c"]


def test_chat_not_found_falls_back_for_a_reminder(telegram_api: TimedFakeBotApi) -> None:
    customer = user("+77010000104", 504)
    telegram_api.fail_bad_request("sendMessage", "Bad Request: chat not found")
    reminder = telegram(
        "booking:apptmsg:1:v1",
        504,
        who=customer,
        matters=True,
        body="<b>Tomorrow</b> 10:00, haircut",
        payload={"parse_mode": "HTML"},
    )
    deliver_until_settled()
    reminder.refresh_from_db()
    assert reminder.status == OutboxStatus.FAILED
    assert TelegramChat.objects.get(chat_id=504).unreachable_reason == UnreachableReason.CHAT_NOT_FOUND
    assert [r.body for r in outbox_memory] == ["Tomorrow 10:00, haircut"]


def test_a_bad_message_fails_without_marking_the_chat(telegram_api: TimedFakeBotApi) -> None:
    customer = user("+77010000105", 505)
    telegram_api.fail_bad_request("sendMessage", "Bad Request: can't parse entities")
    message = telegram("bad:1", 505, who=customer, matters=True)
    deliver_until_settled()
    message.refresh_from_db()
    assert message.status == OutboxStatus.FAILED
    assert telegram_chat_reachable(chat_id=505)
    assert not OutboxMessage.objects.filter(channel=Channel.SMS).exists()


def test_a_one_time_code_falls_back_with_its_secret_sealed(telegram_api: TimedFakeBotApi) -> None:
    # given a code for a user who blocked the bot
    who = user("+77010000106", 506)
    telegram_api.fail_blocked()
    code = telegram(
        "otp:1", 506, who=who, matters=True, body=f"Brigada code: {SECRET_SLOT}", secret="482913", sensitive=True
    )
    # when delivery runs
    deliver_until_settled()
    # then the SMS carried the code, and neither row keeps it (nor the sensitive body) at rest
    assert [r.body for r in outbox_memory] == ["Brigada code: 482913"]
    assert telegram_api.sends()[0].text == "Brigada code: 482913"
    code.refresh_from_db()
    fallback = OutboxMessage.objects.get(fallback_for=code)
    assert (code.sealed_secret, fallback.sealed_secret, fallback.body) == ("", "", "")


def test_a_telegram_message_without_a_user_cannot_fall_back(telegram_api: TimedFakeBotApi) -> None:
    telegram_api.fail_blocked()
    message = telegram("orphan:1", 507, matters=True)
    deliver_until_settled()
    message.refresh_from_db()
    assert message.status == OutboxStatus.FAILED
    assert not OutboxMessage.objects.filter(channel=Channel.SMS).exists()
