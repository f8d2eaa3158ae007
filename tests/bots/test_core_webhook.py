"""The webhook view: secret path, constant-time secret header check, CSRF-exempt, ASGI, each update once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from bots.models import ProcessedUpdate
from bots.testing.fake_bot_api import FakeBotApi, TgUser
from bots.webhook import SECRET_HEADER, webhook_application, webhook_application_close, webhook_url

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "test-webhook-secret-0123456789"


@pytest.fixture
async def hook(transactional_db: Any, bot_settings: Any) -> AsyncIterator[str]:
    """The webhook path for the fake's bot; the process's application is closed after the test."""
    yield webhook_url("")  # "/telegram/webhook/<path token>/"
    await webhook_application_close()


def post(client: AsyncClient, path: str, update: dict[str, Any], secret: str | None = SECRET) -> Any:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return client.post(path, data=json.dumps(update), content_type="application/json", headers=headers)


async def test_the_right_secret_is_processed_and_answered(hook: str, fake_bot_api: FakeBotApi) -> None:
    client = AsyncClient(enforce_csrf_checks=True)  # a missing csrf_exempt would be a 403 here
    tg = TgUser(4001)

    response = await post(client, hook, fake_bot_api.command_update(tg, "help"))

    assert response.status_code == 200 and response.json() == {"ok": True}
    assert [c.chat_id for c in fake_bot_api.calls_to("sendMessage")] == [tg.id]


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET[:-1], SECRET + "x"], ids=repr)
async def test_a_wrong_or_missing_secret_is_403_and_nothing_runs(
    hook: str, fake_bot_api: FakeBotApi, secret: str | None
) -> None:
    client = AsyncClient(enforce_csrf_checks=True)

    response = await post(client, hook, fake_bot_api.command_update(TgUser(4002), "help"), secret=secret)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert fake_bot_api.calls == []  # not even getMe: nothing was built
    assert await sync_to_async(ProcessedUpdate.objects.count)() == 0


async def test_a_wrong_path_is_404(hook: str, fake_bot_api: FakeBotApi) -> None:
    update = fake_bot_api.command_update(TgUser(1), "help")

    response = await post(AsyncClient(), "/telegram/webhook/" + "0" * 32 + "/", update)

    assert response.status_code == 404


async def test_the_webhook_is_off_without_a_secret(hook: str, fake_bot_api: FakeBotApi, settings: Any) -> None:
    settings.TELEGRAM_WEBHOOK_SECRET = ""

    response = await post(AsyncClient(), hook, fake_bot_api.command_update(TgUser(1), "help"), secret="")

    assert response.status_code == 404


@pytest.mark.parametrize("body", ["not json", "[]", '{"message": {}}', '{"update_id": "7"}'])
async def test_a_body_that_is_not_an_update_is_400(hook: str, body: str) -> None:
    client = AsyncClient()

    response = await client.post(hook, data=body, content_type="application/json", headers={SECRET_HEADER: SECRET})

    assert response.status_code == 400


async def test_a_replayed_update_is_processed_once(hook: str, fake_bot_api: FakeBotApi) -> None:
    client = AsyncClient(enforce_csrf_checks=True)
    update = fake_bot_api.command_update(TgUser(4003), "help")

    answers = [await post(client, hook, update) for _ in range(3)]
    answers += await asyncio.gather(*(post(client, hook, update) for _ in range(3)))

    assert [a.status_code for a in answers] == [200] * 6  # Telegram must stop resending
    assert len(fake_bot_api.calls_to("sendMessage")) == 1
    assert await sync_to_async(ProcessedUpdate.objects.filter(update_id=update["update_id"]).count)() == 1


async def test_one_application_per_process_is_initialised_once(hook: str, fake_bot_api: FakeBotApi) -> None:
    client = AsyncClient()
    for n in range(3):
        await post(client, hook, fake_bot_api.command_update(TgUser(4100 + n), "help"))

    assert len(fake_bot_api.calls_to("getMe")) == 1
    assert await webhook_application() is await webhook_application()


@pytest.mark.postgres
def test_two_processes_claiming_one_update_at_once_let_exactly_one_in(transactional_db: Any) -> None:
    import threading

    from django.db import connections

    from bots.state import update_claim

    barrier = threading.Barrier(8)
    wins: list[bool] = []

    def claim() -> None:
        barrier.wait()
        try:
            wins.append(update_claim(bot_id=1, update_id=777))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(wins) == [False] * 7 + [True]
