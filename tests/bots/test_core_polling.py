"""Polling mode: deleteWebhook, then getUpdates through PTB's real Updater until stopped; the commands."""

from __future__ import annotations

import asyncio
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from backend.accounts.models import TelegramDeepLink
from bots.app import build_application
from bots.polling import serve_polling
from bots.testing.fake_bot_api import FakeBotApi, TgUser
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)


async def test_polling_answers_injected_updates_and_stops_gracefully(
    bot_settings: Any, fake_bot_api: FakeBotApi
) -> None:
    await asyncio.to_thread(fake_bot_api.handle, "setWebhook", fake_bot_api.token, {"url": "https://old.example"})
    application = build_application(fake_bot_api.token, base_url=fake_bot_api.base_url)
    stop = asyncio.Event()
    task = asyncio.create_task(serve_polling(application, stop, poll_timeout=10))
    tg = TgUser(5001)

    fake_bot_api.inject(fake_bot_api.command_update(tg, "help"))
    reply = await asyncio.to_thread(fake_bot_api.wait_for, "sendMessage", lambda c: c.chat_id == tg.id, timeout=10)
    stop.set()
    await asyncio.wait_for(task, timeout=15)

    methods = [c.method for c in fake_bot_api.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    assert "/lang" in (reply.text or "")
    assert fake_bot_api.webhook_url == ""


def test_set_webhook_command_points_telegram_at_the_secret_path(bot_settings: Any, fake_bot_api: FakeBotApi) -> None:
    from bots.webhook import webhook_path_token

    out = StringIO()
    call_command("runbot", "--set-webhook", "https://brigada.example", stdout=out)

    call = fake_bot_api.calls_to("setWebhook")[0]
    assert call.params["url"] == f"https://brigada.example/telegram/webhook/{webhook_path_token()}/"
    assert call.params["secret_token"] == bot_settings.TELEGRAM_WEBHOOK_SECRET
    assert bot_settings.TELEGRAM_WEBHOOK_SECRET not in out.getvalue()


def test_telegram_link_command_prints_a_deep_link(transactional_db: Any) -> None:
    org = OrganizationFactory()
    out = StringIO()

    call_command("telegram_link", "--organization", str(org.pk), "--bot-username", "brigada_bot", stdout=out)

    link = TelegramDeepLink.objects.get()
    assert out.getvalue().strip() == f"https://t.me/brigada_bot?start={link.code}"
