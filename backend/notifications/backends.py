"""Delivery backends: one small interface, one class per provider.

A backend's ``send`` either returns a ``Delivery`` (the provider accepted the message) or raises one of:
``TemporaryFailure`` (try again later, optionally after ``retry_after`` seconds), ``PermanentFailure`` (never
retry), ``OutcomeUnknown`` (the request may have reached the provider: flag for reconciliation, never resend
blindly) or ``Deferred`` (our own rate limiter says not yet; not counted as an attempt).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone
from django.utils.module_loading import import_string

from backend.core.phones import phone_mask

from .models import Channel, OutboxMessage
from .ratelimit import slot_push_back, slot_reserve

logger = logging.getLogger("brigada.outbox")

HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

_http_client: httpx.Client | None = None
_http_client_lock = threading.Lock()


def http_client() -> httpx.Client:
    """One pooled client per process: building one per message costs an SSL context and a new connection."""
    global _http_client
    with _http_client_lock:
        if _http_client is None:
            _http_client = httpx.Client(timeout=HTTP_TIMEOUT)
        return _http_client


@dataclass(frozen=True)
class Delivery:
    provider_message_id: str = ""


class DeliveryError(Exception):
    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TemporaryFailure(DeliveryError):
    """The provider did not take the message; another attempt may succeed."""


class PermanentFailure(DeliveryError):
    """The provider refused the message for good (bad number, bot blocked, ...)."""


class OutcomeUnknown(DeliveryError):
    """The request may have reached the provider (e.g. a read time-out): reconcile, do not resend."""


class Deferred(DeliveryError):
    """Not sent yet because of our own rate limit; retry at ``retry_after`` without counting an attempt."""


class MessageBackend(Protocol):
    def send(self, message: OutboxMessage) -> Delivery: ...


def _masked_body(message: OutboxMessage) -> str:
    return f"[{len(message.body)} characters hidden]" if message.sensitive else message.body


def _retry_after_header(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(raw) - timezone.now()).total_seconds())
        except (TypeError, ValueError):
            return None


# --- SMS ----------------------------------------------------------------------------------------------

class ConsoleSmsBackend:
    """Development default: logs the message with the phone masked (and a sensitive body hidden)."""

    def send(self, message: OutboxMessage) -> Delivery:
        logger.info(
            "SMS (console backend) to %s: %s",
            phone_mask(message.recipient),
            _masked_body(message),
            extra={"outbox_id": message.pk},
        )
        return Delivery(provider_message_id=f"console-{message.pk}")


class FileSmsBackend:
    """Appends one JSON line per message to ``SMS_FILE_PATH``: the simulated handset, full text included."""

    _lock = threading.Lock()

    def send(self, message: OutboxMessage) -> Delivery:
        path = Path(settings.SMS_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {"at": timezone.now().isoformat(), "id": message.pk, "to": message.recipient, "body": message.body,
             "dedupe_key": message.dedupe_key},
            ensure_ascii=False,
        )
        # One write() of a short line in append mode is atomic enough across worker processes.
        with self._lock, path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return Delivery(provider_message_id=f"file-{message.pk}")


@dataclass(frozen=True)
class SentRecord:
    channel: str
    recipient: str
    body: str
    dedupe_key: str
    subject: str = ""


outbox_memory: list[SentRecord] = []
"""Messages 'sent' by the memory backends in this process (tests read and clear it)."""


class MemorySmsBackend:
    def send(self, message: OutboxMessage) -> Delivery:
        outbox_memory.append(SentRecord(message.channel, message.recipient, message.body, message.dedupe_key))
        return Delivery(provider_message_id=f"memory-{len(outbox_memory)}")


class HttpSmsBackend:
    """A generic HTTP SMS provider: POST JSON to ``SMS_HTTP_URL``.

    2xx = sent; 429 and 5xx = try again (honouring Retry-After); any other 4xx = permanent failure. A connection
    that never opened is safe to retry; a request that timed out after it was sent has an unknown outcome.
    The dedupe key travels as ``Idempotency-Key`` for providers that honour one.
    """

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.url = url or settings.SMS_HTTP_URL
        self.token = token if token is not None else getattr(settings, "SMS_HTTP_TOKEN", "")

    def send(self, message: OutboxMessage) -> Delivery:
        if not self.url:
            raise PermanentFailure("SMS_HTTP_URL is not set")
        headers = {"Idempotency-Key": message.dedupe_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {"to": message.recipient, "text": message.body, "dedupe_key": message.dedupe_key, "id": message.pk}
        try:
            response = http_client().post(self.url, json=body, headers=headers, timeout=HTTP_TIMEOUT)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TemporaryFailure(f"connect: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise OutcomeUnknown(f"after sending: {type(exc).__name__}") from exc
        if response.is_success:
            try:
                provider_id = str((response.json() or {}).get("id", ""))[:100]
            except ValueError:
                provider_id = ""
            return Delivery(provider_message_id=provider_id)
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryFailure(f"HTTP {response.status_code}", retry_after=_retry_after_header(response))
        raise PermanentFailure(f"HTTP {response.status_code}: {response.text[:200]}")


# --- Telegram -----------------------------------------------------------------------------------------

TELEGRAM_DEFAULT_BASE_URL = "https://api.telegram.org/bot"
TELEGRAM_GLOBAL_INTERVAL = 1 / 30  # about 30 messages a second overall
TELEGRAM_CHAT_INTERVAL = 1.0  # one message a second per chat
TELEGRAM_MAX_WAIT = 3.0  # wait this long for a slot inside a delivery; beyond it, defer the message


class TelegramBackend:
    """``sendMessage`` over the Bot API with the shared rate limiter and ``retry_after`` honoured.

    ``TELEGRAM_API_BASE_URL`` has python-telegram-bot's ``base_url`` form (``.../bot``); the token follows.
    ``payload`` may carry extra sendMessage fields such as ``reply_markup`` or ``parse_mode``.
    """

    def __init__(self, token: str | None = None, base_url: str | None = None) -> None:
        self.token = token if token is not None else settings.TELEGRAM_BOT_TOKEN
        self.base_url = (base_url or settings.TELEGRAM_API_BASE_URL or TELEGRAM_DEFAULT_BASE_URL).rstrip("/")

    def _wait_for_slots(self, chat_id: str) -> None:
        chat_wait = slot_reserve(
            key=f"telegram:chat:{chat_id}", interval=TELEGRAM_CHAT_INTERVAL, max_wait=TELEGRAM_MAX_WAIT
        )
        if chat_wait is None:
            raise Deferred("per-chat rate limit", retry_after=TELEGRAM_CHAT_INTERVAL * 2)
        global_wait = slot_reserve(
            key="telegram:global", interval=TELEGRAM_GLOBAL_INTERVAL, max_wait=TELEGRAM_MAX_WAIT
        )
        if global_wait is None:
            raise Deferred("global rate limit", retry_after=1.0)
        wait = max(chat_wait, global_wait)
        if wait > 0:
            time.sleep(wait)

    def send(self, message: OutboxMessage) -> Delivery:
        if not self.token:
            raise PermanentFailure("TELEGRAM_BOT_TOKEN is not set")
        chat_id = message.recipient
        self._wait_for_slots(chat_id)
        data: dict[str, Any] = {"chat_id": chat_id, "text": message.body, **(message.payload or {})}
        url = f"{self.base_url}{self.token}/sendMessage"
        try:
            response = http_client().post(url, json=data, timeout=HTTP_TIMEOUT)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TemporaryFailure(f"connect: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise OutcomeUnknown(f"after sending: {type(exc).__name__}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code == 200 and answer.get("ok"):
            return Delivery(provider_message_id=str((answer.get("result") or {}).get("message_id", ""))[:100])
        description = str(answer.get("description", ""))[:200]
        if response.status_code == 429:
            retry_after = float((answer.get("parameters") or {}).get("retry_after", 1))
            # Everyone sending to this chat must hold back, not just this worker.
            slot_push_back(key=f"telegram:chat:{chat_id}", until=timezone.now() + timedelta(seconds=retry_after))
            raise Deferred(f"429 {description}", retry_after=retry_after)
        if response.status_code >= 500:
            raise TemporaryFailure(f"HTTP {response.status_code} {description}")
        raise PermanentFailure(f"HTTP {response.status_code} {description}")


class MemoryTelegramBackend:
    def send(self, message: OutboxMessage) -> Delivery:
        outbox_memory.append(SentRecord(message.channel, message.recipient, message.body, message.dedupe_key))
        return Delivery(provider_message_id=f"memory-{len(outbox_memory)}")


# --- e-mail -------------------------------------------------------------------------------------------

class EmailBackend:
    """Django's configured mail backend (console by default, SMTP in production, locmem in tests)."""

    def send(self, message: OutboxMessage) -> Delivery:
        import smtplib

        email = EmailMessage(subject=message.subject, body=message.body, to=[message.recipient])
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure("recipient refused") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(type(exc).__name__) from exc
        return Delivery()


