"""A rate limiter shared by every delivery worker, kept in the database (works on SQLite and PostgreSQL).

Each key holds the next moment a send is allowed. Reserving a slot moves that moment forward by one interval
under a row lock (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers), so N workers together
stay within the limit. The reservation commits at once, outside any caller transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import DeliveryRateSlot


def _locked_slot(key: str) -> DeliveryRateSlot:
    try:
        with transaction.atomic():
            DeliveryRateSlot.objects.get_or_create(key=key)
    except IntegrityError:  # another worker created it first
        pass
    return DeliveryRateSlot.objects.select_for_update().get(key=key)


def slot_reserve(*, key: str, interval: float, max_wait: float) -> float | None:
    """Reserve the next send slot for ``key``; return seconds to wait, or ``None`` if that is over ``max_wait``.

    When the answer is ``None`` nothing is reserved: the caller defers its message instead of hoarding slots.
    """
    with transaction.atomic():
        slot = _locked_slot(key)
        now = timezone.now()
        start = max(now, slot.next_allowed_at)
        wait = (start - now).total_seconds()
        if wait > max_wait:
            return None
        slot.next_allowed_at = start + timedelta(seconds=interval)
        slot.save(update_fields=["next_allowed_at"])
        return wait


def slot_push_back(*, key: str, until: datetime) -> None:
    """Nobody sends to ``key`` before ``until`` (a provider's ``retry_after``)."""
    with transaction.atomic():
        slot = _locked_slot(key)
        if slot.next_allowed_at < until:
            slot.next_allowed_at = until
            slot.save(update_fields=["next_allowed_at"])
