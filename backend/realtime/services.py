"""Publishing real-time events: always after commit, so nobody hears of a change that rolled back."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .groups import user_group

logger = logging.getLogger("brigada.realtime")


def _send(user_id: int, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "user.event", "event": event})
    except Exception:  # a push is best effort; the source of truth is the database (and the outbox)
        logger.warning("realtime publish failed", extra={"user_id": user_id, "event_type": event.get("type")})


def realtime_publish(*, user_id: int, event: dict[str, Any]) -> None:
    """Queue ``event`` for ``user_id``'s sockets once the current transaction commits."""
    transaction.on_commit(lambda: _send(user_id, event))


def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # best effort, as for a user's sockets
        logger.warning("realtime group publish failed", extra={"group": group, "event_type": message.get("type")})


def realtime_group_publish(group: str, event: dict[str, Any], *, message_type: str = "group.event") -> None:
    """Queue ``event`` for every socket of channel-layer ``group`` once the current transaction commits (nothing
    when it rolls back); ``message_type`` names the consumer's handler (``journal.event`` -> ``journal_event``)."""
    message = {"type": message_type, "event": event}
    transaction.on_commit(lambda: _group_send(group, message))
