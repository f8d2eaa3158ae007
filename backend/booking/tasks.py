"""Task-queue entry points of booking's client messages: thin callers of the services (ids in, outcome out)."""

from __future__ import annotations

from django_tasks import task

from .services.campaigns import birthday_greetings_send
from .services.reminders import appointment_message_send
from .services.waitlist import waitlist_offer_expire


@task()
def appointment_message_send_task(message_id: int, version: int) -> str:
    """Send a reminder or rating request at its moment (enqueued with ``run_after``); idempotent by version."""
    return appointment_message_send(message_id=message_id, version=version)


@task()
def waitlist_offer_expire_task(offer_id: int) -> str:
    """At the end of an offer's hold: expire it if still open and offer the slot to the next entry."""
    return waitlist_offer_expire(offer_id=offer_id)


@task()
def birthday_greetings_task() -> int:
    """Queue the birthday greetings due now (run hourly by ``comms_sweep``; idempotent by dedupe key)."""
    return birthday_greetings_send()


def comms_sweep() -> dict[str, int]:
    """Periodic job for ``BRIGADA_SWEEPS``: keep one hourly birthday run queued and expire stale holds/entries.

    Cheap when idle (two indexed queries); every step is idempotent, so several workers may run it at once.
    """
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from .services.waitlist import waitlist_sweep

    counts = waitlist_sweep()
    hour_ago = timezone.now() - timedelta(hours=1)
    queued = DBTaskResult.objects.filter(
        task_path=birthday_greetings_task.module_path, enqueued_at__gte=hour_ago
    ).exists()
    if not queued:
        birthday_greetings_task.enqueue()
    counts["birthday_runs_queued"] = int(not queued)
    return counts
