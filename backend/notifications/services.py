"""Writing to the outbox. Callers never talk to a provider: they enqueue inside their own transaction."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.core.events import event_record_many, snapshot
from backend.core.models import EventAction

from .models import Channel, OutboxMessage, OutboxStatus, TelegramChat
from .sealing import SECRET_SLOT, secret_seal

logger = logging.getLogger("brigada.outbox")


def message_enqueue(
    *,
    channel: str,
    recipient: str,
    body: str,
    dedupe_key: str,
    user: Any = None,
    organization_id: int | None = None,
    subject: str = "",
    payload: dict[str, Any] | None = None,
    sensitive: bool = False,
    expires_at: datetime | None = None,
    secret: str | None = None,
    sms_fallback: bool = False,
) -> tuple[OutboxMessage, bool]:
    """Add a message to the outbox once per ``dedupe_key``; returns ``(message, created)``.

    Must run in the caller's transaction: the message then exists if and only if the change that caused it
    committed. A second call with the same key returns the first message untouched (at most once per key).

    A ``secret`` (a one-time code) is never stored in clear: ``body`` holds ``SECRET_SLOT`` where it goes, the
    secret is sealed under a key derived from ``SECRET_KEY`` and filled in only when the message is sent; such a
    message is always sensitive (see ``sealing``).

    ``sms_fallback`` marks a message that matters (a call-up, a reminder, a code): should Telegram refuse it for
    good (the user blocked the bot, the account is gone), its text is sent to the user's phone by SMS instead, once.
    Messages that do not matter (mailings, standby notices) keep the default and are just marked failed.
    """
    sealed = ""
    if secret is not None:
        if body.count(SECRET_SLOT) != 1:
            raise ValueError("a message with a secret must hold SECRET_SLOT exactly once in its body")
        sealed, sensitive = secret_seal(secret), True
    return _enqueue_once(
        channel=channel,
        recipient=recipient,
        body=body,
        dedupe_key=dedupe_key,
        user=user,
        organization_id=organization_id,
        subject=subject,
        payload=payload or {},
        sensitive=sensitive,
        sealed_secret=sealed,
        expires_at=expires_at,
        sms_fallback=sms_fallback and channel == Channel.TELEGRAM,
    )


def _enqueue_once(*, dedupe_key: str, **fields: Any) -> tuple[OutboxMessage, bool]:
    try:
        with transaction.atomic():  # savepoint: a duplicate key must not break the caller's transaction
            message = OutboxMessage.objects.create(dedupe_key=dedupe_key, **fields)
    except IntegrityError:
        return OutboxMessage.objects.get(dedupe_key=dedupe_key), False
    from .dispatch import outbox_kick

    outbox_kick()
    return message, True


def messages_enqueue_many(messages: Iterable[OutboxMessage]) -> int:
    """Add many unsaved messages at once (a mailing), each at most once per ``dedupe_key``; returns how many are new.

    Same contract as ``message_enqueue`` (the caller's transaction, the first message of a key wins), in bulk: one
    INSERT per thousand rows instead of a savepoint each, and one delivery kick. No secrets here.
    """
    rows = list(messages)
    if not rows:
        return 0
    keys = [m.dedupe_key for m in rows]
    existing: set[str] = set()
    for start in range(0, len(keys), 500):  # bounded IN lists (SQLite caps the variables of one statement)
        chunk = keys[start : start + 500]
        existing |= set(OutboxMessage.objects.filter(dedupe_key__in=chunk).values_list("dedupe_key", flat=True))
    OutboxMessage.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    created = len(set(keys) - existing)
    if created:
        from .dispatch import outbox_kick

        outbox_kick()
    return created

# --- Unreachable Telegram chats and the SMS fallback (decision 0021) ---------------------------------------

def _chat_id(chat_id: int | str) -> int | None:
    try:
        return int(str(chat_id).strip())
    except ValueError:
        return None


def telegram_chat_mark_unreachable(*, chat_id: int | str, reason: str, error: str = "") -> None:
    """Remember that the bot cannot reach ``chat_id`` (blocked, deactivated, not found): nothing more is sent to it
    until the user starts the bot again (``telegram_chat_unblock``)."""
    chat = _chat_id(chat_id)
    if chat is None:
        return
    now = timezone.now()
    fields = {"unreachable_reason": reason, "last_error": error[:300], "updated_at": now}
    with transaction.atomic():
        updated = TelegramChat.objects.filter(chat_id=chat, unreachable_reason="").update(
            unreachable_since=now, **fields
        )
        if updated or TelegramChat.objects.filter(chat_id=chat).exists():
            return
        try:
            with transaction.atomic():  # savepoint: a concurrent first mark of the same chat wins, that is all
                TelegramChat.objects.create(chat_id=chat, unreachable_since=now, **fields)
        except IntegrityError:
            pass


def telegram_chat_unblock(*, chat_id: int | str) -> bool:
    """The user (re)started the bot: ``chat_id`` is reachable again. Returns whether it had been marked.

    The bot's ``/start`` handler calls this; messages already failed stay failed (their SMS fallback went out).
    """
    chat = _chat_id(chat_id)
    if chat is None:
        return False
    with transaction.atomic():
        return bool(
            TelegramChat.objects.filter(chat_id=chat).exclude(unreachable_reason="").update(
                unreachable_reason="", unreachable_since=None, updated_at=timezone.now()
            )
        )


def telegram_chat_reachable(*, chat_id: int | str) -> bool:
    """Whether delivery would still try ``chat_id`` (unknown chats are reachable)."""
    chat = _chat_id(chat_id)
    return chat is not None and not TelegramChat.objects.filter(chat_id=chat).exclude(unreachable_reason="").exists()


_HTML_TAG = re.compile(r"<[^>]+>")
_MARKDOWN_ESCAPE = re.compile(r"\\([_*\[\]()~`>#+\-=|{}.!\\])")


def plain_text(body: str, parse_mode: str = "") -> str:
    """A Telegram text as an SMS shows it: HTML tags and MarkdownV2 escapes removed (buttons never travel)."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return html.unescape(_HTML_TAG.sub("", body))
    if mode in ("markdown", "markdownv2"):
        return _MARKDOWN_ESCAPE.sub(r"\1", body)
    return body


def _fallback_text(message: OutboxMessage) -> str:
    """The SMS wording of a Telegram message: the producer's ``payload["sms_body"]`` when it wrote one (a call-up's
    text without "answer with the buttons below"), else the Telegram text made plain."""
    payload = message.payload or {}
    sms_body = payload.get("sms_body")
    if isinstance(sms_body, str) and sms_body.strip():
        return sms_body
    return plain_text(message.body, str(payload.get("parse_mode", "")))


def sms_fallback_enqueue(message: OutboxMessage) -> OutboxMessage | None:
    """Write the SMS that replaces a Telegram ``message`` the recipient cannot get; ``None`` without a phone.

    At most once per message: the key ``sms-fallback:<id>`` and the one-to-one ``fallback_for``. A one-time code
    keeps its sealed secret (the SMS fills it in at send time). Call inside the transaction that fails ``message``.
    """
    phone = getattr(message.user, "phone", "") if message.user_id else ""
    if not phone:
        logger.warning("no phone for the SMS fallback", extra={"outbox_id": message.pk})
        return None
    fallback, _created = _enqueue_once(
        channel=Channel.SMS,
        recipient=phone,
        body=_fallback_text(message),
        dedupe_key=f"sms-fallback:{message.pk}",
        user=message.user,
        organization_id=message.organization_id,
        subject=message.subject,
        sensitive=message.sensitive,
        sealed_secret=message.sealed_secret,
        expires_at=message.expires_at,
        fallback_for=message,
    )
    return fallback


# --- Operator actions (admin): deliberate, recorded in the event log ---------------------------------------

RESENDABLE = (OutboxStatus.RECONCILE, OutboxStatus.FAILED)
MARKABLE_SENT = (OutboxStatus.RECONCILE, OutboxStatus.SENDING)
CANCELLABLE = (OutboxStatus.PENDING, OutboxStatus.RECONCILE, OutboxStatus.FAILED)
# States in which a message will not be sent again by itself: its secret, and a sensitive body, are erased.
SCRUBBED_STATUSES = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.CANCELLED, OutboxStatus.RECONCILE)
AUDITED_FIELDS = ("status", "attempts", "next_attempt_at", "last_error", "sent_at", "claimed_by")


