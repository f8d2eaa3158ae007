"""The project's fake Bot API server (bots.testing) wired in as the outbox's Telegram provider, with arrival times.

``TimedFakeBotApi`` notes ``time.monotonic()`` when each request reaches the server, before it is answered, so a
test can count calls per second window on the server's side of the wire (never the test's own wall time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from backend.notifications.dispatch import outbox_deliver_due
from backend.notifications.models import OutboxMessage, OutboxStatus
from bots.testing.fake_bot_api import FakeBotApi


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() when the request reached the server
    method: str
    chat_id: Any
    text: str
    status: int  # the HTTP status answered (0: connection dropped)


class TimedFakeBotApi(FakeBotApi):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[Arrival] = []
        self._arrivals_lock = threading.Lock()

    def handle(self, method: str, token: str, params: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        at = time.monotonic()
        status, body = super().handle(method, token, params)
        with self._arrivals_lock:
            self.arrivals.append(Arrival(at, method, params.get("chat_id"), str(params.get("text") or ""), status))
        return status, body

    def sends(self, *, ok: bool | None = None) -> list[Arrival]:
        with self._arrivals_lock:
            found = [a for a in self.arrivals if a.method.lower() == "sendmessage"]
        if ok is not None:
            found = [a for a in found if (a.status == 200) is ok]
        return sorted(found, key=lambda a: a.at)


@pytest.fixture
def telegram_api(settings: Any) -> Iterator[TimedFakeBotApi]:
    """The fake Bot API on 127.0.0.1 as the outbox's Telegram provider; SMS stays in memory."""
    fake = TimedFakeBotApi().start()
    settings.TELEGRAM_BOT_TOKEN = fake.token
    settings.TELEGRAM_API_BASE_URL = fake.base_url
    settings.TELEGRAM_BACKEND = "api"
    settings.SMS_BACKEND = "memory"
    try:
        yield fake
    finally:
        fake.stop()


def deliver_until_settled(*, worker: str = "w1", rounds: int = 200,
                          settled: Callable[[], bool] | None = None) -> None:
    """Run delivery rounds (waiting for deferred messages) until nothing is PENDING, or ``rounds`` is spent.

    A bound for a stuck run, not a timing assertion.
    """
    def done() -> bool:
        return settled() if settled is not None else not OutboxMessage.objects.filter(
            status=OutboxStatus.PENDING).exists()

    for _ in range(rounds):
        if done():
            return
        outbox_deliver_due(worker=worker, linger=5.0, time_budget=30.0)
        if not done():
            time.sleep(0.05)


def max_in_window(moments: list[float], window: float) -> int:
    """The most moments that fall in any half-open interval ``[t, t + window)`` (a sliding window)."""
    moments = sorted(moments)
    best, start = 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
