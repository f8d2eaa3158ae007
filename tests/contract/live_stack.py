"""A live ASGI stack for tests that need a real server: daphne (HTTP + WebSockets) and the task worker as
subprocesses on 127.0.0.1, on a free port, against a copy of the session's migrated test database.

    from tests.contract.live_stack import live_stack  # noqa: F401  (in a conftest: the fixture)

    def test_something(live_stack):
        live_stack.run_module("tests.contract.seed")   # seed in the server's database, JSON on stdout
        httpx.get(live_stack.url + "/healthz")

The database: on SQLite the session's (in-memory) test database is copied into a file with SQLite's backup API;
on PostgreSQL it is cloned with ``CREATE DATABASE ... TEMPLATE`` (about a second, no migrations re-run) and dropped
at the end. Either way the rest of the suite never sees the rows the live server writes, and the test process
writes to the server's database only through ``run_module`` (or over HTTP). With ``REDIS_URL`` set the server and
the worker share the Redis channel layer, so events published by the worker reach sockets served by daphne;
without it each process has its own in-memory layer (see ADR 0024). Login codes go to ``sms_log`` (the file SMS
backend), pushes to ``push_log``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection, connections

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveStack:
    url: str  # "http://127.0.0.1:PORT"
    ws_url: str  # "ws://127.0.0.1:PORT"
    tmp: Path
    env: dict[str, str]
    redis: bool
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def sms_log(self) -> Path:
        return self.tmp / "sms.log"

    @property
    def push_log(self) -> Path:
        return self.tmp / "push.log"

    def run_module(self, module: str, *args: str, timeout: float = 120) -> str:
        """Run ``python -m module`` against the server's database (test settings); returns its stdout."""
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env, "DJANGO_SETTINGS_MODULE": "backend.config.settings.test"},
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def sms_count(self) -> int:
        return len(self.sms_log.read_text(encoding="utf-8").splitlines()) if self.sms_log.exists() else 0

    def sms_code(self, phone: str, *, after: int = 0, timeout: float = 20.0) -> str:
        """The newest one-time code the simulated phone received after line ``after`` (the worker delivers it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sms_log.exists():
                lines = [json.loads(line) for line in self.sms_log.read_text(encoding="utf-8").splitlines()]
                bodies = [m["body"] for m in lines[after:] if m["to"] == phone]
                if bodies:
                    found = re.search(r"\b(\d{4,8})\b", bodies[-1])
                    assert found, bodies[-1]
                    return found.group(1)
            time.sleep(0.1)
        raise AssertionError(f"no code reached {phone} within {timeout} s")

    def login_token(self, phone: str) -> str:
        """Log in by phone code over HTTP, as the app does; returns the access token."""
        seen = self.sms_count()
        with httpx.Client(base_url=self.url, timeout=30) as http:
            assert http.post("/api/v1/auth/otp/request", json={"phone": phone}).status_code == 202
            code = self.sms_code(phone, after=seen)
            answer = http.post("/api/v1/auth/otp/verify", json={"phone": phone, "code": code})
            assert answer.status_code == 200, answer.text
            return str(answer.json()["access_token"])


def _database_copy(tmp: Path) -> tuple[dict[str, str], str | None]:
    """Env for the child processes pointing at a copy of the migrated test database; the clone's name on PG."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        target = sqlite3.connect(tmp / "brigada.sqlite3")
        connection.connection.backup(target)
        target.close()
        return {"BRIGADA_VAR_DIR": str(tmp)}, None
    source = connection.settings_dict["NAME"]
    clone = f"{source}_live_{uuid.uuid4().hex[:6]}"
    connections.close_all()  # a template must have no other sessions
    with connection._nodb_cursor() as cursor:
        # Connections earlier tests left open in worker threads (channels' database_sync_to_async pool) would block
        # the copy; they belong to this test process and reconnect on their next use (conn_health_checks).
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [source],
        )
        cursor.execute(f'CREATE DATABASE "{clone}" TEMPLATE "{source}"')
    s = connection.settings_dict
    url = f"postgres://{s['USER']}:{s.get('PASSWORD') or ''}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{clone}"
    return {"BRIGADA_VAR_DIR": str(tmp), "DATABASE_URL": url}, clone


def _wait_ready(
    url: str, processes: list[subprocess.Popen[bytes]], logs: list[Path], timeout: float = STARTUP_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the live server did not answer within {timeout} s: {logs[0].read_text()[-3000:]}")


@contextmanager
def live_stack_running(
    tmp: Path,
    django_db_blocker: Any,
    *,
    prepare: Callable[[dict[str, str]], None] | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
    **extra_env: str,
) -> Iterator[LiveStack]:
    """Start the stack in ``tmp``; stop it (and drop the PostgreSQL clone) on exit. ``prepare`` is called with the
    servers' environment after the database is copied and before they start (to seed it, say, with no task worker
    running yet)."""
    with django_db_blocker.unblock():
        db_env, clone = _database_copy(tmp)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BRIGADA_TEST_DB_NAME")},
        **db_env,
        "PYTHONPATH": str(ROOT),
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
        "SMS_BACKEND": "file",
        "SMS_FILE_PATH": str(tmp / "sms.log"),
        "PUSH_BACKEND": "file",
        "PUSH_FILE_PATH": str(tmp / "push.log"),
        "TELEGRAM_BACKEND": "memory",
        "BRIGADA_THROTTLE_ANON": "100000/s",
        "BRIGADA_THROTTLE_USER": "100000/s",
        "BRIGADA_OTP_SEND_PER_IP": "100000/h",
        "BRIGADA_OTP_RESEND_INTERVAL": "0",
        **extra_env,
    }
    port = free_port()
    server_env = {**env, "DJANGO_SETTINGS_MODULE": "backend.config.settings.base"}
    logs = [tmp / "daphne.log", tmp / "worker.log"]
    commands = [
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "backend.config.asgi:application"],
        [sys.executable, "manage.py", "run_worker", "--interval", "0.2", "--sweep-interval", "2"],
    ]
    processes: list[subprocess.Popen[bytes]] = []
    url = f"http://127.0.0.1:{port}"
    try:
        if prepare is not None:
            prepare(server_env)
        processes += [
            subprocess.Popen(cmd, cwd=ROOT, env=server_env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
            for cmd, log in zip(commands, logs, strict=True)
        ]
        _wait_ready(url, processes, logs, startup_timeout)
        yield LiveStack(
            url=url,
            ws_url=f"ws://127.0.0.1:{port}",
            tmp=tmp,
            env=env,
            redis=bool(settings.REDIS_URL),
            processes=processes,
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        if clone is not None:
            with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{clone}" WITH (FORCE)')


@pytest.fixture(scope="module")
def live_stack(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    """The live stack for one test module (starting it costs seconds: share it across the module's tests)."""
    with live_stack_running(tmp_path_factory.mktemp("live-stack"), django_db_blocker) as server:
        yield server
