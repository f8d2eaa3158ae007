"""The project's fake Bot API server (bots.testing) wired in as the outbox's Telegram provider.

Each recorded call carries ``at``, ``time.monotonic()`` when the request reached the server, before it was
answered: tests count calls per second window on the server's side of the wire, never the test's own wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from backend.notifications.dispatch import outbox_deliver_due
from backend.notifications.models import OutboxMessage, OutboxStatus
from bots.testing.fake_bot_api import ApiCall, FakeBotApi


class TimedFakeBotApi(FakeBotApi):
    """The fake with a view of its ``sendMessage`` calls ordered by arrival (``ApiCall.at``, the server's clock)."""

    def sends(self, *, ok: bool | None = None) -> list[ApiCall]:
        found = self.calls_to("sendMessage")
        if ok is not None:
            found = [c for c in found if (c.http_status == 200) is ok]
        return sorted(found, key=lambda c: c.at)


@pytest.fixture
def telegram_api(settings: Any) -> Iterator[TimedFakeBotApi]:
    """The fake Bot API on 127.0.0.1 as the outbox's Telegram provider; SMS stays in memory."""
    fake = TimedFakeBotApi()
    fake.start()
    settings.TELEGRAM_BOT_TOKEN = fake.token
    settings.TELEGRAM_API_BASE_URL = fake.base_url
    settings.TELEGRAM_BACKEND = "api"
    settings.SMS_BACKEND = "memory"
    try:
        yield fake
    finally:
        fake.stop()


def deliver_until_settled(*, worker: str = "w1", rounds: int = 200, settled: Callable[[], bool] | None = None) -> None:
    """Run delivery rounds (waiting for deferred messages) until nothing is PENDING, or ``rounds`` is spent.

    A bound for a stuck run, not a timing assertion.
    """

    def done() -> bool:
        return (
            settled() if settled is not None else not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()
        )

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
