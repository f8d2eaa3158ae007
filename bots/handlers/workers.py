"""The worker side of the bot: call-ups with Accept / Decline, the day-before confirmation, my offers and shifts,
check-in and check-out by sharing a location (a live location checks in as soon as the worker is near the site),
earnings, the rating with its reasons, and availability for the coming days.

Thin async handlers: they parse the update, find the linked account and hand over to ``workers_actions`` (sync,
through ``sync_to_async``), which calls the staffing services and says what to answer; the handlers only talk to
Telegram. Callback data are hints: ``offer:accept:<id>`` of someone else's offer reaches the service as the
caller's own request and is refused there like a stale button.

Service calls run with ``thread_sensitive=False``: each update's call gets a thread (and a database connection) of
its own, so two workers pressing Accept at the same moment really race on the shift row, as the service expects;
the connection is closed when the call ends.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.utils import translation
from django.utils.translation import gettext as _
from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from backend.accounts.models import User
from backend.staffing.services.buttons import OFFER_ACCEPT, OFFER_DECLINE, SHIFT_CONFIRM

from . import workers_actions as actions
from .workers_actions import AVAIL_PREFIX, Reply

logger = logging.getLogger("brigada.bot.workers")

OFFER_RE = re.compile(rf"^(?:{OFFER_ACCEPT}:(?P<accept>\d{{1,19}})|{OFFER_DECLINE}:(?P<decline>\d{{1,19}}))$")
CONFIRM_RE = re.compile(rf"^{SHIFT_CONFIRM}:(\d{{1,19}}):(yes|no)$")
AVAIL_RE = re.compile(rf"^{AVAIL_PREFIX}:(\d{{8}}):([01])$")
LANGUAGES = {code for code, _name in settings.LANGUAGES}
CHECK_OUT_FLOW = "worker_check_out"


# --- the framework's seams (the linked account, the language, sync calls, flow state) -------------------------


def _language(user: User | None, update: Update) -> str:
    if user is not None and user.language in LANGUAGES:
        return user.language
    code = (getattr(update.effective_user, "language_code", None) or "")[:2]
    return code if code in LANGUAGES else settings.LANGUAGE_CODE[:2]


def _linked_user_sync(telegram_user_id: int) -> User | None:
    try:
        return User.objects.filter(telegram_user_id=telegram_user_id, is_active=True).first()
    finally:
        connections.close_all()


async def linked_user(update: Update) -> User | None:
    """The account linked to the Telegram user who sent ``update`` (None before /start and the shared contact)."""
    if update.effective_user is None:
        return None
    return await sync_to_async(_linked_user_sync, thread_sensitive=False)(update.effective_user.id)


async def run_as(user: User, language: str, action: Callable[..., Reply], /, **kwargs: Any) -> Reply:
    """``action(user=user, **kwargs)`` in a thread of its own, in the worker's language."""

    def call() -> Reply:
        try:
            with translation.override(language):
                return action(user=user, **kwargs)
        finally:
            connections.close_all()

    return await sync_to_async(call, thread_sensitive=False)()


def _text(language: str, message: Callable[[], str]) -> str:
    with translation.override(language):
        return message()


def _flow(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    data = context.user_data if context.user_data is not None else {}
    return data.setdefault("flows", {})  # type: ignore[no-any-return]


# --- sending ---------------------------------------------------------------------------------------------------


def inline_markup(markup: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    """A PTB keyboard from the Bot API's JSON form (the services build that form)."""
    if not markup:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b.get("callback_data")) for b in row]
            for row in markup.get("inline_keyboard", [])
        ]
    )


async def _send(
    update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply, *, remove_keyboard: bool = False
) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    for text, markup in reply.messages:
        keyboard: Any = inline_markup(markup)
        if keyboard is None and remove_keyboard:
            keyboard = ReplyKeyboardRemove()
        await context.bot.send_message(chat_id=chat.id, text=text, reply_markup=keyboard)


async def _answer_button(query: CallbackQuery, reply: Reply) -> None:
    """Answer the press, then update the message it hangs on: its status line, and its buttons (gone unless kept)."""
    await query.answer(text=reply.answer, show_alert=reply.alert or None)
    if reply.keep_markup:
        return
    message = query.message
    markup = inline_markup(reply.markup)
    try:
        if reply.status and isinstance(message, Message) and message.text:
            await query.edit_message_text(text=f"{message.text}\n\n{reply.status}", reply_markup=markup)
        else:
            await query.edit_message_reply_markup(reply_markup=markup)
    except BadRequest as exc:  # "message is not modified", or a message too old to edit: the answer went already
        logger.info("worker button: message not edited (%s)", exc.message)


async def _button(
    update: Update, context: ContextTypes.DEFAULT_TYPE, pattern: re.Pattern[str], act: Callable[..., Any]
) -> None:
    query = update.callback_query
    if query is None:
        return
    user = await linked_user(update)
    language = _language(user, update)
    if user is None:
        await query.answer(text=_text(language, link_first), show_alert=True)
        return
    found = pattern.fullmatch(query.data or "")
    if found is None:
        reply = Reply(answer=_text(language, actions.not_available))
    else:
        reply = await act(user, language, found)
    await _answer_button(query, reply)


def link_first() -> str:
    return _("Please link your Telegram first: send /start and share your phone number.")


