"""Core housekeeping services: retention of short-lived records."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import IdempotencyRecord


def idempotency_purge(*, older_than: timedelta | None = None) -> int:
    """Delete Idempotency-Key records past their retention (``BRIGADA_IDEMPOTENCY_TTL``); returns how many."""
    cutoff = timezone.now() - (older_than or timedelta(seconds=settings.BRIGADA_IDEMPOTENCY_TTL))
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def task_results_purge(*, older_than: timedelta = timedelta(days=7)) -> int:
    """Delete finished task rows (successful or failed) older than a week; running and ready ones stay."""
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - older_than
    deleted, _ = DBTaskResult.objects.filter(status__in=["SUCCESSFUL", "FAILED"], finished_at__lt=cutoff).delete()
    return deleted


def housekeeping_run() -> dict[str, int]:
    """Run every purge named in ``BRIGADA_HOUSEKEEPING`` (dotted paths of no-argument callables).

    Core does not import the domains; each domain lists its own retention job in settings instead.
    """
    report: dict[str, int] = {}
    for path in settings.BRIGADA_HOUSEKEEPING:
        report[path.rsplit(".", 1)[-1]] = int(import_string(path)() or 0)
    return report
