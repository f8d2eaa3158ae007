"""`make demo` with TELEGRAM_BOT_TOKEN: runstack starts `runbot`, which polls the Bot API (here the fake), prints
a deep link and stops gracefully on SIGINT. A real child process on the embedded default (SQLite in a temp dir)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from backend.core.management.commands.runstack import Command as RunStack
from bots.testing.fake_bot_api import FakeBotApi, TgUser
from tests.conftest import embedded_env


def test_runstack_includes_the_bot_when_a_token_is_set(settings: Any) -> None:
    settings.TELEGRAM_BOT_TOKEN = "1:x"
    child = RunStack()._bot_child()

    assert child is not None and child.argv[-1] == "runbot"


@pytest.mark.embedded_only  # a child process on the embedded default: the SQLite leg runs it
def test_runbot_polls_answers_prints_a_link_and_stops_on_sigint(
    embedded_var_dir: Path, fake_bot_api: FakeBotApi
) -> None:
    # The embedded default, migrated by `manage.py migrate` (once per run: tests/conftest.py), as `make demo` runs
    # it. The bot's handlers on the Redis layer run in the PostgreSQL leg in-process (tests/bots/test_worker_e2e.py).
    env = embedded_env(
        embedded_var_dir, TELEGRAM_BOT_TOKEN=fake_bot_api.token, TELEGRAM_API_BASE_URL=fake_bot_api.base_url
    )
    cwd = str(settings.BASE_DIR)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from tests.factories import OrganizationFactory; "
            "OrganizationFactory(name='Demo Salon')",
        ],
        env=env,
        check=True,
        cwd=cwd,
    )
    bot = subprocess.Popen(
        [sys.executable, "manage.py", "runbot"], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        fake_bot_api.wait_for("getUpdates", timeout=60)
        tg = TgUser(6001)
        fake_bot_api.inject(fake_bot_api.command_update(tg, "help"))
        reply = fake_bot_api.wait_for("sendMessage", lambda c: c.chat_id == tg.id, timeout=30)
        bot.send_signal(signal.SIGINT)
        output = bot.communicate(timeout=30)[0].decode()
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()

    assert "/lang" in (reply.text or "")
    assert bot.returncode == 0, output
    assert f"https://t.me/{fake_bot_api.bot_username}?start=" in output and "Demo Salon" in output
    assert "Telegram bot stopped" in output
    assert fake_bot_api.token.split(":")[1] not in output
    methods = [c.method for c in fake_bot_api.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")


pytestmark = [pytest.mark.slow]
