"""``manage.py run_worker``: django-tasks-db's worker loop under supervision.

django-tasks-db alone leaves a killed worker's task RUNNING forever, never retries, and exits when the database
is briefly unreachable (FIELD-NOTES). This command runs the same worker loop and adds:

- a heartbeat row for this worker every ``--heartbeat-interval`` seconds (a housekeeping thread, so a long task
  keeps its worker visibly alive);
- the orphan sweeper: RUNNING tasks of workers that stopped beating go back to READY;
- the periodic sweeps the apps register in ``BRIGADA_SWEEPS`` (the outbox's: stuck SENDING rows to RECONCILE,
  expired rows cancelled, delivery kicked when due);
- a restart of the loop with back-off when the database goes away, re-queueing this worker's own task.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connection, connections
from django.utils.module_loading import import_string
from django_tasks_db.management.commands.db_worker import Worker

from backend.core.services import housekeeping_run
from backend.core.tasking import (
    current_worker_id_set,
    heartbeat_beat,
    heartbeat_stop,
    tasks_orphaned_requeue,
    tasks_own_requeue,
    worker_id_new,
)

logger = logging.getLogger("brigada.worker")


class Housekeeper(threading.Thread):
    """Beats, sweeps orphaned tasks and the outbox, whatever the main loop is busy with."""

    def __init__(
        self,
        *,
        worker_id: str,
        queues: str,
        heartbeat_interval: float,
        stale_after: float,
        sweep_interval: float,
        tasks_run: Any,
    ) -> None:
        super().__init__(name="brigada-housekeeper", daemon=True)
        self.worker_id = worker_id
        self.queues = queues
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after
        self.sweep_interval = sweep_interval
        self.tasks_run = tasks_run
        self.stop_event = threading.Event()
        self.database_ok = True
        self.next_sweep = 0.0
        self.next_housekeeping = 0.0

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                heartbeat_beat(worker_id=self.worker_id, queues=self.queues, tasks_run=self.tasks_run())
                if time.monotonic() >= self.next_sweep:
                    self.sweep()
                    self.next_sweep = time.monotonic() + self.sweep_interval
                if time.monotonic() >= self.next_housekeeping:
                    self.next_housekeeping = time.monotonic() + settings.BRIGADA_HOUSEKEEPING_INTERVAL
                    purged = housekeeping_run()
                    logger.info("housekeeping", extra={"worker": self.worker_id, **purged})
                if not self.database_ok:
                    logger.info("database reachable again", extra={"worker": self.worker_id})
                self.database_ok = True
            except DatabaseError as exc:
                if self.database_ok:
                    logger.warning(
                        "housekeeping: database unavailable",
                        extra={"worker": self.worker_id, "error": type(exc).__name__},
                    )
                self.database_ok = False
                connection.close()
            except Exception:
                logger.exception("housekeeping failed", extra={"worker": self.worker_id})
            self.stop_event.wait(self.heartbeat_interval)
        connection.close()

    def sweep(self) -> None:
        """Re-queue orphaned tasks, then run every job in ``BRIGADA_SWEEPS``.

        Core does not import the apps: each one names its periodic sweep in settings (a dotted path to a callable
        taking no arguments and returning counts), as retention jobs do in ``BRIGADA_HOUSEKEEPING``.
        """
        report: dict[str, int] = {"orphaned_tasks_requeued": tasks_orphaned_requeue(stale_after=self.stale_after)}
        for path in settings.BRIGADA_SWEEPS:
            counts = import_string(path)() or {}
            report.update({k: int(v) for k, v in counts.items()})
        if any(report.values()):
            logger.info("sweep", extra={"worker": self.worker_id, **report})


class Command(BaseCommand):
    help = (
        "Run a supervised task worker: the django-tasks-db loop plus heartbeats, the orphaned-task sweeper and "
        "the outbox sweep; restarts the loop when the database is briefly down."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--queues", default="default,outbox", help="comma-separated queues, '*' for all")
        parser.add_argument("--interval", type=float, default=1.0, help="idle poll interval, seconds")
        parser.add_argument(
            "--heartbeat-interval", type=float, default=float(getattr(settings, "TASKS_HEARTBEAT_INTERVAL", 5))
        )
        parser.add_argument(
            "--stale-after",
            type=float,
            default=float(getattr(settings, "TASKS_STALE_AFTER", 30)),
            help="a worker silent this long is dead; its RUNNING tasks are re-queued",
        )
        parser.add_argument("--sweep-interval", type=float, default=10.0)
        parser.add_argument(
            "--sending-timeout",
            type=float,
            default=None,
            help="seconds before a SENDING outbox row is flagged for reconciliation",
        )
        parser.add_argument("--once", action="store_true", help="run one sweep, process ready tasks, then exit")
        parser.add_argument("--worker-id", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["sending_timeout"] is not None:
            settings.OUTBOX_SENDING_TIMEOUT = options["sending_timeout"]
        self.worker_id = options["worker_id"] or worker_id_new()
        current_worker_id_set(self.worker_id)
        queues = [q.strip() for q in options["queues"].split(",") if q.strip()]
        self.stopping = False
        self.worker: Worker | None = None
        self.tasks_run = 0

        housekeeper = Housekeeper(
            worker_id=self.worker_id,
            queues=",".join(queues),
            heartbeat_interval=options["heartbeat_interval"],
            stale_after=options["stale_after"],
            sweep_interval=options["sweep_interval"],
            tasks_run=lambda: self.tasks_run + (self.worker._run_tasks if self.worker else 0),
        )
        previous_handlers = self._install_signals()
        self.stdout.write(
            f"worker {self.worker_id} on queues {','.join(queues)} "
            f"(database {connections['default'].vendor}); Ctrl-C to stop"
        )
        logger.info("worker starting", extra={"worker": self.worker_id, "queues": ",".join(queues)})
        try:
            heartbeat_beat(worker_id=self.worker_id, queues=",".join(queues))
            if options["once"]:
                # Sweep first so due outbox messages have a delivery task before the batch looks for work.
                housekeeper.sweep()
                housekeeper.next_sweep = time.monotonic() + options["sweep_interval"]
            housekeeper.start()  # beats even in --once mode: a long batch must not look like a dead worker
            self._loop(queues, options["interval"], batch=options["once"])
        finally:
            housekeeper.stop_event.set()
            if housekeeper.is_alive():
                housekeeper.join(timeout=5)
            try:
                close_old_connections()
                heartbeat_stop(worker_id=self.worker_id)
            except DatabaseError:
                pass
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
            logger.info("worker stopped", extra={"worker": self.worker_id, "tasks_run": housekeeper.tasks_run()})
            self.stdout.write(f"worker {self.worker_id} stopped")

    def _loop(self, queues: list[str], interval: float, *, batch: bool) -> None:
        backoff = 1.0
        while not self.stopping:
            self.worker = Worker(
                queue_names=queues,
                interval=interval,
                batch=batch,
                backend_name="default",
                startup_delay=False,
                max_tasks=None,
                worker_id=self.worker_id,
                excluded_queue_names=[],
            )
            try:
                tasks_own_requeue(worker_id=self.worker_id)
                self.worker.run()
                return  # batch done, or a graceful stop
            except DatabaseError as exc:
                logger.warning(
                    "worker loop lost the database; restarting",
                    extra={"worker": self.worker_id, "error": type(exc).__name__, "retry_in_s": backoff},
                )
            finally:
                self.tasks_run += self.worker._run_tasks
                self.worker = None
            connection.close()
            time.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    def _install_signals(self) -> dict[int, Any]:
        def stop(signum: int, frame: FrameType | None) -> None:
            if self.stopping:
                logger.warning("second signal: stopping now", extra={"worker": self.worker_id})
                raise SystemExit(1)
            self.stopping = True
            logger.info(
                "stopping after the current task", extra={"worker": self.worker_id, "signal": signal.strsignal(signum)}
            )
            if self.worker is not None:
                self.worker.running = False
                if not self.worker.running_task:
                    raise SystemExit(0)

        previous: dict[int, Any] = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        return previous
