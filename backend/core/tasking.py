"""What the task queue (django-tasks + django-tasks-db) does not do for us: retries, liveness, orphans.

django-tasks-db runs a task once and records SUCCESSFUL or FAILED. It has no retries, no task time-out, and a
worker killed with ``kill -9`` leaves its task RUNNING forever (FIELD-NOTES). This module fills the gaps:

- ``retrying_task``: a task decorator that re-enqueues a failed attempt with ``run_after`` and an attempt
  counter carried in the kwargs (``_attempt``), exponential back-off with jitter, up to ``max_attempts``.
- Heartbeats: ``run_worker`` writes a ``WorkerHeartbeat`` row every few seconds while its process lives.
- ``tasks_orphaned_requeue``: puts back to READY the RUNNING tasks whose worker stopped beating. A healthy
  long task keeps its worker beating, so it is never re-run (a pure time-out sweeper did that).

Handlers must be idempotent (a task may run again after a crash): take ids, reload, and check state before
acting, or claim work with a conditional UPDATE as the outbox does.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.module_loading import import_string
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from .models import WorkerHeartbeat

logger = logging.getLogger("brigada.tasks")

T = TypeVar("T")

ATTEMPT_KWARG = "_attempt"

_current_worker_id: str | None = None


class RetryLater(Exception):
    """Raise from a task to ask for another attempt later (``delay`` seconds, or the back-off)."""

    def __init__(self, message: str = "", *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Exponential back-off with equal jitter: half the step is fixed, half is random."""
    step = min(cap, base * (2 ** max(0, attempt - 1)))
    return step / 2 + random.uniform(0, step / 2)


def retrying_task(
    *,
    queue_name: str = "default",
    priority: int = 0,
    max_attempts: int = 5,
    base_delay: float = 5.0,
    max_delay: float = 3600.0,
    retry_on: tuple[type[BaseException], ...] = (RetryLater,),
) -> Callable[[Callable[..., T]], Any]:
    """Make a django-tasks task that retries itself with a delay when it raises one of ``retry_on``.

    Each attempt is its own task row: a failed attempt is recorded as FAILED (with its traceback) and the
    next one is enqueued with ``run_after`` and ``_attempt=n+1``. The last attempt's error is left as is.
    """

    def decorate(func: Callable[..., T]) -> Any:
        module_path = f"{func.__module__}.{func.__qualname__}"

        @functools.wraps(func)
        def attempt_run(*args: Any, **kwargs: Any) -> T:
            attempt = int(kwargs.pop(ATTEMPT_KWARG, 1))
            try:
                return func(*args, **kwargs)
            except retry_on as exc:
                if attempt >= max_attempts:
                    logger.error(
                        "task gave up", extra={"task": module_path, "attempt": attempt, "error": type(exc).__name__}
                    )
                    raise
                requested = getattr(exc, "delay", None)
                delay = requested if requested is not None else backoff_delay(attempt, base=base_delay, cap=max_delay)
                run_after = timezone.now() + timedelta(seconds=delay)
                # The Task object is what the module attribute holds (``task`` wraps this function).
                import_string(module_path).using(run_after=run_after).enqueue(
                    *args, **{**kwargs, ATTEMPT_KWARG: attempt + 1}
                )
                logger.warning(
                    "task attempt failed, retry scheduled",
                    extra={
                        "task": module_path,
                        "attempt": attempt,
                        "retry_in_s": round(delay, 1),
                        "error": type(exc).__name__,
                    },
                )
                raise

        return task(queue_name=queue_name, priority=priority)(attempt_run)

    return decorate


# --- Worker identity and heartbeats -------------------------------------------------------------------


def worker_id_new() -> str:
    """A worker id unique across hosts and restarts (django-tasks-db allows at most 64 characters)."""
    host = socket.gethostname()[:30]
    return f"{host}-{os.getpid()}-{get_random_string(6)}"


def current_worker_id() -> str:
    """The id of the worker running in this process (``host-pid`` outside ``run_worker``)."""
    return _current_worker_id or f"{socket.gethostname()[:30]}-{os.getpid()}"


def current_worker_id_set(worker_id: str | None) -> None:
    global _current_worker_id
    _current_worker_id = worker_id


def heartbeat_beat(*, worker_id: str, queues: str = "", tasks_run: int | None = None) -> None:
    """Record that ``worker_id`` is alive now (creates the row on the first beat)."""
    now = timezone.now()
    updates: dict[str, Any] = {"beat_at": now, "stopped_at": None}
    if tasks_run is not None:
        updates["tasks_run"] = tasks_run
    if WorkerHeartbeat.objects.filter(worker_id=worker_id).update(**updates):
        return
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            **updates,
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "queues": queues[:255],
            "started_at": now,
        },
    )


def heartbeat_stop(*, worker_id: str) -> None:
    """Mark a worker as stopped: its RUNNING tasks (if any) become orphans at once."""
    WorkerHeartbeat.objects.filter(worker_id=worker_id).update(stopped_at=timezone.now())


def workers_alive(*, stale_after: float = 30.0, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return WorkerHeartbeat.objects.filter(
        stopped_at__isnull=True, beat_at__gte=now - timedelta(seconds=stale_after)
    ).count()


def _requeue(task_ids: list[Any]) -> int:
    """RUNNING -> READY, conditionally: a task that finished meanwhile is left alone."""
    if not task_ids:
        return 0
    with transaction.atomic():
        return DBTaskResult.objects.filter(id__in=task_ids, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.READY, started_at=None
        )


def tasks_orphaned_requeue(*, stale_after: float = 30.0, now: datetime | None = None) -> int:
    """Re-queue RUNNING tasks whose worker is gone (stopped, or no heartbeat for ``stale_after`` seconds).

    Tasks claimed by a worker that never wrote a heartbeat (a bare ``db_worker``) are left alone and
    logged: without a sign of life we cannot tell a dead worker from a busy one.
    """
    now = now or timezone.now()
    running = list(DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).values_list("id", "worker_ids"))
    if not running:
        return 0
    last_worker = {task_id: (worker_ids or [None])[-1] for task_id, worker_ids in running}
    beats = {
        hb.worker_id: hb for hb in WorkerHeartbeat.objects.filter(worker_id__in={w for w in last_worker.values() if w})
    }
    cutoff = now - timedelta(seconds=stale_after)
    orphans: list[Any] = []
    for task_id, worker in last_worker.items():
        beat = beats.get(worker) if worker else None
        if beat is None:
            logger.debug("running task of an unknown worker left alone", extra={"task_id": str(task_id)})
            continue
        if beat.stopped_at is not None or beat.beat_at < cutoff:
            orphans.append(task_id)
    count = _requeue(orphans)
    if count:
        logger.warning("re-queued tasks of dead workers", extra={"count": count})
    return count


def tasks_own_requeue(*, worker_id: str) -> int:
    """After this worker's loop crashed (e.g. the database went away), its RUNNING tasks are orphans."""
    mine = [
        task_id
        for task_id, worker_ids in DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).values_list(
            "id", "worker_ids"
        )
        if worker_ids and worker_ids[-1] == worker_id
    ]
    return _requeue(mine)