# --- selection ----------------------------------------------------------------------------------------

SMS_BACKENDS: dict[str, type] = {
    "console": ConsoleSmsBackend,
    "file": FileSmsBackend,
    "memory": MemorySmsBackend,
    "http": HttpSmsBackend,
}
TELEGRAM_BACKENDS: dict[str, type] = {"api": TelegramBackend, "memory": MemoryTelegramBackend}


def _build(name: str, known: dict[str, type]) -> MessageBackend:
    if name in known:
        return known[name]()  # type: ignore[no-any-return]
    return import_string(name)()  # type: ignore[no-any-return]  # a dotted path to a custom backend


# Channels other apps deliver (``push`` from backend.devices), registered from their AppConfig.ready(): the outbox
# imports none of them.
CHANNEL_BACKENDS: dict[str, Callable[[], MessageBackend]] = {}


def channel_backend_register(channel: str, factory: Callable[[], MessageBackend]) -> None:
    """Plug a backend factory in for ``channel`` (called once per message, like the built-in channels)."""
    CHANNEL_BACKENDS[channel] = factory


def backend_for(channel: str) -> MessageBackend:
    """The configured backend for a channel (``SMS_BACKEND``, ``TELEGRAM_BACKEND``, Django's mail)."""
    if channel == Channel.SMS:
        return _build(settings.SMS_BACKEND, SMS_BACKENDS)
    if channel == Channel.TELEGRAM:
        return _build(getattr(settings, "TELEGRAM_BACKEND", "api"), TELEGRAM_BACKENDS)
    if channel == Channel.EMAIL:
        return EmailBackend()
    if channel in CHANNEL_BACKENDS:
        return CHANNEL_BACKENDS[channel]()
    raise PermanentFailure(f"unknown channel {channel!r}")
