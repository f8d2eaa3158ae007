"""The language of an update: Telegram's, switchable with /lang, stored; active in the services too. Dedup."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.utils import translation
from telegram import Update
from telegram.ext import CommandHandler

from backend.accounts.models import User
from bots.handlers.base import Context, bot_handler, reply, run_sync
from bots.models import BotChat, ProcessedUpdate
from bots.testing.harness import BotHarness, link_user
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def add_probe(bot: BotHarness) -> list[str]:
    """/probe answers the language active in the handler and inside a sync service call (two threads)."""
    seen: list[str] = []

    @bot_handler
    async def probe(update: Update, context: Context) -> None:
        in_service = await run_sync(translation.get_language)
        in_isolated = await run_sync(translation.get_language, isolated=True)
        seen.append("probe")
        await reply(update, f"{translation.get_language()}|{in_service}|{in_isolated}")

    bot.application.add_handler(CommandHandler("probe", probe))
    return seen


@pytest.mark.parametrize(
    ("telegram", "expected"), [("ru", "ru"), ("kk", "kk"), ("en-GB", "en"), ("de", "en"), (None, "en")]
)
async def test_telegrams_language_is_used_when_we_speak_it(
    bot: BotHarness, telegram: str | None, expected: str
) -> None:
    add_probe(bot)
    tg = bot.user(language=telegram)

    replies = await bot.command(tg, "probe")

    # the default of the test settings is en; the services (both kinds of thread) see the same language
    assert replies[0].text == f"{expected}|{expected}|{expected}"


async def test_lang_switches_and_the_choice_is_stored_and_wins(bot: BotHarness) -> None:
    add_probe(bot)
    tg = bot.user(language="ru")
    user = await sync_to_async(UserFactory)(language="ru")
    await sync_to_async(link_user)(user, tg)

    menu = await bot.command(tg, "lang")
    await bot.tap(tg, "Қазақша")
    probed = await bot.command(tg, "probe")

    assert [b.callback_data for b in menu[0].flat_buttons] == ["lang:set:ru", "lang:set:kk", "lang:set:en"]
    assert probed[0].text == "kk|kk|kk"
    chat = await sync_to_async(BotChat.objects.get)(telegram_user_id=tg.id)
    assert chat.language == "kk"
    assert (await sync_to_async(User.objects.get)(pk=user.pk)).language == "kk"  # SMS and the app follow it


async def test_a_linked_accounts_language_beats_telegrams(bot: BotHarness) -> None:
    add_probe(bot)
    tg = bot.user(language="en")
    await sync_to_async(link_user)(await sync_to_async(UserFactory)(language="kk"), tg)

    replies = await bot.command(tg, "probe")

    assert replies[0].text.startswith("kk|")


@pytest.mark.parametrize("data", ["lang:set:de", "lang:set", "lang:drop:ru"])
async def test_a_forged_language_choice_is_refused(bot: BotHarness, data: str) -> None:
    tg = bot.user()

    replies = await bot.press(tg, data)

    assert replies[0].call.params["text"] == "This button is no longer valid."
    assert not await sync_to_async(BotChat.objects.filter(telegram_user_id=tg.id).exclude(language="").exists)()


async def test_a_repeated_update_is_processed_once(bot: BotHarness) -> None:
    seen = add_probe(bot)
    tg = bot.user()
    update = bot.fake.command_update(tg, "probe")

    first = await bot.process(update)
    again = await bot.process(update)

    assert len(first) == 1 and again == []
    assert seen == ["probe"]
    assert await sync_to_async(ProcessedUpdate.objects.filter(update_id=update["update_id"]).count)() == 1
