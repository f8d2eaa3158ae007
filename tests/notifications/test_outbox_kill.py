"""The acceptance test of the outbox: delivery worker processes killed with SIGKILL in the middle of a send.

Three ``run_worker`` processes deliver 200 SMS through a fake HTTP gateway that records every request it receives.
The gateway holds the requests for two chosen messages open, so the test can see each of them SENDING, owned by the
worker blocked on it, and SIGKILL exactly that worker then (a kill that happened to hit an idle worker would prove
nothing). Afterwards the two messages are flagged RECONCILE and were never resent, and every other message reached
the gateway exactly once and is SENT. Runs on SQLite (a file database shared by the processes) and on PostgreSQL
(the test database).
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import threading
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

from .fakes import FakeProvider, Received, Reply, always_ok

MESSAGES = 200
WORKERS = 3
HELD = ("kill:50", "kill:130")  # the gateway holds these sends open; the worker sending each one is killed
DEADLINE = 60.0  # a bound for a stuck run, not a performance assertion (a normal run takes 10-20 s)
SWEEP_INTERVAL = 0.5


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
        sys.executable,
        "manage.py",
        "run_worker",
        "--queues",
        "outbox",
        "--worker-id",
        worker_id,
        "--interval",
        "0.1",
        "--heartbeat-interval",
        "0.3",
        "--stale-after",
        "2",
        "--sweep-interval",
        str(SWEEP_INTERVAL),
        "--sending-timeout",
        "2",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, cwd=str(settings.BASE_DIR), stdout=out, stderr=subprocess.STDOUT)
    return WorkerProcess(worker_id, process)


def wait_until(condition: Callable[[], bool], deadline: float, what: str) -> None:
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass
class Kill:
    key: str
    status: str  # of the held message's row, read just before the signal
    claimed_by: str
    at_gateway: int  # requests with the held key the gateway had received by then
    returncode: int | None = None


class HeldSends:
    """A gateway reply that keeps the requests for chosen dedupe keys open until the test releases them.

    The request is recorded by the gateway before the reply is computed, so a held message counts as having reached
    the provider: exactly the case where resending it would make a duplicate.
    """

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.arrived = {key: threading.Event() for key in keys}
        self.released = {key: threading.Event() for key in keys}

    def __call__(self, request: Received, count: int) -> Reply:
        key = request.body.get("dedupe_key", "")
        if key in self.arrived:
            self.arrived[key].set()
            self.released[key].wait(timeout=DEADLINE)
        return always_ok(request, count)

    def release_all(self) -> None:
        for event in self.released.values():
            event.set()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigkilled_delivery_workers_lose_nothing_and_send_nothing_twice(
    shared_database: SharedDatabase, tmp_path: Path
) -> None:
    db = shared_database.alias
    held = HeldSends(HELD)
    gateway = FakeProvider(reply=held).start()
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
    workers: dict[str, WorkerProcess] = {}
    kills: list[Kill] = []
    try:
        # given 200 committed SMS in the outbox
        OutboxMessage.objects.using(db).bulk_create(
            OutboxMessage(channel=Channel.SMS, recipient=f"+7701{i:07d}", body=f"Reminder {i}", dedupe_key=f"kill:{i}")
            for i in range(MESSAGES)
        )
        # when three delivery workers run and each worker caught sending a held message is SIGKILLed, then replaced
        for n in range(WORKERS):
            worker = start_worker(f"kill-w{n}-gen1", env, log)
            workers[worker.worker_id] = worker
        deadline = time.monotonic() + DEADLINE
        for generation, key in enumerate(HELD, start=2):
            if not held.arrived[key].wait(timeout=max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"timed out waiting for {key} to reach the gateway")
            # The gateway has the request and has not answered: the sender is blocked inside the provider call.
            row = OutboxMessage.objects.using(db).get(dedupe_key=key)
            assert row.claimed_by in workers, f"{key} is claimed by {row.claimed_by!r}, not by a running worker"
            kill = Kill(key, row.status, row.claimed_by, gateway.keys().count(key))
            victim = workers.pop(row.claimed_by)
            victim.process.send_signal(signal.SIGKILL)
            kill.returncode = victim.process.wait()
            kills.append(kill)
            held.released[key].set()  # the answer now goes to a dead socket
            replacement = start_worker(f"{victim.worker_id.rsplit('-', 1)[0]}-gen{generation}", env, log)
            workers[replacement.worker_id] = replacement
        killed = {kill.claimed_by for kill in kills}

        def settled() -> bool:
            open_rows = (
                OutboxMessage.objects.using(db).filter(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]).exists()
            )
            orphaned = [
                t
                for t in DBTaskResult.objects.using(db).filter(status="RUNNING").values_list("worker_ids", flat=True)
                if t and t[-1] in killed
            ]
            return not open_rows and not orphaned

        try:
            wait_until(settled, deadline, "every message to be settled and orphaned tasks re-queued")
            # A few more sweeps, so a sweeper that resent RECONCILE rows would have done it by now.
            time.sleep(3 * SWEEP_INTERVAL)
        except AssertionError:
            state = {
                "outbox": Counter(OutboxMessage.objects.using(db).values_list("status", flat=True)),
                "tasks": list(DBTaskResult.objects.using(db).values_list("status", "worker_ids")),
                "gateway": len(gateway.received),
                "log": log.read_text(errors="replace")[-3000:],
            }
            raise AssertionError(f"not settled: {state}") from None
    finally:
        held.release_all()
        for worker in workers.values():
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in workers.values():
            try:
                worker.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        gateway.stop()

    # then each kill hit a worker in the middle of sending a message it had claimed
    assert [(k.key, k.status, k.at_gateway, k.returncode) for k in kills] == [
        (key, OutboxStatus.SENDING, 1, -signal.SIGKILL) for key in HELD
    ]
    assert len(killed) == len(HELD), kills
    # the messages caught mid-send are flagged for reconciliation, still owned by the dead worker, never resent
    rows = {m.dedupe_key: m for m in OutboxMessage.objects.using(db)}
    received = Counter(gateway.keys())
    for kill in kills:
        row = rows[kill.key]
        assert (row.status, row.claimed_by, row.attempts) == (OutboxStatus.RECONCILE, kill.claimed_by, 1)
        assert "sending time-out" in row.last_error
    # and every message reached the gateway exactly once; all but the held ones are SENT
    statuses = Counter(row.status for row in rows.values())
    figures = {
        "database": connections[db].vendor,
        "messages": MESSAGES,
        "workers": WORKERS,
        "kills": len(kills),
        "delivered_to_gateway": sum(received.values()),
        "sent": statuses[OutboxStatus.SENT],
        "reconcile": statuses[OutboxStatus.RECONCILE],
    }
    print("\noutbox kill test:", figures)
    assert received == Counter({f"kill:{i}": 1 for i in range(MESSAGES)})
    assert {key for key, row in rows.items() if row.status != OutboxStatus.SENT} == set(HELD), statuses
    assert all(row.provider_message_id for key, row in rows.items() if key not in HELD)
    log_text = log.read_text(errors="replace")
    assert "Traceback" not in log_text, log_text[-3000:]
