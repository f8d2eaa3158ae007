"""Staffing benchmark: dispatch of a 150-worker order, and the call-up fan-out through the Telegram backend.

    python benchmarks/staffing_bench.py [--headcount 150] [--pool 400] [--workers 2] [--extra-messages 450]
    python benchmarks/staffing_bench.py --fan-out-only     # the delivery part alone

1. **Dispatch**: a confirmed order for ``--headcount`` workers on one day (a construction site, pool of ``--pool``
   active workers around it, all linked to Telegram) goes through the real services and the task queue: the order
   is confirmed (the solver run is queued in that transaction), django-tasks-db's worker loop runs the solver task,
   the plan becomes offers and each offer's message is written to the outbox. Printed: the time from confirmation
   to the last offer handed to the outbox, and the solver's own build/solve times as the baseline beside it.
2. **Fan-out**: those call-ups (plus ``--extra-messages`` more, for a steadier figure) are delivered by
   ``--workers`` delivery loops (``outbox_deliver_due``, the task's body) through ``TelegramBackend`` to a fake Bot
   API on 127.0.0.1 that enforces 30 messages/s overall and 1/s per chat, answering 429 with ``retry_after`` beyond.
   Printed: the delivery rate against the limit (target >= 0.9) and the 429 count; beside it, the baseline: the
   same messages sent by as many threads straight to the Bot API without the shared rate limiter.

Runs on a fresh SQLite file in a temporary directory (WAL, the embedded default); with DATABASE_URL set, on
PostgreSQL in a throw-away database. Timings are noisy on a shared machine: note the load beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
from collections import deque
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIMIT_PER_S = 30
TOKEN = "bench-token"


class FakeBotApi:
    """``sendMessage`` on 127.0.0.1 with Telegram's limits: 30 messages in any second overall, one a second per
    chat; beyond them a 429 with ``parameters.retry_after``. Records when each message was accepted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window: deque[float] = deque()
        self.last_by_chat: dict[str, float] = {}
        self.accepted: list[float] = []
        self.refused = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = json.loads(self.rfile.read(length) or b"{}")
                status, answer = fake.answer(str(data.get("chat_id", "")))
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/bot"

    def answer(self, chat_id: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            now = time.monotonic()
            while self.window and self.window[0] <= now - 1.0:
                self.window.popleft()
            busy_chat = now - self.last_by_chat.get(chat_id, -10.0) < 1.0
            if len(self.window) >= LIMIT_PER_S or busy_chat:
                self.refused += 1
                retry = 1
                return 429, {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {retry}",
                    "parameters": {"retry_after": retry},
                }
            self.window.append(now)
            self.last_by_chat[chat_id] = now
            self.accepted.append(now)
            return 200, {"ok": True, "result": {"message_id": len(self.accepted)}}

    def reset(self) -> None:
        with self.lock:
            self.window.clear()
            self.last_by_chat.clear()
            self.accepted.clear()
            self.refused = 0

    def rate(self) -> float:
        if len(self.accepted) < 2:
            return 0.0
        return (len(self.accepted) - 1) / (self.accepted[-1] - self.accepted[0])


def setup_django() -> tuple[Any, Any]:
    tmp = tempfile.TemporaryDirectory(prefix="brigada-bench-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.config.settings.test"
    os.environ.setdefault("BRIGADA_VAR_DIR", tmp.name)
    os.environ.setdefault("BRIGADA_TEST_DB_NAME", "brigada_staffing_bench")
    os.environ["LOG_LEVEL"] = "WARNING"
    import logging

    import django

    django.setup()
    for name in ("django_tasks", "django_tasks_db"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    test_db = None
    if settings.IS_POSTGRES:
        test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    else:
        call_command("migrate", verbosity=0)
    return tmp, test_db


def build_world(headcount: int, pool: int) -> tuple[Any, Any]:
    """An agency with a dispatcher, a construction site, and ``pool`` active Telegram-linked workers near it."""
    import random

    from backend.accounts.models import User
    from backend.organizations.models import Membership, Organization, Role
    from backend.staffing.models import CorporateClient, Site, SiteCondition, Worker, WorkerAvailability, WorkerStatus
    from backend.staffing.services.orders import order_create

    rnd = random.Random(7)
    agency = Organization.objects.create(
        name="Bench Agency", kind="staffing_agency", country="RU", time_zone="Europe/Moscow", currency="RUB"
    )
    dispatcher = User.objects.create_user("+79000000001")
    Membership.objects.create(user=dispatcher, organization=agency, role=Role.DISPATCHER)
    site_point = (Decimal("55.751244"), Decimal("37.618423"))
    client = CorporateClient.objects.create(
        organization=agency, name="Stroy", inn="7707083893", kpp="773601001", ogrn="1027700132195"
    )
    site = Site.objects.create(
        organization=agency,
        client=client,
        name="Construction site",
        address="Tverskaya 1",
        latitude=site_point[0],
        longitude=site_point[1],
        conditions=SiteCondition.CONSTRUCTION,
    )
    users = User.objects.bulk_create([User(phone=f"+7901{i:07d}", telegram_user_id=5_000_000 + i) for i in range(pool)])
    Membership.objects.bulk_create([Membership(user=u, organization=agency, role=Role.WORKER) for u in users])
    Worker.objects.bulk_create(
        [
            Worker(
                organization=agency,
                user=u,
                status=WorkerStatus.ACTIVE,
                skills=["loader"],
                home_latitude=site_point[0] + Decimal(str(round(rnd.uniform(-0.1, 0.1), 6))),
                home_longitude=site_point[1] + Decimal(str(round(rnd.uniform(-0.15, 0.15), 6))),
                decayed_shows=round(rnd.uniform(2, 20), 2),
                decayed_no_shows=round(rnd.uniform(0, 5), 2),
                rank=round(rnd.uniform(30, 95), 1),
            )
            for u in users
        ]
    )
    day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).date()
    # Everyone declared the whole day free (as the phone would, through availability_declare).
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    WorkerAvailability.objects.bulk_create(
        [
            WorkerAvailability(worker=w, starts_at=midnight, ends_at=midnight + dt.timedelta(hours=23))
            for w in Worker.objects.filter(organization=agency)
        ]
    )
    order = order_create(
        user=dispatcher,
        site_id=site.pk,
        title="Construction loaders",
        start_date=day,
        end_date=day,
        shift_start=dt.time(8),
        shift_end=dt.time(20),
        headcount=headcount,
        skills=["loader"],
        pay_rate=Decimal("450.00"),
        bill_rate=Decimal("700.00"),
    )
    return dispatcher, order


def run_dispatch(dispatcher: Any, order: Any) -> tuple[float, int]:
    from django.core.management import call_command
    from django.db.models import Max
    from django_tasks_db.models import DBTaskResult

    from backend.notifications.models import OutboxMessage
    from backend.staffing.models import Offer, SolverRun
    from backend.staffing.services.orders import order_confirm

    t0 = dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    order_confirm(user=dispatcher, order_id=order.pk)
    # django-tasks-db's worker loop (the one run_worker supervises), one batch of the default queue: the solver task.
    call_command("db_worker", "--batch", "--queue-name", "default", "--no-startup-delay", "--worker-id", "bench")
    wall = time.perf_counter() - start
    offered = Offer.objects.filter(shift__order=order, status="offered").count()
    last = OutboxMessage.objects.filter(dedupe_key__startswith="staffing.offer:").aggregate(Max("created_at"))
    run = SolverRun.objects.filter(order=order).latest("id")
    to_last = (last["created_at__max"] - t0).total_seconds() if last["created_at__max"] else float("nan")
    print(f"dispatch: {order.headcount}-worker order, solver run {run.status}, {offered} offers handed to the outbox")
    print(f"  confirmation -> last offer in the outbox {to_last:7.2f} s (the worker's whole batch {wall:.2f} s)")
    task = DBTaskResult.objects.filter(task_path__endswith="dispatch_run_task").latest("enqueued_at")
    task_s = (task.finished_at - task.started_at).total_seconds() if task.finished_at and task.started_at else 0.0
    queued_s = (task.started_at - t0).total_seconds() if task.started_at else 0.0
    stored = (
        f"instance build {run.build_s:.2f} s, solve {run.solve_s:.2f} s"
        if run.build_s is not None and run.solve_s is not None
        else "the run does not store its build/solve split"
    )
    print(
        f"  of which: waiting in the queue (worker start-up) {queued_s:.2f} s, the solver task itself {task_s:.2f} s"
        f" ({stored})"
    )
    return to_last, offered


def extra_messages(n: int) -> None:
    from django.db import transaction

    from backend.notifications.models import Channel
    from backend.notifications.services import message_enqueue

    with transaction.atomic():
        for i in range(n):
            message_enqueue(
                channel=Channel.TELEGRAM,
                recipient=str(7_000_000 + i),
                body=f"Work offer {i}",
                dedupe_key=f"bench.extra:{i}",
            )


def deliver_all(workers: int, timeout: float) -> float:
    from django.db import close_old_connections, connection

    from backend.notifications.dispatch import outbox_deliver_due
    from backend.notifications.models import OutboxMessage, OutboxStatus

    def loop(name: str) -> None:
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                report = outbox_deliver_due(limit=1000, time_budget=timeout, worker=name)
                if not report.by_status:
                    if not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists():
                        return
                    time.sleep(0.05)  # only deferred messages left: their next attempt is due soon
        finally:
            close_old_connections()
            connection.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(f"bench-{i}",)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def naive_blast(fake: FakeBotApi, chats: list[str], workers: int) -> float:
    """Baseline: the same messages posted by ``workers`` threads with no shared limiter (each retries a 429 once
    after its retry_after), as a sender that trusts only the provider's answers does."""
    import httpx

    queue = deque(chats)
    lock = threading.Lock()

    def loop() -> None:
        with httpx.Client(timeout=10) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    chat = queue.popleft()
                url = f"{fake.base_url}{TOKEN}/sendMessage"
                answer = http.post(url, json={"chat_id": chat, "text": "Work offer"})
                if answer.status_code == 429:
                    time.sleep(float(answer.json()["parameters"]["retry_after"]))
                    http.post(url, json={"chat_id": chat, "text": "Work offer"})

    start = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def main() -> None:
    """Run the dispatch and the fan-out and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--headcount", type=int, default=150)
    parser.add_argument("--pool", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2, help="delivery loops (threads) sharing the limiter")
    parser.add_argument("--extra-messages", type=int, default=450, help="more call-ups for a steadier rate")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--fan-out-only", action="store_true", help="skip the dispatch; queue --headcount messages")
    args = parser.parse_args()

    tmp, test_db = setup_django()
    from django.conf import settings
    from django.db import connection

    fake = FakeBotApi()
    fake.thread.start()
    try:
        print(f"database: {connection.vendor}; pool {args.pool}; load {os.getloadavg()[0]:.2f}")
        if args.fan_out_only:
            offered = 0
            extra_messages(args.headcount + args.extra_messages)
        else:
            dispatcher, order = build_world(args.headcount, args.pool)
            _, offered = run_dispatch(dispatcher, order)
            extra_messages(args.extra_messages)

        from backend.notifications.models import OutboxMessage, OutboxStatus

        settings.TELEGRAM_BACKEND = "api"
        settings.TELEGRAM_BOT_TOKEN = TOKEN
        settings.TELEGRAM_API_BASE_URL = fake.base_url
        total = OutboxMessage.objects.filter(status=OutboxStatus.PENDING, channel="telegram").count()
        seconds = deliver_all(args.workers, args.timeout)
        sent = OutboxMessage.objects.filter(status=OutboxStatus.SENT).count()
        rate = fake.rate()
        print(f"fan-out: {sent}/{total} call-ups delivered by {args.workers} delivery loops in {seconds:.2f} s")
        print(
            f"  rate at the Bot API {rate:6.1f} msg/s = {rate / LIMIT_PER_S:.2f} of the {LIMIT_PER_S}/s limit "
            f"(target >= 0.90); 429 answers: {fake.refused}"
        )
        chats = list(OutboxMessage.objects.filter(channel="telegram").values_list("recipient", flat=True))
        fake.reset()
        naive_seconds = naive_blast(fake, chats, max(args.workers, 4))
        print(
            f"  baseline without the shared limiter ({max(args.workers, 4)} threads): {len(chats)} posts in "
            f"{naive_seconds:.2f} s, 429 answers: {fake.refused} ({fake.refused / max(1, len(chats)):.0%})"
        )
        print(f"(load after the run {os.getloadavg()[0]:.2f}; offers {offered})")
    finally:
        fake.server.shutdown()
        if test_db is not None:
            connection.creation.destroy_test_db(test_db, verbosity=0)
        tmp.cleanup()


if __name__ == "__main__":
    main()
