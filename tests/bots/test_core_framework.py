"""The handler wrapper and the one error handler: stale buttons, forged data, crashes answered politely."""

from __future__ import annotations

import pytest
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from backend.core.exceptions import Conflict
from bots import callbacks
from bots.handlers.base import Context, StaleButton, bot_handler
from bots.testing.harness import BotHarness, toast_of

pytestmark = pytest.mark.django_db(transaction=True)


def add_demo_handlers(bot: BotHarness) -> None:
    @bot_handler
    async def press(update: Update, context: Context) -> None:
        assert update.callback_query is not None
        data = callbacks.parse(update.callback_query.data, prefix="zz", actions={"go": 1})
        item = data.int_arg(0)
        if item == 404:
            raise StaleButton()
        if item == 409:
            raise Conflict("Just taken, sorry.")
        await update.callback_query.answer("done")

    @bot_handler
    async def crash(update: Update, context: Context) -> None:
        raise RuntimeError("boom")

    bot.application.add_handler(CallbackQueryHandler(press, pattern=callbacks.pattern("zz")))
    bot.application.add_handler(CommandHandler("crash", crash))


async def test_a_stale_button_gets_a_toast_and_loses_its_keyboard(bot: BotHarness) -> None:
    add_demo_handlers(bot)
    alice = bot.user(language="en")
    await bot.application.bot.send_message(
        alice.id,
        "pick",
        reply_markup={"inline_keyboard": [[{"text": "x", "callback_data": "zz:go:404"}]]},  # type: ignore[arg-type]
    )

    replies = await bot.press(alice, "zz:go:404")

    assert toast_of(replies) == "This button is no longer valid."
    assert [r.method for r in replies] == ["answerCallbackQuery", "editMessageReplyMarkup"]
    assert bot.errors == []


@pytest.mark.parametrize("data", ["zz:go:abc", "zz:go", "zz:go:1:2", "zz:run:1"])
async def test_forged_callback_data_is_answered_as_stale(bot: BotHarness, data: str) -> None:
    add_demo_handlers(bot)
    alice = bot.user(language="en")

    replies = await bot.press(alice, data)

    assert toast_of(replies) == "This button is no longer valid."
    assert bot.errors == []


async def test_a_service_refusal_is_shown_as_an_alert(bot: BotHarness) -> None:
    add_demo_handlers(bot)
    alice = bot.user()

    replies = await bot.press(alice, "zz:go:409")

    assert toast_of(replies) == "Just taken, sorry."
    assert replies[0].call.params.get("show_alert") is True


async def test_a_crash_is_logged_and_the_user_gets_an_apology_in_their_language(bot: BotHarness) -> None:
    add_demo_handlers(bot)
    ivan = bot.user(language="ru")

    replies = await bot.command(ivan, "crash", expect_error=True)

    assert len(bot.errors) == 1 and isinstance(bot.errors[0], RuntimeError)
    assert len(replies) == 1 and replies[0].chat_id == ivan.id
    assert replies[0].text  # the apology, in Russian once the catalog has it
