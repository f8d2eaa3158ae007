"""A rate limiter shared by every delivery worker, kept in the database (works on SQLite and PostgreSQL).

Each key holds the next moment a send is allowed. Reserving a slot moves that moment forward by one interval
under a row lock (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers), so N workers together
stay within the limit. The reservation commits at once, outside any caller transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class PairReservation:
    """The answer of ``slot_reserve_pair``: ``wait`` seconds until the reserved send moment, or, when nothing was
    reserved (``reserved`` is false), ``wait`` is how long until asking again makes sense."""

    reserved: bool
    wait: float
    limited_by: str = ""


def slot_reserve_pair(
    *, own: str, own_interval: float, shared: str, shared_interval: float, max_wait: float
) -> PairReservation:
    """Reserve one send moment that satisfies both a recipient's limit (``own``) and a shared one (``shared``).

    Both rows are locked in one transaction (always the recipient's first, then the shared one: every caller holds at
    most one recipient row, so no two reservations can wait on each other) and both move to the *same* moment, the
    one the caller will send at, so neither limit is broken by a send later than its slot.

    When the recipient is busy past the shared budget's next free moment, nothing is reserved: reserving the shared
    slot that late would leave a hole in it that no other recipient could use (one busy chat would throttle every
    other chat to its pace). The caller defers the message until the recipient is free instead. A gap of at most one
    shared interval is tolerated rather than deferred.
    """
    keys = (own, shared)
    with transaction.atomic():
        slots = {key: _locked_slot(key) for key in keys}
        now = timezone.now()
        own_free = max(now, slots[own].next_allowed_at)
        shared_free = max(now, slots[shared].next_allowed_at)
        if own_free > shared_free + timedelta(seconds=shared_interval):
            return PairReservation(False, (own_free - now).total_seconds(), own)
        start = max(own_free, shared_free)
        wait = (start - now).total_seconds()
        if wait > max_wait:
            return PairReservation(False, wait, shared if shared_free >= own_free else own)
        slots[own].next_allowed_at = start + timedelta(seconds=own_interval)
        slots[shared].next_allowed_at = start + timedelta(seconds=shared_interval)
        for slot in slots.values():
            slot.save(update_fields=["next_allowed_at"])
        return PairReservation(True, wait)
