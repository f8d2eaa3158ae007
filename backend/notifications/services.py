"""Writing to the outbox. Callers never talk to a provider: they enqueue inside their own transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.core.events import event_record_many, snapshot
from backend.core.models import EventAction

from .models import OutboxMessage, OutboxStatus
from .sealing import SECRET_SLOT, secret_seal


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
) -> tuple[OutboxMessage, bool]:
    """Add a message to the outbox once per ``dedupe_key``; returns ``(message, created)``.

    Must run in the caller's transaction: the message then exists if and only if the change that caused it
    committed. A second call with the same key returns the first message untouched (at most once per key).

    A ``secret`` (a one-time code) is never stored in clear: ``body`` holds ``SECRET_SLOT`` where it goes, the
    secret is sealed under a key derived from ``SECRET_KEY`` and filled in only when the message is sent; such a
    message is always sensitive (see ``sealing``).
    """
    sealed = ""
    if secret is not None:
        if body.count(SECRET_SLOT) != 1:
            raise ValueError("a message with a secret must hold SECRET_SLOT exactly once in its body")
        sealed, sensitive = secret_seal(secret), True
    try:
        with transaction.atomic():  # savepoint: a duplicate key must not break the caller's transaction
            message = OutboxMessage.objects.create(
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
            )
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
