"""Delivery of outbox messages: claim one, commit, send, record the outcome.

The algorithm is the one that survived the chaos runs in FIELD-NOTES (0 duplicates, 0 sends for rolled-back
changes, 0 silent losses with workers killed by ``kill -9``):

1. Claim ONE due PENDING message per transaction (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite
   writers are serialised, and the claim is a conditional UPDATE by id), mark it SENDING and COMMIT before the
   provider is called. Claiming a batch per commit duplicated messages when a worker died.
2. Call the provider.
3. Mark SENT, or PENDING again with exponential back-off and jitter, or FAILED after ``max_attempts`` or a
   permanent error.

A message found in SENDING for longer than the sending time-out belongs to a worker that died mid-send: it may or
may not have reached the provider, and neither SMS gateways nor the Bot API dedupe for us. It moves to RECONCILE
and is never resent automatically; an operator resends it (deliberately) or marks it sent from the admin.
Expired messages are CANCELLED, not sent. A secret (a one-time code) is stored only sealed and filled in for the
provider call (``sealing``); the sealed secret, and a sensitive body, are scrubbed in every state a message is not
sent from again: SENT, FAILED, CANCELLED and RECONCILE.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from backend.core.tasking import current_worker_id

from .backends import (
    Deferred,
    Delivery,
    DeliveryError,
    OutcomeUnknown,
    PermanentFailure,
    RecipientUnreachable,
    TemporaryFailure,
    backend_for,
)
from .models import OutboxMessage, OutboxStatus
from .sealing import SecretUnavailable, message_for_provider
from .services import sms_fallback_enqueue, telegram_chat_mark_unreachable

logger = logging.getLogger("brigada.outbox")

FINAL_STATUSES = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.CANCELLED)
RETRY_BASE_SECONDS = 10.0
RETRY_MAX_SECONDS = 3600.0


def sending_timeout() -> float:
    """Seconds after which a SENDING row is presumed orphaned (longer than any provider call)."""
    return float(getattr(settings, "OUTBOX_SENDING_TIMEOUT", 300))


def retry_delay(attempts: int) -> float:
    """Exponential back-off with equal jitter: 10 s, 20 s, 40 s ... capped at an hour."""
    step = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * (2 ** max(0, attempts - 1)))
    return step / 2 + random.uniform(0, step / 2)


def _scrub_fields(message: OutboxMessage) -> dict[str, object]:
    """What to erase when a message reaches a state it is not sent from again: its sealed secret, always, and the
    body and payload of a sensitive message."""
    return {"sealed_secret": "", **({"body": "", "payload": {}} if message.sensitive else {})}


def _send(message: OutboxMessage) -> Delivery:
    try:
        outgoing = message_for_provider(message)
    except SecretUnavailable as exc:
        raise PermanentFailure(f"secret unavailable: {exc}") from exc
    return backend_for(message.channel).send(outgoing)


def _due() -> Q:
    return Q(status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now())


def _cancel_expired(message: OutboxMessage) -> None:
    OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.PENDING).update(
        status=OutboxStatus.CANCELLED, last_error="expired before delivery", **_scrub_fields(message)
    )
    logger.info("outbox message expired", extra={"outbox_id": message.pk, "channel": message.channel})


def message_claim(*, worker: str) -> OutboxMessage | None:
    """Claim the next due message for ``worker`` and commit it as SENDING; ``None`` when nothing is due."""
    while True:
        with transaction.atomic():
            now = timezone.now()
            due = OutboxMessage.objects.filter(_due()).order_by("next_attempt_at", "id")
            if connection.vendor == "postgresql":
                message = due.select_for_update(skip_locked=True).first()
            else:
                message = due.first()
            if message is None:
                return None
            if message.expires_at is not None and message.expires_at <= now:
                _cancel_expired(message)
                continue
            claimed = OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.PENDING).update(
                status=OutboxStatus.SENDING,
                attempts=F("attempts") + 1,
                claimed_by=worker[:100],
                sending_started_at=now,
            )
            if not claimed:  # taken by someone else between the read and the write (not on SQLite/PG locks)
                continue
        # The row is locked (PostgreSQL) or writes are serialised (SQLite): these are the committed values.
        message.status, message.claimed_by, message.sending_started_at = OutboxStatus.SENDING, worker[:100], now
        message.attempts += 1
        return message


def _mark(message: OutboxMessage, *, worker: str, from_statuses: tuple[str, ...], **fields: object) -> bool:
    with transaction.atomic():
        return bool(
            OutboxMessage.objects.filter(pk=message.pk, status__in=from_statuses, claimed_by=worker[:100]).update(
                **fields
            )
        )


def message_deliver(message: OutboxMessage, *, worker: str) -> str:
    """Send a message this worker has claimed (status SENDING) and record the outcome; returns the new status."""
    now = timezone.now
    try:
        delivery = _send(message)
    except Deferred as exc:
        delay = exc.retry_after if exc.retry_after is not None else 1.0
        # Our own (or the provider's) rate limit: not the message's fault, so it is not counted as an attempt.
        _mark(
            message,
            worker=worker,
            from_statuses=(OutboxStatus.SENDING,),
            status=OutboxStatus.PENDING,
            attempts=F("attempts") - 1,
            next_attempt_at=now() + timedelta(seconds=delay),
            last_error=str(exc)[:500],
            claimed_by="",
        )
        return OutboxStatus.PENDING
    except OutcomeUnknown as exc:
        _mark(
            message,
            worker=worker,
            from_statuses=(OutboxStatus.SENDING,),
            status=OutboxStatus.RECONCILE,
            last_error=str(exc)[:500],
            **_scrub_fields(message),
        )
        logger.warning(
            "outbox outcome unknown, needs reconciliation", extra={"outbox_id": message.pk, "channel": message.channel}
        )
        return OutboxStatus.RECONCILE
    except RecipientUnreachable as exc:
        return _unreachable(message, worker=worker, exc=exc)
    except PermanentFailure as exc:
        _mark(
            message,
            worker=worker,
            from_statuses=(OutboxStatus.SENDING,),
            status=OutboxStatus.FAILED,
            last_error=str(exc)[:500],
            **_scrub_fields(message),
        )
        logger.warning(
            "outbox message failed permanently",
            extra={"outbox_id": message.pk, "channel": message.channel, "error": str(exc)[:200]},
        )
        return OutboxStatus.FAILED
    except Exception as exc:  # TemporaryFailure, or anything unexpected from a provider library
        retry_after = exc.retry_after if isinstance(exc, DeliveryError) else None
        error = str(exc)[:500] if isinstance(exc, TemporaryFailure) else f"{type(exc).__name__}: {exc}"[:500]
        if message.attempts >= message.max_attempts:
            _mark(
                message,
                worker=worker,
                from_statuses=(OutboxStatus.SENDING,),
                status=OutboxStatus.FAILED,
                last_error=error,
                **_scrub_fields(message),
            )
            logger.warning("outbox message gave up", extra={"outbox_id": message.pk, "attempts": message.attempts})
            return OutboxStatus.FAILED
        delay = max(retry_delay(message.attempts), retry_after or 0.0)
        _mark(
            message,
            worker=worker,
            from_statuses=(OutboxStatus.SENDING,),
            status=OutboxStatus.PENDING,
            next_attempt_at=now() + timedelta(seconds=delay),
            last_error=error,
            claimed_by="",
        )
        logger.info(
            "outbox message will be retried",
            extra={"outbox_id": message.pk, "attempt": message.attempts, "retry_in_s": round(delay, 1)},
        )
        return OutboxStatus.PENDING
    # Sent. A slow send may have been flagged RECONCILE meanwhile; we know the answer now, so settle it.
    _mark(
        message,
        worker=worker,
        from_statuses=(OutboxStatus.SENDING, OutboxStatus.RECONCILE),
        status=OutboxStatus.SENT,
        sent_at=now(),
        provider_message_id=delivery.provider_message_id[:100],
        last_error="",
        **_scrub_fields(message),
    )
    return OutboxStatus.SENT


def _unreachable(message: OutboxMessage, *, worker: str, exc: RecipientUnreachable) -> str:
    """The recipient is gone for this channel: FAILED, the chat marked, and an SMS instead if the message matters.

    One transaction, entered only by the worker that holds the claim (the conditional mark from SENDING): the
    fallback is written at most once, and its dedupe key and the one-to-one ``fallback_for`` make sure of it.
    """
    error = str(exc)[:500]
    with transaction.atomic():
        if not _mark(
            message,
            worker=worker,
            from_statuses=(OutboxStatus.SENDING,),
            status=OutboxStatus.FAILED,
            last_error=error,
            **_scrub_fields(message),
        ):
            return OutboxStatus.FAILED  # no longer ours (flagged RECONCILE meanwhile): nothing more to do here
        if not exc.known:
            telegram_chat_mark_unreachable(chat_id=message.recipient, reason=exc.reason, error=error)
        fallback = sms_fallback_enqueue(message) if message.sms_fallback else None
    logger.warning(
        "outbox recipient unreachable",
        extra={
            "outbox_id": message.pk,
            "channel": message.channel,
            "reason": exc.reason,
            "sms_fallback_id": fallback.pk if fallback is not None else None,
        },
    )
    return OutboxStatus.FAILED


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    reconcile: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1
        if status == OutboxStatus.SENT:
            self.sent += 1
        elif status == OutboxStatus.PENDING:
            self.retried += 1
        elif status == OutboxStatus.FAILED:
            self.failed += 1
        elif status == OutboxStatus.RECONCILE:
            self.reconcile += 1


def _next_due_in() -> float | None:
    """Seconds until the earliest PENDING message falls due (0 if one is due now), ``None`` if none is pending."""
    upcoming = (
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if upcoming is None:
        return None
    return max(0.0, (upcoming - timezone.now()).total_seconds())


def outbox_deliver_due(
    *, limit: int = 500, time_budget: float = 60.0, worker: str | None = None, linger: float = 0.0
) -> DeliveryReport:
    """Deliver due messages one by one until none is due, ``limit`` is reached or the time budget is spent.

    With ``linger``, a message falling due within that many seconds is waited for rather than left to the next
    sweep: rate limits and 429s defer messages by about a second, and the sweep comes only every few seconds.
    """
    worker = worker or current_worker_id()
    report = DeliveryReport()
    started = time.monotonic()
    handled = 0
    while handled < limit:
        if time.monotonic() - started > time_budget:
            break
        message = message_claim(worker=worker)
        if message is None:
            due_in = _next_due_in() if linger > 0 else None
            left = time_budget - (time.monotonic() - started)
            if due_in is None or due_in > linger or due_in > left:
                break
            time.sleep(max(due_in, 0.01))
            continue
        handled += 1
        report.count(message_deliver(message, worker=worker))
    if report.by_status:
        logger.info("outbox delivery round", extra={"worker": worker, **report.by_status})
    return report


def outbox_sweep() -> dict[str, int]:
    """Periodic housekeeping: flag stuck SENDING rows, cancel expired ones, kick delivery if work is due."""
    current = timezone.now()
    stuck_before = current - timedelta(seconds=sending_timeout())
    stuck = OutboxMessage.objects.filter(status=OutboxStatus.SENDING, sending_started_at__lt=stuck_before)
    flag = {"status": OutboxStatus.RECONCILE, "last_error": "found in SENDING after the sending time-out"}
    with transaction.atomic():
        # Never resent automatically, so the secret and a sensitive body have no further use here.
        reconcile = stuck.filter(sensitive=True).update(**flag, sealed_secret="", body="", payload={})
        reconcile += stuck.filter(sensitive=False).update(**flag, sealed_secret="")
    if reconcile:
        logger.warning("outbox messages need reconciliation", extra={"count": reconcile})
    expired = 0
    for message in OutboxMessage.objects.filter(status=OutboxStatus.PENDING, expires_at__lte=current).only(
        "pk", "sensitive", "channel"
    )[:1000]:
        _cancel_expired(message)
        expired += 1
    due = OutboxMessage.objects.filter(_due()).exists()
    if due:
        _delivery_enqueue()
    return {"reconcile": reconcile, "expired": expired, "due": int(due)}


def _delivery_enqueue() -> None:
    """Enqueue one delivery task unless one is already waiting (a running one may have finished its scan)."""
    from django_tasks_db.models import DBTaskResult

    from .tasks import outbox_deliver

    waiting = DBTaskResult.objects.ready().filter(task_path=outbox_deliver.module_path).exists()
    if not waiting:
        outbox_deliver.enqueue()


def outbox_kick() -> None:
    """Ask the task queue to deliver due messages after the current transaction commits.

    Robust: the change has already committed, so a failure to enqueue must not fail the caller; the message is
    safe in the outbox and the workers' periodic sweep kicks delivery anyway.
    """
    transaction.on_commit(_delivery_enqueue, robust=True)
