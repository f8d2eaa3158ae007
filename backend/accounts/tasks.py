"""Task-queue entry points of the identity domain: thin callers of the services."""

from __future__ import annotations

from django_tasks import task

from .services import otp_challenges_purge


@task()
def otp_challenges_purge_task() -> int:
    """Delete one-time codes older than a week (run daily from a scheduler)."""
    return otp_challenges_purge()
