"""`manage.py runstack` (what `make demo` serves): real daphne + worker processes, /healthz over HTTP, a real
WebSocket handshake with the token in the `bearer` subprotocol and no Origin, and Ctrl-C stopping everything.

Always on the embedded default (a SQLite file in a temporary directory), whatever database the suite uses.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import embedded_env as conftest_embedded_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def embedded_env(embedded_var_dir: Path) -> dict[str, str]:
    """The embedded default with its database migrated (by `manage.py migrate`, once per run: tests/conftest.py)."""
    return conftest_embedded_env(embedded_var_dir)


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], env=env, check=True, capture_output=True, cwd=str(settings.BASE_DIR)
    )
    return done.stdout.decode().strip()


def websocket_hello(port: int, token: str) -> tuple[list[str], dict[str, object]]:
    """Open /ws/v1/events/ like a native client (no Origin), token as the second subprotocol; read one frame."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /ws/v1/events/ HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: bearer, {token}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(4096)
        head, rest = data.split(b"\r\n\r\n", 1)
        while len(rest) < 2 or len(rest) < 2 + (rest[1] & 0x7F):
            rest += sock.recv(4096)
        length = rest[1] & 0x7F  # the hello frame is short: no extended length
        return head.decode().split("\r\n"), json.loads(rest[2 : 2 + length])


@pytest.mark.slow
@pytest.mark.embedded_only  # runstack on the embedded default (embedded_env): the SQLite leg runs it
def test_runstack_serves_http_and_websockets_and_stops_on_ctrl_c(embedded_env: dict[str, str]) -> None:
    # given a user with a token and the stack started the way `make demo` does
    token = manage(embedded_env, "issue_token", "--phone", "+77015550101", "--create").splitlines()[0]
    port = free_port()
    stack = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--host", "127.0.0.1", "--port", str(port)],
        env=embedded_env,
        cwd=str(settings.BASE_DIR),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while health is None:
            assert stack.poll() is None, "runstack exited early"
            assert time.monotonic() < deadline, "the stack did not come up"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    health = (response.status, json.loads(response.read()))
            except OSError:
                time.sleep(0.3)
        # then /healthz answers 200 with every check ok
        assert health[0] == 200 and health[1]["status"] == "ok"
        # and a native WebSocket client is accepted with the bearer subprotocol echoed, and greeted
        head, hello = websocket_hello(port, token)
        assert head[0].startswith("HTTP/1.1 101")
        assert "sec-websocket-protocol: bearer" in [line.lower() for line in head]
        assert hello["type"] == "hello"
        # and the worker is beating (the task queue check sees it once it is up)
        while health[1]["checks"]["task_queue"]["workers_alive"] < 1:
            assert time.monotonic() < deadline, "the worker never beat"
            time.sleep(0.5)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                health = (response.status, json.loads(response.read()))
    finally:
        # when Ctrl-C arrives
        stack.send_signal(signal.SIGINT)
        output, _ = stack.communicate(timeout=30)
    text = output.decode(errors="replace")
    # then the stack printed its URLs and stopped cleanly
    for url in (
        f"http://127.0.0.1:{port}/admin/",
        f"http://127.0.0.1:{port}/api/v1/docs",
        f"http://127.0.0.1:{port}/healthz",
        f"ws://127.0.0.1:{port}/ws/v1/events/",
    ):
        assert url in text
    assert "stopped" in text
    assert stack.returncode == 0
