"""Delivery of outbox messages (filled in by the outbox work)."""

from __future__ import annotations


def outbox_kick() -> None:
    """Ask the task queue to deliver due messages after the current transaction commits."""