# --- buttons ---------------------------------------------------------------------------------------------------


async def on_offer_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``offer:accept:<id>`` / ``offer:decline:<id>`` under a call-up."""

    async def act(user: User, language: str, found: re.Match[str]) -> Reply:
        action = "accept" if found.group("accept") else "decline"
        offer_id = int(found.group(action))
        return await run_as(user, language, actions.offer_answer, action=action, offer_id=offer_id)

    await _button(update, context, OFFER_RE, act)


async def on_confirm_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``shift:confirm:<id>:yes|no`` under the day-before question (and in "my shifts")."""

    async def act(user: User, language: str, found: re.Match[str]) -> Reply:
        return await run_as(
            user, language, actions.confirmation_reply, offer_id=int(found.group(1)), come=found.group(2) == "yes"
        )

    await _button(update, context, CONFIRM_RE, act)


async def on_availability_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``avail:set:<yyyymmdd>:<1 free|0 not free>`` in the availability keyboard."""

    async def act(user: User, language: str, found: re.Match[str]) -> Reply:
        try:
            day = dt.datetime.strptime(found.group(1), "%Y%m%d").date()
        except ValueError:
            return Reply(answer=_text(language, actions.not_available))
        return await run_as(user, language, actions.availability_switch, day=day, free=found.group(2) == "1")

    await _button(update, context, AVAIL_RE, act)


# --- commands --------------------------------------------------------------------------------------------------


async def _command(update: Update, context: ContextTypes.DEFAULT_TYPE, action: Callable[..., Reply]) -> None:
    user = await linked_user(update)
    language = _language(user, update)
    if user is None:
        await _send(update, context, Reply(messages=[(_text(language, link_first), None)]))
        return
    await _send(update, context, await run_as(user, language, action))


async def on_offers(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _command(update, context, actions.open_offers)


async def on_shifts(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _command(update, context, actions.my_shifts)


async def on_earnings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _command(update, context, actions.earnings)


async def on_rating(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _command(update, context, actions.rating)


async def on_availability(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _command(update, context, actions.availability)


def _location_keyboard(language: str) -> ReplyKeyboardMarkup:
    label = _text(language, lambda: _("Share my location"))
    return ReplyKeyboardMarkup(
        [[KeyboardButton(label, request_location=True)]], resize_keyboard=True, one_time_keyboard=True
    )


async def _ask_location(update: Update, context: ContextTypes.DEFAULT_TYPE, *, checking_out: bool) -> None:
    user = await linked_user(update)
    language = _language(user, update)
    chat = update.effective_chat
    if chat is None:
        return
    if user is None:
        await context.bot.send_message(chat_id=chat.id, text=_text(language, link_first))
        return
    _flow(context)[CHECK_OUT_FLOW] = checking_out
    if checking_out:
        text = _text(language, lambda: _("Share your location at the site to check out."))
    else:
        text = _text(
            language,
            lambda: _(
                "Share your location at the site to check in. With a live location you are checked in as soon "
                "as you are near the site."
            ),
        )
    await context.bot.send_message(chat_id=chat.id, text=text, reply_markup=_location_keyboard(language))


async def on_check_in(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _ask_location(update, context, checking_out=False)


async def on_check_out(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _ask_location(update, context, checking_out=True)


async def on_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A shared location (or a live location moving, which arrives as an edited message): check in, or check out
    after /checkout. A moving live location speaks only when it checks the worker in."""
    message = update.effective_message
    if message is None or message.location is None:
        return
    moving = update.edited_message is not None
    user = await linked_user(update)
    language = _language(user, update)
    if user is None:
        if not moving:
            await _send(update, context, Reply(messages=[(_text(language, link_first), None)]))
        return
    point = {"latitude": message.location.latitude, "longitude": message.location.longitude}
    flows = _flow(context)
    if flows.get(CHECK_OUT_FLOW) and not moving:
        flows[CHECK_OUT_FLOW] = False
        reply = await run_as(user, language, actions.check_out, **point)
    else:
        reply = await run_as(user, language, actions.check_in, quiet=moving, **point)
    await _send(update, context, reply, remove_keyboard=True)


# --- registration ----------------------------------------------------------------------------------------------

COMMANDS: dict[str, Callable[[Update, ContextTypes.DEFAULT_TYPE], Any]] = {
    "offers": on_offers,
    "shifts": on_shifts,
    "checkin": on_check_in,
    "checkout": on_check_out,
    "earnings": on_earnings,
    "rating": on_rating,
    "availability": on_availability,
}


def register(app: Application[Any, Any, Any, Any, Any, Any], group: int = 0) -> None:
    """Add the worker handlers to ``app``."""
    for name, callback in COMMANDS.items():
        app.add_handler(CommandHandler(name, callback), group=group)
    app.add_handler(CallbackQueryHandler(on_offer_button, pattern=r"^offer:"), group=group)
    app.add_handler(CallbackQueryHandler(on_confirm_button, pattern=r"^shift:"), group=group)
    app.add_handler(CallbackQueryHandler(on_availability_button, pattern=r"^avail:"), group=group)
    app.add_handler(MessageHandler(filters.LOCATION, on_location), group=group)


__all__ = ["COMMANDS", "inline_markup", "linked_user", "register", "run_as"]
