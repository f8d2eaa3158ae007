"""Helpers for the identity tests: read the code a request put in the outbox."""

from __future__ import annotations

import re

from backend.accounts.models import OtpChallenge
from backend.notifications.models import OutboxMessage
from backend.notifications.sealing import message_for_provider


def sent_message(phone: str) -> OutboxMessage:
    challenge = OtpChallenge.objects.filter(phone=phone).latest("created_at")
    return OutboxMessage.objects.get(dedupe_key=f"otp:{challenge.pk}")


def sent_code(phone: str) -> str:
    """The code in the newest one-time-code message for ``phone`` (what the SMS or Telegram fake would show).

    The stored body holds only a slot; the text a provider receives is rendered at send time.
    """
    body = message_for_provider(sent_message(phone)).body
    match = re.search(r"\b(\d{6})\b", body)
    assert match, body
    return match.group(1)


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"
