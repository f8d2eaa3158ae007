from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.notifications.backends import outbox_memory

from .fakes import FakeProvider, telegram_ok


@pytest.fixture(autouse=True)
def _clear_memory_outbox() -> Iterator[None]:
    outbox_memory.clear()
    yield
    outbox_memory.clear()


@pytest.fixture
def sms_provider(settings: Any) -> Iterator[FakeProvider]:
    """A fake HTTP SMS gateway on 127.0.0.1, wired in as the SMS backend."""
    provider = FakeProvider().start()
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_URL = provider.url + "/sms"
    yield provider
    provider.stop()


@pytest.fixture
def bot_api(settings: Any) -> Iterator[FakeProvider]:
    """A fake Telegram Bot API on 127.0.0.1 (python-telegram-bot's base_url form)."""
    provider = FakeProvider(reply=telegram_ok).start()
    settings.TELEGRAM_BOT_TOKEN = "123:TEST"
    settings.TELEGRAM_API_BASE_URL = provider.url + "/bot"
    settings.TELEGRAM_BACKEND = "api"
    yield provider
    provider.stop()
