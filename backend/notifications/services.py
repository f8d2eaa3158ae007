"""Writing to the outbox. Callers never talk to a provider: they enqueue inside their own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from .models import OutboxMessage


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
) -> tuple[OutboxMessage, bool]:
    """Add a message to the outbox once per ``dedupe_key``; returns ``(message, created)``.

    Must run in the caller's transaction: the message then exists if and only if the change that caused it
    committed. A second call with the same key returns the first message untouched (at most once per key).
    """
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
                expires_at=expires_at,
            )
    except IntegrityError:
        return OutboxMessage.objects.get(dedupe_key=dedupe_key), False
    from .dispatch import outbox_kick

    outbox_kick()
    return message, True
