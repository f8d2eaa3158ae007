"""The bot token never reaches a log: not in httpx's request lines, PTB's debug output or a failure's traceback."""

from __future__ import annotations

import logging

import pytest

from bots.logsafe import REPLACEMENT, redact_tokens
from bots.testing.harness import BotHarness

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_failing_update_logs_without_the_token(bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("", "httpx", "httpcore", "telegram", "bots"):
        caplog.set_level(logging.DEBUG, logger=name)
    token = bot.fake.token
    bot.fake.drop_connection("sendMessage")  # the reply fails with a network error inside the handler
    tg = bot.user()

    replies = await bot.command(tg, "help", expect_error=True)

    assert bot.errors, "the handler failed"
    assert [r.call.http_status for r in replies] == [0, 200]  # the dropped reply, then the apology
    records = caplog.records
    assert any("failed" in r.getMessage() for r in records)  # the error handler logged it, with its traceback
    assert any(REPLACEMENT in r.getMessage() for r in records)  # request lines were logged, redacted
    secret_part = token.split(":", 1)[1]
    assert secret_part not in caplog.text
    for record in records:
        assert secret_part not in record.getMessage()
        assert secret_part not in (record.exc_text or "")


def test_redaction_catches_the_configured_token_and_anything_shaped_like_one() -> None:
    text = "POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe failed"

    assert redact_tokens(text) == f"POST https://api.telegram.org/bot{REPLACEMENT}/getMe failed"
