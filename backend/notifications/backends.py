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
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone
from django.utils.module_loading import import_string

from backend.core.phones import phone_mask

from .models import Channel, OutboxMessage, TelegramChat, UnreachableReason
from .ratelimit import slot_push_back, slot_reserve_pair

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
            {
                "at": timezone.now().isoformat(),
                "id": message.pk,
                "to": message.recipient,
                "body": message.body,
                "dedupe_key": message.dedupe_key,
            },
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
# Telegram's limits: about 30 messages a second overall, one a second per chat, 20 a minute per group. The paced
# intervals are a margin longer than the limits: a send reaches Telegram a little after the moment its slot was
# reserved for (scheduling, the HTTP round trip), and that jitter must not add up to a 31st message in a second.
TELEGRAM_PACING_MARGIN = 0.05
TELEGRAM_GLOBAL_INTERVAL = (1 / 30) * (1 + TELEGRAM_PACING_MARGIN)
TELEGRAM_CHAT_INTERVAL = 1.0 * (1 + TELEGRAM_PACING_MARGIN)
TELEGRAM_GROUP_INTERVAL = 3.0 * (1 + TELEGRAM_PACING_MARGIN)  # 20 a minute, evenly spaced
TELEGRAM_MAX_WAIT = 3.0  # wait this long for a slot inside a delivery; beyond it, defer the message
TELEGRAM_GLOBAL_KEY = "telegram:global"

# The sendMessage parameters a payload may carry; anything else in a payload (a producer's own bookkeeping such as
# ``offer_id``) stays in the outbox and is not sent.
TELEGRAM_SEND_FIELDS = frozenset(
    {
        "reply_markup",
        "parse_mode",
        "entities",
        "link_preview_options",
        "disable_web_page_preview",
        "disable_notification",
        "protect_content",
        "message_thread_id",
        "reply_parameters",
        "message_effect_id",
        "business_connection_id",
        "allow_paid_broadcast",
    }
)


def telegram_is_group(chat_id: str | int) -> bool:
    """Groups, supergroups and channels have negative chat ids; private chats positive ones."""
    return str(chat_id).strip().startswith("-")


def telegram_rate_key(chat_id: str | int) -> tuple[str, float]:
    """The rate-slot key and interval of a chat: ``telegram:group:<id>`` (20/min) or ``telegram:chat:<id>`` (1/s)."""
    chat = str(chat_id).strip()
    if telegram_is_group(chat):
        return f"telegram:group:{chat}", TELEGRAM_GROUP_INTERVAL
    return f"telegram:chat:{chat}", TELEGRAM_CHAT_INTERVAL


