"""The fake Bot API server and the harness: PTB's real HTTP stack against a local server."""

from __future__ import annotations

import httpx
import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bots.testing.fake_bot_api import FakeBotApi, TgUser
from bots.testing.harness import BotHarness

pytestmark = pytest.mark.django_db(transaction=True)


async def test_ptb_bot_talks_to_the_fake_over_http(fake_bot_api: FakeBotApi) -> None:
    async with Bot(fake_bot_api.token, base_url=fake_bot_api.base_url) as tg:
        me = await tg.get_me()
        keyboard = {"inline_keyboard": [[{"text": "A", "callback_data": "x:y"}]]}
        first = await tg.send_message(chat_id=100, text="one", reply_markup=keyboard)  # type: ignore[arg-type]
        second = await tg.send_message(chat_id=100, text="two")
        other = await tg.send_message(chat_id=200, text="elsewhere")

    assert me.username == fake_bot_api.bot_username
    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    call = fake_bot_api.calls_to("sendMessage")[0]
    # PTB form-encodes; the fake decodes chat_id and the JSON reply_markup
    assert call.params["chat_id"] == 100
    assert call.inline_keyboard == [[{"text": "A", "callback_data": "x:y"}]]
    assert call.token == fake_bot_api.token


async def test_queued_failures_reach_ptb_as_telegram_errors(fake_bot_api: FakeBotApi) -> None:
    fake_bot_api.fail_429(retry_after=7)
    fake_bot_api.fail_blocked()
    fake_bot_api.fail_bad_request("sendMessage")
    fake_bot_api.fail_server_error("sendMessage")
    fake_bot_api.drop_connection("sendMessage")
    async with Bot(fake_bot_api.token, base_url=fake_bot_api.base_url) as tg:
        with pytest.raises(RetryAfter) as retry:
            await tg.send_message(chat_id=1, text="a")
        with pytest.raises(Forbidden, match="blocked"):
            await tg.send_message(chat_id=1, text="a")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await tg.send_message(chat_id=1, text="a")
        with pytest.raises(NetworkError):
            await tg.send_message(chat_id=1, text="a")
        with pytest.raises(NetworkError):
            await tg.send_message(chat_id=1, text="a")
        sent = await tg.send_message(chat_id=1, text="finally")

    assert "Retry in 7 seconds" in retry.value.message
    assert fake_bot_api.calls_to("sendMessage")[0].response["parameters"] == {"retry_after": 7}
    assert sent.message_id == 1  # failed calls sent nothing
    assert [c.http_status for c in fake_bot_api.calls_to("sendMessage")] == [429, 403, 400, 502, 0, 200]


async def test_edits_follow_telegram_rules(fake_bot_api: FakeBotApi) -> None:
    async with Bot(fake_bot_api.token, base_url=fake_bot_api.base_url) as tg:
        sent = await tg.send_message(chat_id=5, text="v1")
        await tg.edit_message_text(chat_id=5, message_id=sent.message_id, text="v2")
        with pytest.raises(BadRequest, match="not modified"):
            await tg.edit_message_text(chat_id=5, message_id=sent.message_id, text="v2")
        with pytest.raises(BadRequest, match="not found"):
            await tg.edit_message_text(chat_id=5, message_id=99, text="x")
        assert await tg.delete_message(chat_id=5, message_id=sent.message_id)

    assert fake_bot_api.message(5, sent.message_id) is None


async def test_get_updates_long_polls_and_confirms_by_offset(fake_bot_api: FakeBotApi) -> None:
    user = TgUser(4242)
    async with Bot(fake_bot_api.token, base_url=fake_bot_api.base_url) as tg:
        assert await tg.get_updates(timeout=0) == ()
        first = fake_bot_api.inject(fake_bot_api.message_update(user, "hello"))
        updates = await tg.get_updates(timeout=5)
        assert [u.update_id for u in updates] == [first]
        assert updates[0].message.text == "hello"
        again = await tg.get_updates(offset=first + 1, timeout=0)

    assert again == ()
    assert fake_bot_api.pending_updates() == []


def test_json_bodies_of_the_outbox_backend_are_understood(fake_bot_api: FakeBotApi) -> None:
    url = f"{fake_bot_api.base_url}{fake_bot_api.token}/sendMessage"
    answer = httpx.post(url, json={"chat_id": "42", "text": "hi", "reply_markup": {"inline_keyboard": []}}).json()
    wrong = httpx.post(f"{fake_bot_api.base_url}1:wrong/sendMessage", json={"chat_id": 1, "text": "x"})

    assert answer["ok"] and answer["result"]["message_id"] == 1
    assert fake_bot_api.wait_for("sendMessage", lambda c: c.chat_id == 42, timeout=1).text == "hi"
    assert wrong.status_code == 401


def test_wait_for_times_out_with_what_it_saw(fake_bot_api: FakeBotApi) -> None:
    with pytest.raises(TimeoutError, match="sendMessage"):
        fake_bot_api.wait_for("sendMessage", timeout=0.05)


async def test_harness_runs_a_command_through_the_real_application(bot: BotHarness) -> None:
    alice = bot.user(language="en")

    replies = await bot.command(alice, "help")

    assert len(replies) == 1 and replies[0].chat_id == alice.id
    assert "/lang" in replies[0].text


def test_failures_can_aim_at_one_chat_and_a_responder_can_rule(fake_bot_api: FakeBotApi) -> None:
    from bots.testing.fake_bot_api import DROP

    url = f"{fake_bot_api.base_url}{fake_bot_api.token}/sendMessage"
    fake_bot_api.fail_blocked(chat_id=2)
    fake_bot_api.responder = lambda call: DROP if call.text == "drop me" else None

    to_one = httpx.post(url, json={"chat_id": 1, "text": "a"})
    to_two = httpx.post(url, json={"chat_id": 2, "text": "a"})
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(url, json={"chat_id": 1, "text": "drop me"})

    assert (to_one.status_code, to_two.status_code) == (200, 403)
    assert to_two.json()["description"] == "Forbidden: bot was blocked by the user"
    calls = fake_bot_api.calls_to("sendMessage")
    assert [c.http_status for c in calls] == [200, 403, 0]
    assert calls[0].at <= calls[1].at <= calls[2].at
