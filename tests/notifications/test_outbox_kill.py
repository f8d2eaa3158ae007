"""The acceptance test of the outbox: delivery worker processes killed with SIGKILL mid-batch.

Three ``run_worker`` processes deliver 200 SMS through a fake HTTP gateway that records every request it receives.
Two of them are killed with SIGKILL while sending and restarted. Afterwards every message is SENT or flagged
RECONCILE (nothing lost silently), no dedupe key reached the gateway twice, and at most one message per kill needs
reconciliation. Runs on SQLite (a file database shared by the processes) and on PostgreSQL (the test database).
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.db.utils import load_backend
from django_tasks_db.models import DBTaskResult

from backend.notifications.models import Channel, OutboxMessage, OutboxStatus

from .fakes import FakeProvider

MESSAGES = 200
WORKERS = 3
KILL_AT = (0.25, 0.55)  # fractions of the messages received by the gateway when a worker is killed
DEADLINE = 60.0  # a bound for a stuck run, not a performance assertion (a normal run takes 10-20 s)


@dataclass
class SharedDatabase:
    alias: str
    env: dict[str, str]


@pytest.fixture
def shared_database(tmp_path: Path) -> Iterator[SharedDatabase]:
    """A database that worker processes can open too: the PostgreSQL test database, or a SQLite file."""
    default = connections["default"]
    if default.vendor == "postgresql":
        s = default.settings_dict
        auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
        url = f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
        yield SharedDatabase("default", {"DATABASE_URL": url})
        return
    # pytest-django's SQLite test database lives in memory: give the processes a file with the same options.
    alias = "outbox_kill"
    config = copy.deepcopy(connections.settings["default"])
    config["NAME"] = str(tmp_path / "brigada.sqlite3")  # the path base settings derive from BRIGADA_VAR_DIR
    config["TEST"] = {"NAME": None}
    # A connection created here, not declared in settings: Django's test isolation allows such dynamic ones.
    connections[alias] = load_backend(config["ENGINE"]).DatabaseWrapper(config, alias)
    try:
        call_command("migrate", database=alias, verbosity=0, interactive=False)
        yield SharedDatabase(alias, {"BRIGADA_VAR_DIR": str(tmp_path)})
    finally:
        connections[alias].close()
        del connections[alias]


@dataclass
class WorkerProcess:
    worker_id: str
    process: subprocess.Popen[bytes]


def start_worker(worker_id: str, env: dict[str, str], log: Path) -> WorkerProcess:
    argv = [
        sys.executable, "manage.py", "run_worker", "--queues", "outbox", "--worker-id", worker_id,
        "--interval", "0.1", "--heartbeat-interval", "0.3", "--stale-after", "2", "--sweep-interval", "0.5",
        "--sending-timeout", "2",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, cwd=str(settings.BASE_DIR), stdout=out, stderr=subprocess.STDOUT)
    return WorkerProcess(worker_id, process)


def wait_until(condition: Callable[[], bool], deadline: float, what: str) -> None:
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigkilled_delivery_workers_lose_nothing_and_send_nothing_twice(
    shared_database: SharedDatabase, tmp_path: Path
) -> None:
    db = shared_database.alias
    gateway = FakeProvider(delay=0.02).start()  # slow enough that a kill usually lands mid-request
    env = {
        **os.environ,
        **shared_database.env,
        "DJANGO_SETTINGS_MODULE": "backend.config.settings.base",
        "DEBUG": "1",
        "SMS_BACKEND": "http",
        "SMS_HTTP_URL": gateway.url + "/sms",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    log = tmp_path / "workers.log"
    workers: list[WorkerProcess] = []
    killed: list[str] = []
    try:
        # given 200 committed SMS in the outbox
        OutboxMessage.objects.using(db).bulk_create(
            OutboxMessage(channel=Channel.SMS, recipient=f"+7701{i:07d}", body=f"Reminder {i}",
                          dedupe_key=f"kill:{i}")
            for i in range(MESSAGES)
        )
        # when three delivery workers run and two of them are SIGKILLed mid-batch, then restarted
        workers = [start_worker(f"kill-w{n}-gen1", env, log) for n in range(WORKERS)]
        deadline = time.monotonic() + DEADLINE
        for victim, fraction in enumerate(KILL_AT):
            wait_until(lambda f=fraction: len(gateway.received) >= MESSAGES * f, deadline, "deliveries to start")
            workers[victim].process.send_signal(signal.SIGKILL)
            workers[victim].process.wait()
            killed.append(workers[victim].worker_id)
            workers[victim] = start_worker(f"kill-w{victim}-gen2", env, log)

        def settled() -> bool:
            open_rows = OutboxMessage.objects.using(db).filter(
                status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]).exists()
            orphaned = [
                t for t in DBTaskResult.objects.using(db).filter(status="RUNNING").values_list("worker_ids", flat=True)
                if t and t[-1] in killed
            ]
            return not open_rows and not orphaned

        try:
            wait_until(settled, deadline, "every message to be settled and orphaned tasks re-queued")
        except AssertionError:
            state = {
                "outbox": Counter(OutboxMessage.objects.using(db).values_list("status", flat=True)),
                "tasks": list(DBTaskResult.objects.using(db).values_list("status", "worker_ids")),
                "gateway": len(gateway.received),
                "log": log.read_text(errors="replace")[-3000:],
            }
            raise AssertionError(f"not settled: {state}") from None
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        gateway.stop()

    # then nothing was lost silently, nothing reached the gateway twice, and reconciliation is rare
    statuses = Counter(OutboxMessage.objects.using(db).values_list("status", flat=True))
    received = Counter(gateway.keys())
    duplicates = {key: n for key, n in received.items() if n > 1}
    sent_keys = set(OutboxMessage.objects.using(db).filter(status=OutboxStatus.SENT)
                    .values_list("dedupe_key", flat=True))
    figures = {
        "database": connections[db].vendor, "messages": MESSAGES, "workers": WORKERS, "kills": len(killed),
        "delivered_to_gateway": len(received), "duplicates": len(duplicates), "sent": statuses[OutboxStatus.SENT],
        "reconcile": statuses[OutboxStatus.RECONCILE],
    }
    print("\noutbox kill test:", figures)
    assert set(statuses) <= {OutboxStatus.SENT, OutboxStatus.RECONCILE}, statuses
    assert statuses[OutboxStatus.SENT] + statuses[OutboxStatus.RECONCILE] == MESSAGES
    assert duplicates == {}
    assert sent_keys <= set(received), "a message marked SENT never reached the gateway"
    assert set(received) <= {f"kill:{i}" for i in range(MESSAGES)}
    assert statuses[OutboxStatus.RECONCILE] <= len(killed)
    # every message the gateway did not get is flagged for a human, not silently dropped
    assert {f"kill:{i}" for i in range(MESSAGES)} - set(received) <= set(
        OutboxMessage.objects.using(db).filter(status=OutboxStatus.RECONCILE).values_list("dedupe_key", flat=True)
    )
    log_text = log.read_text(errors="replace")
    assert "Traceback" not in log_text, log_text[-3000:]
