"""Fixtures for bot tests: the fake Bot API server and the real application running against it.

    pytestmark = pytest.mark.django_db(transaction=True)

    async def test_something(bot: BotHarness) -> None:
        alice = bot.user()
        await bot.command(alice, "start")
        assert "Welcome" in bot.last(alice).text

Handlers reach the database from asgiref's worker thread, so the ``bot`` fixture needs committed data: it asks for
``transactional_db``; build the world in sync fixtures (they commit) or with ``sync_to_async`` inside the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from bots.testing.fake_bot_api import DEFAULT_TOKEN, FakeBotApi
from bots.testing.harness import BotHarness


@pytest.fixture(autouse=True)
async def _close_thread_connections() -> AsyncIterator[None]:
    """Handlers reach the database from asgiref's worker thread; close its connections after each test, or
    PostgreSQL refuses to drop the test database at the end (a session still uses it)."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def fake_bot_api() -> Iterator[FakeBotApi]:
    """A started fake Bot API server (random port on 127.0.0.1), stopped after the test."""
    fake = FakeBotApi(DEFAULT_TOKEN).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def bot_settings(settings: Any, fake_bot_api: FakeBotApi) -> Any:
    """Settings pointing the project at the fake: token, API base URL, a webhook secret."""
    settings.TELEGRAM_BOT_TOKEN = fake_bot_api.token
    settings.TELEGRAM_API_BASE_URL = fake_bot_api.base_url
    settings.TELEGRAM_WEBHOOK_SECRET = "test-webhook-secret-0123456789"
    return settings


@pytest.fixture
async def bot(transactional_db: Any, bot_settings: Any, fake_bot_api: FakeBotApi) -> AsyncIterator[BotHarness]:
    """The real application (webhook-style, no updater) initialised against the fake; see the module docstring."""
    async with BotHarness.running(fake_bot_api, token=fake_bot_api.token) as harness:
        yield harness