def _operator_change(
    *, message_ids: Iterable[int], actor: Any, allowed: tuple[str, ...], note: str, **changes: Any
) -> int:
    messages = list(OutboxMessage.objects.select_for_update().filter(pk__in=list(message_ids), status__in=allowed))
    changed = []
    for message in messages:
        before = snapshot(message, AUDITED_FIELDS)
        for name, value in changes.items():
            setattr(message, name, value)
        if message.status in SCRUBBED_STATUSES:
            message.sealed_secret = ""
            if message.sensitive:
                message.body, message.payload = "", {}
        message.save()
        changed.append((message, before, snapshot(message, AUDITED_FIELDS)))
    if changed:
        event_record_many(entities=changed, action=EventAction.STATUS, actor=actor, note=note)
    return len(changed)


@transaction.atomic
def message_resend(*, message_ids: Iterable[int], actor: Any) -> int:
    """Deliberately send again messages that need reconciliation or failed; returns how many were queued.

    The recipient may get a duplicate (that is why this is never automatic). Sensitive messages whose body or
    secret was already scrubbed cannot be resent and are skipped (a user who did not get a code asks for a new one).
    """
    ids = list(
        OutboxMessage.objects.filter(pk__in=list(message_ids), status__in=RESENDABLE)
        .exclude(sensitive=True, body="")
        .exclude(body__contains=SECRET_SLOT, sealed_secret="")
        .values_list("pk", flat=True)
    )
    count = _operator_change(
        message_ids=ids, actor=actor, allowed=RESENDABLE, note="outbox: resend by operator",
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), claimed_by="",
        sending_started_at=None, last_error="",
    )
    if count:
        from .dispatch import outbox_kick

        outbox_kick()
    return count


@transaction.atomic
def message_mark_sent(*, message_ids: Iterable[int], actor: Any) -> int:
    """Settle reconciliation: the operator confirmed with the provider that the message arrived."""
    return _operator_change(
        message_ids=message_ids, actor=actor, allowed=MARKABLE_SENT, note="outbox: marked sent by operator",
        status=OutboxStatus.SENT, sent_at=timezone.now(),
    )


@transaction.atomic
def message_cancel(*, message_ids: Iterable[int], actor: Any) -> int:
    """Stop messages that have not been delivered from ever being sent."""
    return _operator_change(
        message_ids=message_ids, actor=actor, allowed=CANCELLABLE, note="outbox: cancelled by operator",
        status=OutboxStatus.CANCELLED,
    )
