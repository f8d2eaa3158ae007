"""The contract suite's live stack: daphne and the task worker as subprocesses on 127.0.0.1, against a copy of
the migrated test database, and a client generated from the OpenAPI document the server publishes.

The database: on SQLite the session's (in-memory) test database is copied into a file with SQLite's backup API;
on PostgreSQL it is cloned with ``CREATE DATABASE ... TEMPLATE`` (about a second, no migrations re-run). Either
way the rest of the suite never sees the rows the live server writes. With ``REDIS_URL`` set the server and the
worker share the Redis channel layer, so events published by the worker (a solver run's offers) reach sockets
served by daphne; without it each process has its own in-memory layer and only events published by daphne itself
arrive (see ADR 0024).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection, connections

from tests.contract.gen_client import generate

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 40.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Live:
    base_url: str
    ws_url: str
    api: ModuleType  # the generated client module
    world: dict[str, Any]
    sms_log: Path
    redis: bool
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def client(self, token: str | None = None) -> Any:
        return self.api.BrigadaClient(self.base_url, token=token)

    def sms_code(self, phone: str, *, after: int = 0, timeout: float = 20.0) -> str:
        """The newest one-time code the simulated phone received (the worker delivers the outbox)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sms_log.exists():
                lines = [json.loads(line) for line in self.sms_log.read_text(encoding="utf-8").splitlines()]
                codes = [m["body"] for m in lines[after:] if m["to"] == phone]
                if codes:
                    found = re.search(r"\b(\d{4,8})\b", codes[-1])
                    assert found, codes[-1]
                    return found.group(1)
            time.sleep(0.1)
        raise AssertionError(f"no code reached {phone} within {timeout} s")

    def sms_count(self) -> int:
        return len(self.sms_log.read_text(encoding="utf-8").splitlines()) if self.sms_log.exists() else 0

    def login(self, phone: str) -> Any:
        """Log in by phone code over HTTP, as the app does; returns an authenticated client."""
        anonymous = self.client()
        seen = self.sms_count()
        anonymous.auth_otp_request_view(body={"phone": phone})
        pair = anonymous.auth_otp_verify_view(body={"phone": phone, "code": self.sms_code(phone, after=seen)})
        anonymous.close()
        return self.client(pair["access_token"])


def _database_copy(tmp: Path) -> tuple[dict[str, str], str | None]:
    """Env for the child processes pointing at a copy of the migrated test database; the clone's name on PG."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        target = sqlite3.connect(tmp / "brigada.sqlite3")
        connection.connection.backup(target)
        target.close()
        return {"BRIGADA_VAR_DIR": str(tmp)}, None
    source = connection.settings_dict["NAME"]
    clone = f"{source}_contract_{uuid.uuid4().hex[:6]}"
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


def _wait_ready(base_url: str, processes: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the live server did not answer within {STARTUP_TIMEOUT} s: {logs[0].read_text()[-3000:]}")


@pytest.fixture(scope="module")
def live(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("contract")
    t0 = time.monotonic()
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
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.contract.seed"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**env, "DJANGO_SETTINGS_MODULE": "backend.config.settings.test"},
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    world = json.loads(seeded.stdout.strip().splitlines()[-1])
    t_seeded = time.monotonic()
    port = free_port()
    server_env = {**env, "DJANGO_SETTINGS_MODULE": "backend.config.settings.base"}
    logs = [tmp / "daphne.log", tmp / "worker.log"]
    commands = [
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "backend.config.asgi:application"],
        [sys.executable, "manage.py", "run_worker", "--interval", "0.2", "--sweep-interval", "2"],
    ]
    processes = [
        subprocess.Popen(cmd, cwd=ROOT, env=server_env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        for cmd, log in zip(commands, logs, strict=True)
    ]
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, processes, logs)
        # The client is generated from the document this server publishes, not from a file in the repository.
        module_path = tmp / "brigada_client.py"
        module_path.write_text(generate(httpx.get(f"{base_url}/api/v1/openapi.json", timeout=60).json()))
        t_ready = time.monotonic()
        print(f"contract stack: database copied and seeded in {t_seeded - t0:.1f} s, server up and client "
              f"generated in {t_ready - t_seeded:.1f} s", file=sys.stderr)
        spec = importlib.util.spec_from_file_location("brigada_client", module_path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield Live(base_url=base_url, ws_url=f"ws://127.0.0.1:{port}", api=module, world=world,
                   sms_log=tmp / "sms.log", redis=bool(settings.REDIS_URL), processes=processes)
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