class RecipientUnreachable(PermanentFailure):
    """The recipient cannot be reached on this channel for good (blocked the bot, deactivated, chat not found).

    ``reason`` is an ``UnreachableReason`` value; ``known`` is true when the chat was already marked and no request
    was made.
    """

    def __init__(self, message: str = "", *, reason: str, known: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.known = known


class TelegramVerdict(StrEnum):
    RATE_LIMITED = "rate_limited"  # 429: not sent; wait ``retry_after`` and send again
    UNREACHABLE = "unreachable"  # the chat is gone for this bot: mark it, fall back to SMS if the message matters
    TEMPORARY = "temporary"  # Telegram's trouble or our configuration (token): retry with back-off
    PERMANENT = "permanent"  # this message will never be accepted (bad markup, text too long ...)


@dataclass(frozen=True)
class TelegramErrorClass:
    verdict: TelegramVerdict
    reason: str = ""  # an UnreachableReason value for UNREACHABLE
    retry_after: float | None = None


# Substrings of the Bot API's descriptions (lower case) that mean the chat cannot be reached, most specific first.
_UNREACHABLE_DESCRIPTIONS = (
    ("blocked by the user", UnreachableReason.BLOCKED),
    ("user is deactivated", UnreachableReason.DEACTIVATED),
    ("chat not found", UnreachableReason.CHAT_NOT_FOUND),
    ("user not found", UnreachableReason.CHAT_NOT_FOUND),
    ("peer_id_invalid", UnreachableReason.CHAT_NOT_FOUND),
    ("bot was kicked", UnreachableReason.KICKED),
    ("not a member of the", UnreachableReason.KICKED),
    ("can't initiate conversation", UnreachableReason.NOT_STARTED),
)


def telegram_error_classify(
    status: int, description: str, parameters: dict[str, Any] | None = None
) -> TelegramErrorClass:
    """What a failed Bot API call means for the message and for the chat.

    - 429: rate limited, ``retry_after`` from ``parameters`` (1 s when missing);
    - 403 (any: every refusal of sendMessage is about the recipient) and the 400s that name a missing chat or user:
      unreachable, with the reason;
    - 401 and 404 (the token is wrong or revoked: the whole bot is down, not this recipient), 5xx and 420/409:
      temporary, with ``retry_after`` when Telegram gave one;
    - any other 4xx: permanent for this message (markup, length, parse errors), the chat stays reachable.
    """
    parameters = parameters or {}
    text = description.lower()
    retry_after = parameters.get("retry_after")
    retry = float(retry_after) if isinstance(retry_after, int | float) else None
    if status == 429:
        return TelegramErrorClass(TelegramVerdict.RATE_LIMITED, retry_after=retry if retry is not None else 1.0)
    if status in (400, 403):
        for needle, reason in _UNREACHABLE_DESCRIPTIONS:
            if needle in text:
                return TelegramErrorClass(TelegramVerdict.UNREACHABLE, reason=reason)
        if status == 403:
            return TelegramErrorClass(TelegramVerdict.UNREACHABLE, reason=UnreachableReason.FORBIDDEN)
        return TelegramErrorClass(TelegramVerdict.PERMANENT)
    if status in (401, 404, 409, 420) or status >= 500:
        return TelegramErrorClass(TelegramVerdict.TEMPORARY, retry_after=retry)
    return TelegramErrorClass(TelegramVerdict.PERMANENT)


def _telegram_chat_mark(chat_id: str) -> str:
    """The reason a chat is marked unreachable, or "" (unknown chats are reachable)."""
    try:
        chat = int(chat_id)
    except ValueError:
        return ""
    return (
        TelegramChat.objects.filter(chat_id=chat)
        .exclude(unreachable_reason="")
        .values_list("unreachable_reason", flat=True)
        .first()
        or ""
    )


class TelegramBackend:
    """``sendMessage`` over the Bot API with the shared rate limiter and ``retry_after`` honoured.

    ``TELEGRAM_API_BASE_URL`` has python-telegram-bot's ``base_url`` form (``.../bot``); the token follows.
    ``payload`` may carry extra sendMessage fields such as ``reply_markup`` or ``parse_mode``
    (``TELEGRAM_SEND_FIELDS``; other payload keys are not sent).

    Limits (decision 0021): every send reserves one moment in two shared rate slots, the chat's (1/s, or 20/min for
    a group) and the bot's (30/s), under row locks, so every worker process together keeps them. A busy chat defers
    its message (not an attempt) instead of holding the bot's budget. A 429 pushes the chat's slot back by
    ``retry_after`` (and, for a private chat we already pace at 1/s, the bot's: that 429 is the bot-wide limit) and
    defers the message until then. A chat marked unreachable is not called at all.
    """

    def __init__(self, token: str | None = None, base_url: str | None = None) -> None:
        self.token = token if token is not None else settings.TELEGRAM_BOT_TOKEN
        self.base_url = (base_url or settings.TELEGRAM_API_BASE_URL or TELEGRAM_DEFAULT_BASE_URL).rstrip("/")

    def _wait_for_slots(self, chat_id: str) -> None:
        key, interval = telegram_rate_key(chat_id)
        answer = slot_reserve_pair(
            own=key,
            own_interval=interval,
            shared=TELEGRAM_GLOBAL_KEY,
            shared_interval=TELEGRAM_GLOBAL_INTERVAL,
            max_wait=TELEGRAM_MAX_WAIT,
        )
        if not answer.reserved:
            what = "global" if answer.limited_by == TELEGRAM_GLOBAL_KEY else "per-chat"
            raise Deferred(f"{what} rate limit", retry_after=max(answer.wait, 0.01))
        if answer.wait > 0:
            time.sleep(answer.wait)

    def _rate_limited(self, chat_id: str, retry_after: float) -> None:
        """Everyone sending to this chat (and, for a private chat, everyone at all) holds back ``retry_after``."""
        until = timezone.now() + timedelta(seconds=retry_after)
        slot_push_back(key=telegram_rate_key(chat_id)[0], until=until)
        if not telegram_is_group(chat_id):
            slot_push_back(key=TELEGRAM_GLOBAL_KEY, until=until)

    def send(self, message: OutboxMessage) -> Delivery:
        if not self.token:
            raise PermanentFailure("TELEGRAM_BOT_TOKEN is not set")
        chat_id = message.recipient.strip()
        marked = _telegram_chat_mark(chat_id)
        if marked:
            raise RecipientUnreachable(f"chat marked unreachable ({marked})", reason=marked, known=True)
        self._wait_for_slots(chat_id)
        extra = {k: v for k, v in (message.payload or {}).items() if k in TELEGRAM_SEND_FIELDS}
        data: dict[str, Any] = {"chat_id": chat_id, "text": message.body, **extra}
        url = f"{self.base_url}{self.token}/sendMessage"
        try:
            response = http_client().post(url, json=data, timeout=HTTP_TIMEOUT)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never left: safe to send again (with back-off).
            raise TemporaryFailure(f"connect: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            # Sent, but no answer (read time-out, connection dropped): Telegram may have delivered it, and the Bot
            # API has no idempotency key, so it is flagged for reconciliation, never resent blindly.
            raise OutcomeUnknown(f"after sending: {type(exc).__name__}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if response.status_code == 200 and answer.get("ok"):
            return Delivery(provider_message_id=str((answer.get("result") or {}).get("message_id", ""))[:100])
        description = str(answer.get("description", ""))[:200]
        parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
        verdict = telegram_error_classify(response.status_code, description, parameters)
        error = f"HTTP {response.status_code} {description}".strip()
        if verdict.verdict == TelegramVerdict.RATE_LIMITED:
            retry_after = verdict.retry_after or 1.0
            self._rate_limited(chat_id, retry_after)
            raise Deferred(f"429 {description}", retry_after=retry_after)
        if verdict.verdict == TelegramVerdict.UNREACHABLE:
            raise RecipientUnreachable(error, reason=verdict.reason)
        if verdict.verdict == TelegramVerdict.TEMPORARY:
            raise TemporaryFailure(error, retry_after=verdict.retry_after)
        raise PermanentFailure(error)


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
