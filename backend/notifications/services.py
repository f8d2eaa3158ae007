"""Writing to the outbox. Callers never talk to a provider: they enqueue inside their own transaction."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from backend.core.events import event_record_many, snapshot
from backend.core.models import EventAction

from .models import Channel, OutboxMessage, OutboxStatus, TelegramChat
from .sealing import SECRET_SLOT, secret_seal

logger = logging.getLogger("brigada.outbox")


# --- Push notifications that go with a message (ADR 0025, addendum) -----------------------------------------


@dataclass(frozen=True)
class PushNote:
    """The push that goes with a message to the user's phones: what the app opens and a short text.

    ``kind`` and ``object_id`` are the deep link (``"staffing.offer"`` and the offer's id: the app opens that
    offer). ``title`` and ``body`` are untranslated msgids (mark them with ``gettext_noop``) with ``%(name)s``
    placeholders filled from ``params``: each device gets them in its own language, which may differ from the
    language of the Telegram or SMS text the message carries.
    """

    kind: str
    object_id: int
    title: str
    body: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, language: str) -> tuple[str, str]:
        """``(title, body)`` in ``language``."""
        with translation.override(language or None):
            return gettext(self.title) % self.params, gettext(self.body) % self.params

    def data(self) -> dict[str, str]:
        """The deep-link payload the app receives (string values, as FCM requires)."""
        return {"kind": self.kind, "id": str(self.object_id)}


class PushProducer(Protocol):
    def __call__(
        self, *, user: Any, note: PushNote, dedupe_key: str, organization_id: int | None, expires_at: datetime | None
    ) -> int: ...


_push_producers: list[PushProducer] = []


def push_producer_register(producer: PushProducer) -> None:
    """Plug in what turns a ``PushNote`` into pushes (``backend.devices`` does, from its ``ready()``): the outbox
    knows nothing of devices, as with ``channel_backend_register``."""
    if producer not in _push_producers:
        _push_producers.append(producer)


def push_notify(
    *,
    user: Any,
    note: PushNote,
    dedupe_key: str,
    organization_id: int | None = None,
    expires_at: datetime | None = None,
) -> int:
    """Queue ``note`` to the active devices of ``user`` in the caller's transaction; returns how many pushes are new.

    The one place pushes are produced from: ``message_enqueue(push=...)`` calls it for each new message, and a
    change that has no message of its own (a visit moved by staff) calls it directly. At most once per
    ``dedupe_key`` and device. Only ``user``'s own devices: a device belongs to one account at a time.
    """
    if user is None or getattr(user, "pk", None) is None or not getattr(user, "is_active", True):
        return 0
    return sum(
        producer(user=user, note=note, dedupe_key=dedupe_key, organization_id=organization_id, expires_at=expires_at)
        for producer in _push_producers
    )


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
    push: PushNote | None = None,
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

    ``push``: the message is also worth a push to ``user``'s registered phones (an offer, a reminder, a freed
    slot): queued with the message, in each device's language, keyed ``push:<message id>`` so a retry of the
    cause pushes nothing twice (``push_notify``). Never with a secret: a code does not belong on a lock screen.
    """
    sealed = ""
    if secret is not None:
        if body.count(SECRET_SLOT) != 1:
            raise ValueError("a message with a secret must hold SECRET_SLOT exactly once in its body")
        if push is not None:
            raise ValueError("a message with a secret is never pushed")
        sealed, sensitive = secret_seal(secret), True
    message, created = _enqueue_once(
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
    if created and push is not None and user is not None:
        push_notify(
            user=user,
            note=push,
            dedupe_key=f"push:{message.pk}",
            organization_id=organization_id,
            expires_at=expires_at,
        )
    return message, created


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
            TelegramChat.objects.filter(chat_id=chat)
            .exclude(unreachable_reason="")
            .update(unreachable_reason="", unreachable_since=None, updated_at=timezone.now())
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
        message_ids=ids,
        actor=actor,
        allowed=RESENDABLE,
        note="outbox: resend by operator",
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        claimed_by="",
        sending_started_at=None,
        last_error="",
    )
    if count:
        from .dispatch import outbox_kick

        outbox_kick()
    return count


@transaction.atomic
def message_mark_sent(*, message_ids: Iterable[int], actor: Any) -> int:
    """Settle reconciliation: the operator confirmed with the provider that the message arrived."""
    return _operator_change(
        message_ids=message_ids,
        actor=actor,
        allowed=MARKABLE_SENT,
        note="outbox: marked sent by operator",
        status=OutboxStatus.SENT,
        sent_at=timezone.now(),
    )


@transaction.atomic
def message_cancel(*, message_ids: Iterable[int], actor: Any) -> int:
    """Stop messages that have not been delivered from ever being sent."""
    return _operator_change(
        message_ids=message_ids,
        actor=actor,
        allowed=CANCELLABLE,
        note="outbox: cancelled by operator",
        status=OutboxStatus.CANCELLED,
    )
