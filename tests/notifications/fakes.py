"""Fake external providers (SMS gateway, Telegram Bot API) as real HTTP servers on 127.0.0.1.

Only true external borders are faked; our code talks to them over HTTP exactly as in production.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, Any], dict[str, str]]


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


def always_ok(request: Received, count: int) -> Reply:
    return 200, {"id": f"fake-{count}"}, {}


@dataclass
class FakeProvider:
    """Records every request it receives and answers with ``reply(request, n)``; optionally slow."""

    reply: Callable[[Received, int], Reply] = always_ok
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> FakeProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode(errors="replace")}
                request = Received(self.path, body, {k.lower(): v for k, v in self.headers.items()})
                with provider._lock:  # recorded before answering: a killed client still counts as delivered
                    provider.received.append(request)
                    count = len(provider.received)
                if provider.delay:
                    time.sleep(provider.delay)
                status, payload, headers = provider.reply(request, count)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def keys(self) -> list[str]:
        with self._lock:
            return [r.body.get("dedupe_key", "") for r in self.received]


def telegram_ok(request: Received, count: int) -> Reply:
    return 200, {"ok": True, "result": {"message_id": count, "chat": {"id": request.body.get("chat_id")}}}, {}
