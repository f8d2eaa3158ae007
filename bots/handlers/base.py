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
from typing import Any, TypeVar

from django.utils import translation
from telegram import CallbackQuery, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from backend.core.exceptions import ApplicationError, NotFound
from bots import texts
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


LanguageResolver = Callable[[Update], Awaitable[str]]


async def _telegram_language(update: Update) -> str:
    user = update.effective_user
    return texts.telegram_language(user.language_code if user else None)


_language_resolver: LanguageResolver = _telegram_language


def set_language_resolver(resolver: LanguageResolver) -> None:
    """Install how an update's language is found (bots.state installs the stored-choice lookup)."""
    global _language_resolver
    _language_resolver = resolver


async def update_language(update: Update) -> str:
    """The language to speak to this update's user in."""
    try:
        return await _language_resolver(update)
    except Exception:  # the language must never be the reason an update fails
        logger.exception("language lookup failed")
        return await _telegram_language(update)


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
