"""The application factory: one python-telegram-bot ``Application`` with every handler module registered.

The same factory serves polling (``manage.py runbot``, ``runstack`` in the demo), the webhook view and the
tests (``base_url`` pointing at ``bots.testing.fake_bot_api``). Flow state lives in the database
(``bots.state``, ADR 0017), so the application carries no PTB persistence.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils import translation
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bots import texts
from bots.handlers import register_all
from bots.handlers.base import answer_toast, update_language
from bots.logsafe import install_token_redaction

logger = logging.getLogger("bots")

DEFAULT_BASE_URL = "https://api.telegram.org/bot"


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one error handler: log the failure (the token is redacted) and apologise to the user in their language."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    logger.error(
        "bot update %s failed: %s",
        update_id,
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__) if error is not None else None,
    )
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        with translation.override(await update_language(update)):
            text = texts.something_went_wrong()
            if update.callback_query is not None:
                await answer_toast(update.callback_query, text, alert=True)
            else:
                await update.effective_chat.send_message(text)
    except TelegramError as exc:  # apologising must not fail the error handler itself
        logger.warning("could not tell the user about a failure: %s", type(exc).__name__)


def build_application(
    token: str | None = None,
    *,
    base_url: str | None = None,
    with_updater: bool = True,
    **builder_options: Any,
) -> Application:  # type: ignore[type-arg]
    """A configured application (not initialised: ``await app.initialize()`` calls ``getMe``).

    ``with_updater=False`` for the webhook view (updates arrive by HTTP, nothing polls). ``builder_options``
    name ``ApplicationBuilder`` methods, e.g. ``read_timeout=5``.
    """
    token = token or settings.TELEGRAM_BOT_TOKEN
    if not token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    install_token_redaction(token)
    builder = ApplicationBuilder().token(token).base_url(base_url or settings.TELEGRAM_API_BASE_URL or DEFAULT_BASE_URL)
    if not with_updater:
        builder = builder.updater(None)
    for name, value in builder_options.items():
        builder = getattr(builder, name)(value)
    application = builder.build()
    register_all(application)
    application.add_error_handler(error_handler)
    return application
