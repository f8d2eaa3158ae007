"""The task-queue gaps we fill: retry with delay, heartbeats, re-queueing tasks of dead workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from backend.core.models import WorkerHeartbeat
from backend.core.tasking import (
    RetryLater,
    heartbeat_beat,
    retrying_task,
    tasks_orphaned_requeue,
    tasks_own_requeue,
    workers_alive,
)

CALLS: list[int] = []


@retrying_task(max_attempts=3, base_delay=60.0)
def flaky_task(order_id: int) -> None:
    CALLS.append(order_id)
    raise RetryLater("provider busy")


@retrying_task(max_attempts=3)
def polite_task(order_id: int) -> None:
    raise RetryLater("come back in two minutes", delay=120)


@task()
def adding_task(a: int, b: int) -> int:
    return a + b


@task()
def napping_task(seconds: float) -> None:
    time.sleep(seconds)  # idempotent: running it again is harmless


def running_task(worker_id: str, *, started_minutes_ago: int = 10) -> DBTaskResult:
    result = adding_task.enqueue(1, 2)
    DBTaskResult.objects.filter(id=result.id).update(
        status="RUNNING", worker_ids=[worker_id], started_at=timezone.now() - timedelta(minutes=started_minutes_ago)
    )
    return DBTaskResult.objects.get(id=result.id)


@pytest.mark.django_db
def test_failed_attempt_is_requeued_later_with_the_attempt_counter() -> None:
    # given a task whose provider is busy
    before = timezone.now()
    # when its first attempt runs
    with pytest.raises(RetryLater):
        flaky_task.call(order_id=5)
    # then attempt 2 waits in the queue with a back-off delay (60 s step, jittered between 30 s and 60 s)
    [retry] = DBTaskResult.objects.filter(status="READY")
    assert retry.args_kwargs == {"args": [], "kwargs": {"order_id": 5, "_attempt": 2}}
    assert before + timedelta(seconds=30) <= retry.run_after <= timezone.now() + timedelta(seconds=60)
    assert not DBTaskResult.objects.ready().exists()  # not runnable yet


@pytest.mark.django_db
def test_requested_delay_wins_over_the_backoff() -> None:
    before = timezone.now()
    with pytest.raises(RetryLater):
        polite_task.call(order_id=1)
    assert DBTaskResult.objects.get().run_after >= before + timedelta(seconds=120)


@pytest.mark.django_db
def test_last_attempt_gives_up() -> None:
    with pytest.raises(RetryLater):
        flaky_task.call(order_id=5, _attempt=3)
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_worker_runs_tasks_beats_and_records_its_stop() -> None:
    # given a task and a retrying one in the queue
    result = adding_task.enqueue(2, 3)
    flaky_task.enqueue(order_id=9)
    CALLS.clear()
    # when a supervised worker processes the queue once
    call_command("run_worker", "--once", "--queues", "default", "--worker-id", "test-worker")
    # then the task succeeded, the flaky one failed its first attempt with attempt 2 scheduled, and the
    # worker left a heartbeat saying it stopped
    assert DBTaskResult.objects.get(id=result.id).status == "SUCCESSFUL"
    assert DBTaskResult.objects.get(id=result.id).return_value == 5
    assert CALLS == [9]
    assert DBTaskResult.objects.filter(status="FAILED").count() == 1
    assert DBTaskResult.objects.filter(status="READY", args_kwargs__kwargs___attempt=2).count() == 1
    beat = WorkerHeartbeat.objects.get(worker_id="test-worker")
    assert beat.stopped_at is not None


@pytest.mark.django_db(transaction=True)
def test_task_with_a_run_at_time_waits_for_it() -> None:
    # given a task due now and one due in an hour
    later = adding_task.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(1, 1)
    now = adding_task.enqueue(2, 2)
    # when a worker processes the queue
    call_command("run_worker", "--once", "--queues", "default")
    # then only the due one ran
    assert DBTaskResult.objects.get(id=now.id).status == "SUCCESSFUL"
    assert DBTaskResult.objects.get(id=later.id).status == "READY"


@pytest.mark.django_db
def test_task_of_a_silent_worker_is_requeued() -> None:
    # given a task claimed by a worker whose last heartbeat is 2 minutes old
    heartbeat_beat(worker_id="gone")
    WorkerHeartbeat.objects.filter(worker_id="gone").update(beat_at=timezone.now() - timedelta(minutes=2))
    orphan = running_task("gone")
    # when the sweeper runs
    assert tasks_orphaned_requeue(stale_after=30) == 1
    # then the task is READY again, keeping its history of workers
    orphan.refresh_from_db()
    assert (orphan.status, orphan.worker_ids) == ("READY", ["gone"])


@pytest.mark.django_db
def test_long_task_of_a_live_worker_is_not_requeued() -> None:
    # given a task running for an hour on a worker that is still beating (a pure time-out would re-run it)
    heartbeat_beat(worker_id="busy")
    task_row = running_task("busy", started_minutes_ago=60)
    # when the sweeper runs, then the task is left alone
    assert tasks_orphaned_requeue(stale_after=30) == 0
    task_row.refresh_from_db()
    assert task_row.status == "RUNNING"
    assert workers_alive(stale_after=30) == 1


@pytest.mark.django_db
def test_task_of_a_stopped_worker_is_requeued_at_once() -> None:
    heartbeat_beat(worker_id="stopped")
    WorkerHeartbeat.objects.filter(worker_id="stopped").update(stopped_at=timezone.now())
    running_task("stopped", started_minutes_ago=0)
    assert tasks_orphaned_requeue(stale_after=30) == 1


@pytest.mark.django_db
def test_task_of_an_unknown_worker_is_left_alone() -> None:
    # a bare db_worker writes no heartbeat: we cannot tell dead from busy, so we do not guess
    task_row = running_task("plain-db-worker")
    assert tasks_orphaned_requeue(stale_after=30) == 0
    task_row.refresh_from_db()
    assert task_row.status == "RUNNING"


@pytest.mark.django_db
def test_worker_requeues_its_own_task_after_its_loop_crashed() -> None:
    mine = running_task("me")
    other = running_task("someone-else")
    assert tasks_own_requeue(worker_id="me") == 1
    mine.refresh_from_db()
    other.refresh_from_db()
    assert (mine.status, other.status) == ("READY", "RUNNING")


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_survives_its_database_connections_being_killed(tmp_path: Path) -> None:
    """django-tasks-db's own worker exits when PostgreSQL drops it; the supervised loop reconnects and goes on."""
    from django.db import connection

    s = connection.settings_dict
    url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "backend.config.settings.base",
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run_worker",
            "--queues",
            "default",
            "--interval",
            "0.1",
            "--heartbeat-interval",
            "0.3",
            "--worker-id",
            "outage-worker",
        ],
        env=env,
        cwd=str(settings.BASE_DIR),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # given a worker in the middle of a task
        result = napping_task.enqueue(1.5)
        wait_for(lambda: DBTaskResult.objects.get(id=result.id).status == "RUNNING")
        # when every other connection to the database is killed (as in a PostgreSQL restart)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [s["NAME"]],
            )
        # then the worker cannot record the result, restarts its loop, re-queues its task and runs it again
        wait_for(lambda: DBTaskResult.objects.get(id=result.id).status == "SUCCESSFUL")
        assert worker.poll() is None
        assert DBTaskResult.objects.get(id=result.id).worker_ids == ["outage-worker", "outage-worker"]
        after = adding_task.enqueue(2, 2)
        wait_for(lambda: DBTaskResult.objects.get(id=after.id).status == "SUCCESSFUL")
        assert "worker loop lost the database; restarting" in (tmp_path / "worker.log").read_text()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)
        log.close()


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
