"""Task-queue entry points for delivery: thin callers of dispatch."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_tasks import task

from .dispatch import outbox_deliver_due


@task(queue_name="outbox")
def outbox_deliver(limit: int = 500) -> dict[str, Any]:
    """Deliver due outbox messages. Idempotent: every message is claimed by a conditional write first."""
    report = outbox_deliver_due(limit=limit, linger=float(getattr(settings, "OUTBOX_LINGER_SECONDS", 2.0)))
    return {"sent": report.sent, "retried": report.retried, "failed": report.failed, "reconcile": report.reconcile}
