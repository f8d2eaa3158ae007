"""Task-queue entry points of imports: thin callers of the services."""

from __future__ import annotations

from django_tasks import task

from .services import import_job_run


@task()
def import_job_run_task(job_id: int) -> str | None:
    """Run a queued import job; returns its final status (None when it had already finished)."""
    job = import_job_run(job_id=job_id)
    return job.status if job is not None else None
