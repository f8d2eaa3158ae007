"""Core handlers: /start (with a deep-link payload), sharing the contact, /lang, /help."""

from __future__ import annotations

from django.utils.translation import gettext as _
from telegram import Update
from telegram.ext import Application, CommandHandler

from bots.handlers.base import Context, bot_handler, reply


@bot_handler
async def start(update: Update, context: Context) -> None:
    await reply(update, _("Welcome to Brigada! Send /help to see what I can do."))


@bot_handler
async def help_command(update: Update, context: Context) -> None:
    await reply(update, _("/start: link your phone\n/lang: change the language\n/help: this list"))


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the core handlers to ``application``."""
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
