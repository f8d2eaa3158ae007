"""Drive the real bot application against the fake Bot API server and read what it answered.

    async with BotHarness.running() as bot:            # or the ``bot`` fixture of tests/bots/conftest.py
        alice = bot.user(language="ru")
        replies = await bot.command(alice, "start", payload)
        await bot.share_contact(alice, "+77011234567")
        replies = await bot.tap(alice, "Book")         # presses the button whose caption contains "Book"
        assert "confirmed" in bot.last(alice).text

Every update goes through ``Application.process_update`` (the handlers run to completion before it returns,
so no waiting is needed); the replies are the calls the application made meanwhile, as the fake recorded them
over real HTTP. A handler exception fails the step (``HandlerFailed``) unless ``expect_error=True``: a test never
passes because the error handler politely covered a crash.

Handlers reach the database through ``sync_to_async``, i.e. from another thread: tests that use the harness need
``pytest.mark.django_db(transaction=True)`` (the ``bot`` fixture asks for it).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes

from bots.testing.fake_bot_api import DEFAULT_TOKEN, ApiCall, FakeBotApi, TgUser

REPLY_METHODS = {"sendmessage", "editmessagetext", "editmessagereplymarkup", "sendlocation", "sendphoto"}
_user_ids = itertools.count(700_000_001)


class HandlerFailed(AssertionError):
    """A handler raised while processing a test update."""


@dataclass(frozen=True)
class InlineButton:
    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Reply:
    """One thing the bot did in a chat: a message sent or edited (or a toast, for ``answerCallbackQuery``)."""

    call: ApiCall

    @property
    def method(self) -> str:
        return self.call.method

    @property
    def chat_id(self) -> int | str | None:
        return self.call.chat_id

    @property
    def text(self) -> str:
        return str(self.call.params.get("text") or "")

    @property
    def message_id(self) -> int | None:
        result = (self.call.response or {}).get("result")
        if isinstance(result, dict):
            return int(result["message_id"])
        value = self.call.params.get("message_id")
        return int(value) if value is not None else None

    @property
    def buttons(self) -> list[list[InlineButton]]:
        return [
            [InlineButton(b.get("text", ""), b.get("callback_data"), b.get("url")) for b in row]
            for row in self.call.inline_keyboard
        ]

    @property
    def flat_buttons(self) -> list[InlineButton]:
        return [b for row in self.buttons for b in row]

    @property
    def reply_keyboard(self) -> list[list[dict[str, Any]]]:
        markup = self.call.params.get("reply_markup")
        return list(markup.get("keyboard") or []) if isinstance(markup, dict) else []

    def button(self, caption: str) -> InlineButton:
        """The one button whose caption contains ``caption`` (case-insensitive)."""
        found = [b for b in self.flat_buttons if caption.lower() in b.text.lower()]
        if len(found) != 1:
            raise AssertionError(f"{len(found)} buttons match {caption!r}: {[b.text for b in self.flat_buttons]}")
        return found[0]


class BotHarness:
    """The fake server plus the real application built by ``bots.app.build_application``."""

    def __init__(self, fake: FakeBotApi, application: Application) -> None:  # type: ignore[type-arg]
        self.fake = fake
        self.application = application
        self.errors: list[BaseException] = []
        self.inputs: list[tuple[int | str, int, str]] = []  # (chat id, fake call index, what the user did)
        application.add_error_handler(self._record_error)

    @classmethod
    @asynccontextmanager
    async def running(
        cls, fake: FakeBotApi | None = None, *, token: str = DEFAULT_TOKEN, **build_options: Any
    ) -> AsyncIterator[BotHarness]:
        """Start the fake (unless given), build and initialise the application; tear both down after."""
        from bots.app import build_application

        own_fake = fake is None
        fake = fake or FakeBotApi(token).start()
        build_options.setdefault("with_updater", False)
        application = build_application(token, base_url=fake.base_url, **build_options)
        harness = cls(fake, application)
        await application.initialize()
        try:
            yield harness
        finally:
            await application.shutdown()
            if own_fake:
                fake.stop()

    async def _record_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            self.errors.append(context.error)

    def _log_input(self, update: dict[str, Any], mark: int) -> None:
        if "callback_query" in update:
            query = update["callback_query"]
            self.inputs.append((query["from"]["id"], mark, f"presses ({query.get('data')})"))
            return
        message = update.get("message") or update.get("edited_message") or {}
        chat_id = (message.get("chat") or {}).get("id", 0)
        if "text" in message:
            said = message["text"]
        elif "contact" in message:
            said = f"shares contact {message['contact'].get('phone_number')}"
        elif "location" in message:
            said = f"shares location {message['location'].get('latitude')},{message['location'].get('longitude')}"
        else:
            said = "sends something"
        self.inputs.append((chat_id, mark, said))

    # --- users -----------------------------------------------------------------------------------------

    def user(self, *, language: str | None = "en", first_name: str = "Test", username: str = "") -> TgUser:
        """A new Telegram user with a unique id."""
        return TgUser(next(_user_ids), first_name=first_name, username=username, language_code=language)

    # --- feeding updates -------------------------------------------------------------------------------

    async def process(self, update: dict[str, Any], *, expect_error: bool = False) -> list[Reply]:
        """Run one update through the application; the replies it caused, in order."""
        mark = self.fake.mark()
        self._log_input(update, mark)
        errors_before = len(self.errors)
        await self.application.process_update(Update.de_json(update, self.application.bot))
        new_errors = self.errors[errors_before:]
        if new_errors and not expect_error:
            raise HandlerFailed(f"handler raised {new_errors[0]!r}") from new_errors[0]
        return [Reply(c) for c in self.fake.since(mark) if c.method.lower() in REPLY_METHODS | {"answercallbackquery"}]

    async def send(self, user: TgUser, text: str, **kw: Any) -> list[Reply]:
        return await self.process(self.fake.message_update(user, text), **kw)

    async def command(self, user: TgUser, command: str, payload: str = "", **kw: Any) -> list[Reply]:
        return await self.process(self.fake.command_update(user, command, payload), **kw)

    async def share_contact(
        self, user: TgUser, phone: str, *, contact_user_id: int | bool | None = True, **kw: Any
    ) -> list[Reply]:
        return await self.process(self.fake.contact_update(user, phone, contact_user_id=contact_user_id), **kw)

    async def share_location(self, user: TgUser, latitude: float, longitude: float, **kw: Any) -> list[Reply]:
        loc_kw = {k: kw.pop(k) for k in ("horizontal_accuracy", "live_period") if k in kw}
        return await self.process(self.fake.location_update(user, latitude, longitude, **loc_kw), **kw)

    async def move_live_location(
        self, user: TgUser, message_id: int, latitude: float, longitude: float, **kw: Any
    ) -> list[Reply]:
        """A live-location move (an ``edited_message`` of the location message ``message_id``)."""
        return await self.process(self.fake.edited_location_update(user, message_id, latitude, longitude), **kw)

    async def press(self, user: TgUser, data: str, *, message_id: int | None = None, **kw: Any) -> list[Reply]:
        """Press a button with this callback data (forged data too: nothing checks it came from a keyboard)."""
        return await self.process(self.fake.callback_update(user, data, message_id=message_id), **kw)

    async def tap(self, user: TgUser, caption: str, **kw: Any) -> list[Reply]:
        """Press the button captioned ``caption`` on the latest message in the user's chat that has one."""
        for reply in reversed(self.replies(user)):
            if reply.flat_buttons and reply.method.lower() != "answercallbackquery":
                button = reply.button(caption)
                assert button.callback_data, f"{button.text!r} is not a callback button"
                return await self.press(user, button.callback_data, message_id=reply.message_id, **kw)
        raise AssertionError(f"no message with buttons in the chat of {user.id}")

    # --- reading -----------------------------------------------------------------------------------------

    def replies(self, user: TgUser | int) -> list[Reply]:
        """Every message the bot sent or edited in this user's chat (toasts excluded), in order."""
        chat_id = user.id if isinstance(user, TgUser) else user
        return [Reply(c) for c in self.fake.calls if c.method.lower() in REPLY_METHODS and c.chat_id == chat_id]

    def last(self, user: TgUser | int) -> Reply:
        found = self.replies(user)
        assert found, "the bot has not answered in this chat"
        return found[-1]

    def toasts(self) -> list[str]:
        return [str(c.params.get("text") or "") for c in self.fake.calls_to("answerCallbackQuery")]

    def transcript(self, user: TgUser | int) -> str:
        """The chat as text (for notes and failure messages): each reply and its buttons."""
        chat_id = user.id if isinstance(user, TgUser) else user
        events: list[tuple[int, int, str]] = [
            (mark, 0, f"USER: {said}") for c, mark, said in self.inputs if c == chat_id
        ]
        for index, call in enumerate(self.fake.calls):
            if call.method.lower() not in REPLY_METHODS | {"answercallbackquery"}:
                continue
            if call.method.lower() == "answercallbackquery":
                if call.params.get("text"):
                    events.append((index, 1, f"BOT [toast] {call.params.get('text')}"))
                continue
            if call.chat_id != chat_id:
                continue
            reply = Reply(call)
            block = [f"BOT [{reply.method}] {reply.text}"]
            for row in reply.buttons:
                block.append("      " + " | ".join(f"[{b.text}]({b.callback_data or b.url})" for b in row))
            events.append((index, 1, "\n".join(block)))
        return "\n".join(text for _i, _o, text in sorted(events, key=lambda e: (e[0], e[1])))


def toast_of(replies: list[Reply]) -> str | None:
    """The text of the ``answerCallbackQuery`` among ``replies`` (None when there was none)."""
    for reply in replies:
        if reply.method.lower() == "answercallbackquery":
            return str(reply.call.params.get("text") or "")
    return None


# --- linking the test world's people to Telegram users (sync: call from fixtures or through sync_to_async) ---


def link_user(user: Any, tg: TgUser) -> None:
    """Link an existing account to the Telegram user ``tg`` (as the /start + contact flow would)."""
    type(user).objects.filter(pk=user.pk).update(telegram_user_id=tg.id)
    user.telegram_user_id = tg.id


def link_client(client: Any, tg: TgUser) -> Any:
    """Make ``tg`` the customer behind CRM ``client``: the account with the client's phone, linked; returns it."""
    from backend.accounts.models import User

    user, _created = User.objects.get_or_create(phone=client.phone, defaults={"first_name": client.first_name})
    link_user(user, tg)
    return user


def link_worker(worker: Any, tg: TgUser) -> Any:
    """Make ``tg`` the staffing worker ``worker`` (their account, linked); returns the account."""
    link_user(worker.user, tg)
    return worker.user
