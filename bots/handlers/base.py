"""What every handler shares: the language of the update, stale-button answers, small reply helpers.

Decorate every handler callback with ``@bot_handler``. It
- activates the update's language for the handler (and the services it calls through ``sync_to_async``);
- answers a press on a stale or forged button gracefully: raise ``StaleButton`` (or let ``MalformedCallback``
  from ``bots.callbacks.parse`` or a service's ``NotFound`` escape from a callback-query handler) and the user
  gets a short ``answerCallbackQuery`` toast instead of an error;
- answers a service's ``ApplicationError`` (a refusal the user can act on, e.g. "slot just taken") with its
  translated message: as a toast for a button press, as a reply for a message.
Anything else propagates to the application's one error handler (``bots.app.error_handler``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections
from django.utils import translation
from django.utils.functional import Promise
from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from backend.core.exceptions import ApplicationError, NotFound
from bots import keyboards, state, texts
from bots.callbacks import MalformedCallback

logger = logging.getLogger("bots")

Context = ContextTypes.DEFAULT_TYPE
HandlerFunc = Callable[[Update, Context], Awaitable[Any]]
F = TypeVar("F", bound=HandlerFunc)

# Toasts (answerCallbackQuery text) are cut by Telegram at 200 characters.
TOAST_LIMIT = 200


class StaleButton(Exception):
    """The button refers to something that no longer exists or no longer applies."""

    def __init__(self, text: str | None = None) -> None:
        super().__init__(text or "stale button")
        self.text = text


R = TypeVar("R")


async def run_sync(fn: Callable[..., R], /, *args: Any, isolated: bool = False, **kwargs: Any) -> R:
    """Call a sync service from a handler.

    By default on asgiref's one thread-sensitive worker (what Django's own async views do): calls are serialised,
    one connection. ``isolated=True`` runs it on a thread of its own with its own connection, closed afterwards:
    for genuinely parallel calls (two workers racing for the last place, each in its own transaction).
    The active language follows the call into the thread (asgiref copies the context).
    """
    if not isolated:
        return await sync_to_async(fn)(*args, **kwargs)

    def call() -> R:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    return await sync_to_async(call, thread_sensitive=False)()


async def _telegram_language(update: Update) -> str:
    user = update.effective_user
    return texts.telegram_language(user.language_code if user else None)


async def update_language(update: Update) -> str:
    """The language to speak to this update's user in: /lang choice, else the account's, else Telegram's."""
    user = update.effective_user
    if user is None:
        return texts.default_language()
    try:
        stored = await run_sync(state.chat_language, telegram_user_id=user.id)
    except Exception:  # the language must never be the reason an update fails
        logger.exception("language lookup failed")
        stored = None
    return texts.supported_language(stored) or await _telegram_language(update)


async def current_user(update: Update) -> Any:
    """The active account linked to the update's Telegram user (``User | None``); never trust ids in the data."""
    tg = update.effective_user
    return await run_sync(state.linked_user, tg.id) if tg is not None else None


# --- the main menu: each domain adds its entries in its register() ---------------------------------------------


@dataclass(frozen=True)
class MenuItem:
    caption: str | Promise  # gettext_lazy: rendered in the user's language when the menu is sent
    data: str  # callback data (bots.callbacks.encode)
    audience: str  # "customer", "worker" or "all"
    order: int = 100


MENU: list[MenuItem] = []


def menu_add(caption: str | Promise, data: str, *, audience: str = "all", order: int = 100) -> None:
    """Add a main-menu button (idempotent per data: building the application twice does not duplicate it)."""
    if audience not in {"customer", "worker", "all"}:
        raise ValueError(audience)
    if any(item.data == data for item in MENU):
        return
    MENU.append(MenuItem(caption, data, audience, order))
    MENU.sort(key=lambda item: item.order)


HELP: list[tuple[int, str | Promise]] = []


def help_add(line: str | Promise, *, order: int = 100) -> None:
    """Add a line to /help (``gettext_lazy``; e.g. "/book: book a visit"); idempotent per line."""
    if any(existing == line for _o, existing in HELP):
        return
    HELP.append((order, line))
    HELP.sort(key=lambda item: item[0])


def help_text() -> str:
    return "\n".join(str(line) for _order, line in HELP)


def main_menu(*, worker: bool) -> InlineKeyboardMarkup | None:
    """The menu for a linked user: customer entries, plus worker entries when they are a staffing worker."""
    wanted = {"all", "customer"} | ({"worker"} if worker else set())
    items = [(str(item.caption), item.data) for item in MENU if item.audience in wanted]
    return keyboards.inline_column(items) if items else None


async def answer_stale(update: Update, text: str | None = None) -> None:
    """Answer a stale or forged button press with a short toast; remove the dead keyboard when we can."""
    query = update.callback_query
    if query is None:
        if update.effective_message is not None:
            await update.effective_message.reply_text(text or texts.button_stale())
        return
    await answer_toast(query, text or texts.button_stale())
    await drop_keyboard(query)


async def answer_toast(query: CallbackQuery, text: str, *, alert: bool = False) -> None:
    """``answerCallbackQuery`` that never raises for an old query (Telegram rejects answers after ~15 s)."""
    try:
        await query.answer(text[:TOAST_LIMIT], show_alert=alert)
    except BadRequest as exc:
        logger.info("callback query not answered: %s", exc.message)


async def drop_keyboard(query: CallbackQuery) -> None:
    """Remove the inline keyboard of the pressed message (ignores "not modified" / "not found")."""
    if query.message is None:
        return
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest as exc:
        logger.info("keyboard not removed: %s", exc.message)


async def reply(update: Update, text: str, **kwargs: Any) -> None:
    """Send ``text`` into the update's chat."""
    chat = update.effective_chat
    if chat is None:
        return
    await chat.send_message(text, **kwargs)


def bot_handler(func: F) -> F:
    """Wrap a handler callback: language, stale buttons, service refusals (see the module docstring)."""

    @functools.wraps(func)
    async def wrapper(update: Update, context: Context) -> Any:
        language = await update_language(update)
        with translation.override(language):
            try:
                return await func(update, context)
            except (StaleButton, MalformedCallback, NotFound) as exc:
                if update.callback_query is None and not isinstance(exc, StaleButton):
                    raise
                logger.info("stale or forged button: %s", type(exc).__name__)
                await answer_stale(update, exc.text if isinstance(exc, StaleButton) else None)
            except ApplicationError as exc:
                if update.callback_query is not None:
                    await answer_toast(update.callback_query, exc.message, alert=True)
                else:
                    await reply(update, exc.message)
        return None

    return wrapper  # type: ignore[return-value]
