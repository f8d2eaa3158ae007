"""The worker side of the bot: call-ups with Accept / Decline, the day-before confirmation, my offers and shifts,
check-in and check-out by sharing a location (a live location checks in as soon as the worker is near the site),
earnings, the rating with its reasons, and availability for the coming days.

Thin async handlers: they parse the update, find the linked account and hand over to ``workers_actions`` (sync,
through ``sync_to_async``), which calls the staffing services and says what to answer; the handlers only talk to
Telegram. Callback data are hints: ``offer:accept:<id>`` of someone else's offer reaches the service as the
caller's own request and is refused there like a stale button.

Service calls run ``isolated`` (``run_sync``): each update's call gets a thread (and a database connection) of its
own, so two workers pressing Accept at the same moment really race on the shift row, as the service expects (with
asgiref's default single thread they would queue up, and a broken guard would pass the race test: measured, ADR
0020). The one flow state (/checkout awaiting a location) is in the database (``bots.state``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from telegram import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardRemove, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from backend.accounts.models import User
from backend.staffing.services.buttons import OFFER_ACCEPT, OFFER_DECLINE, SHIFT_CONFIRM
from bots import callbacks, keyboards, state, texts
from bots.handlers.base import Context, answer_toast, bot_handler, help_add, menu_add, reply, run_sync

from . import workers_actions as actions
from .workers_actions import AVAIL_PREFIX, AVAIL_SET, Reply

logger = logging.getLogger("brigada.bot.workers")

OFFER_ACTIONS = {OFFER_ACCEPT.split(":")[1]: 1, OFFER_DECLINE.split(":")[1]: 1}
CONFIRM_ACTIONS = {SHIFT_CONFIRM.split(":")[1]: 2}
CHECK_OUT_FLOW = "worker_check_out"


# --- the framework's seams: the linked account, sync calls, flow state -----------------------------------------


async def linked_user(update: Update) -> User | None:
    """The account linked to the Telegram user who sent ``update`` (None before /start and the shared contact)."""
    if update.effective_user is None:
        return None
    return await run_sync(state.linked_user, update.effective_user.id)


async def run_as(user: User, action: Callable[..., Reply], /, **kwargs: Any) -> Reply:
    """``action(user=user, **kwargs)`` on a thread (and a database connection) of its own (``isolated``: two
    workers' presses run in parallel and race in the database, as the staffing services expect), in the language
    the handler speaks (``bot_handler`` activated it)."""
    language = translation.get_language() or settings.LANGUAGE_CODE

    def call() -> Reply:
        with translation.override(language):
            return action(user=user, **kwargs)

    return await run_sync(call, isolated=True)


async def _check_out_await(update: Update, *, on: bool) -> None:
    """The one piece of flow state (in the database): after /checkout the next shared location checks out;
    /checkin clears it."""
    if update.effective_user is None:
        return
    if on:
        await run_sync(state.flow_set, update.effective_user.id, CHECK_OUT_FLOW, {}, step="await_location")
    else:
        await run_sync(state.flow_clear, update.effective_user.id, CHECK_OUT_FLOW)


async def _check_out_awaited(update: Update) -> bool:
    """Whether a check-out waits for this location (the location consumes it)."""
    if update.effective_user is None:
        return False
    found = await run_sync(state.flow_get, update.effective_user.id, CHECK_OUT_FLOW)
    if found is not None:
        await run_sync(state.flow_clear, update.effective_user.id, CHECK_OUT_FLOW)
    return found is not None


# --- sending ---------------------------------------------------------------------------------------------------


def inline_markup(markup: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    """A PTB keyboard from the Bot API's JSON form (the staffing services build that form)."""
    if not markup:
        return None
    return keyboards.inline([(b["text"], b["callback_data"]) for b in row] for row in markup.get("inline_keyboard", []))


async def _send(
    update: Update, context: ContextTypes.DEFAULT_TYPE, out: Reply, *, remove_keyboard: bool = False
) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    for text, markup in out.messages:
        keyboard: Any = inline_markup(markup)
        if keyboard is None and remove_keyboard:
            keyboard = ReplyKeyboardRemove()
        await context.bot.send_message(chat_id=chat.id, text=text, reply_markup=keyboard)


async def _answer_button(query: CallbackQuery, out: Reply) -> None:
    """Answer the press, then update the message it hangs on: its status line, and its buttons (gone unless kept)."""
    await answer_toast(query, out.answer or "", alert=out.alert)
    if out.keep_markup:
        return
    message = query.message
    markup = inline_markup(out.markup)
    try:
        if out.status and isinstance(message, Message) and message.text:
            await query.edit_message_text(text=f"{message.text}\n\n{out.status}", reply_markup=markup)
        else:
            await query.edit_message_reply_markup(reply_markup=markup)
    except BadRequest as exc:  # "message is not modified", or a message too old to edit: the answer went already
        logger.info("worker button: message not edited (%s)", exc.message)


async def _button(update: Update, parse: Callable[[str | None], Any], act: Callable[[User, Any], Any]) -> None:
    """A press: who is pressing (from Telegram, never from the data), the data's shape, then the action. Data we
    could not have produced answers exactly like a forged id or a stale button."""
    query = update.callback_query
    if query is None:
        return
    user = await linked_user(update)
    if user is None:
        await answer_toast(query, texts.not_linked(), alert=True)
        return
    try:
        parsed = parse(query.data)
    except callbacks.MalformedCallback:
        out = Reply(answer=actions.not_available())
    else:
        out = await act(user, parsed)
    await _answer_button(query, out)


# --- buttons ---------------------------------------------------------------------------------------------------


def _parse_offer(data: str | None) -> tuple[str, int]:
    parsed = callbacks.parse(data, prefix="offer", actions=OFFER_ACTIONS)
    return parsed.action, parsed.int_arg(0)


def _parse_confirm(data: str | None) -> tuple[int, bool]:
    parsed = callbacks.parse(data, prefix="shift", actions=CONFIRM_ACTIONS)
    return parsed.int_arg(0), parsed.str_arg(1, choices={"yes", "no"}) == "yes"


def _parse_day(data: str | None) -> tuple[dt.date, bool]:
    parsed = callbacks.parse(data, prefix=AVAIL_PREFIX, actions={AVAIL_SET: 2})
    try:
        day = dt.datetime.strptime(parsed.str_arg(0), "%Y%m%d").date()
    except ValueError as exc:
        raise callbacks.MalformedCallback("not a day") from exc
    return day, parsed.str_arg(1, choices={"0", "1"}) == "1"


@bot_handler
async def on_offer_button(update: Update, context: Context) -> None:
    """``offer:accept:<id>`` / ``offer:decline:<id>`` under a call-up."""

    async def act(user: User, parsed: tuple[str, int]) -> Reply:
        action, offer_id = parsed
        return await run_as(user, actions.offer_answer, action=action, offer_id=offer_id)

    await _button(update, _parse_offer, act)


@bot_handler
async def on_confirm_button(update: Update, context: Context) -> None:
    """``shift:confirm:<id>:yes|no`` under the day-before question (and in "my shifts")."""

    async def act(user: User, parsed: tuple[int, bool]) -> Reply:
        offer_id, come = parsed
        return await run_as(user, actions.confirmation_reply, offer_id=offer_id, come=come)

    await _button(update, _parse_confirm, act)


@bot_handler
async def on_availability_button(update: Update, context: Context) -> None:
    """``wa:set:<yyyymmdd>:<1 free | 0 not free>`` in the availability keyboard."""

    async def act(user: User, parsed: tuple[dt.date, bool]) -> Reply:
        day, free = parsed
        return await run_as(user, actions.availability_switch, day=day, free=free)

    await _button(update, _parse_day, act)


# --- commands --------------------------------------------------------------------------------------------------


async def _command(update: Update, context: Context, action: Callable[..., Reply]) -> None:
    user = await linked_user(update)
    if user is None:
        await reply(update, texts.not_linked())
        return
    await _send(update, context, await run_as(user, action))


@bot_handler
async def on_offers(update: Update, context: Context) -> None:
    await _command(update, context, actions.open_offers)


@bot_handler
async def on_shifts(update: Update, context: Context) -> None:
    await _command(update, context, actions.my_shifts)


@bot_handler
async def on_earnings(update: Update, context: Context) -> None:
    await _command(update, context, actions.earnings)


@bot_handler
async def on_rating(update: Update, context: Context) -> None:
    await _command(update, context, actions.rating)


@bot_handler
async def on_availability(update: Update, context: Context) -> None:
    await _command(update, context, actions.availability)


async def _ask_location(update: Update, context: Context, *, checking_out: bool) -> None:
    user = await linked_user(update)
    if user is None:
        await reply(update, texts.not_linked())
        return
    await _check_out_await(update, on=checking_out)
    if checking_out:
        text = _("Share your location at the site to check out.")
    else:
        text = _(
            "Share your location at the site to check in. With a live location you are checked in as soon as you "
            "are near the site."
        )
    await reply(update, text, reply_markup=keyboards.share_location(_("Share my location")))


@bot_handler
async def on_check_in(update: Update, context: Context) -> None:
    await _ask_location(update, context, checking_out=False)


@bot_handler
async def on_check_out(update: Update, context: Context) -> None:
    await _ask_location(update, context, checking_out=True)


@bot_handler
async def on_location(update: Update, context: Context) -> None:
    """A shared location (or a live location moving, which arrives as an edited message): check in, or check out
    after /checkout. A moving live location speaks only when it checks the worker in."""
    message = update.effective_message
    if message is None or message.location is None:
        return
    moving = update.edited_message is not None
    user = await linked_user(update)
    if user is None:
        if not moving:
            await reply(update, texts.not_linked())
        return
    point = {"latitude": message.location.latitude, "longitude": message.location.longitude}
    if not moving and await _check_out_awaited(update):
        answer = await run_as(user, actions.check_out, **point)
    else:
        answer = await run_as(user, actions.check_in, quiet=moving, **point)
    await _send(update, context, answer, remove_keyboard=True)


# --- the main menu (core shows it after linking, worker entries to workers) -----------------------------------

MENU_PREFIX = "wm"
#: Menu entry -> caption; each entry does what the command of that name does.
MENU_ITEMS: dict[str, Any] = {
    "offers": gettext_lazy("My offers"),
    "shifts": gettext_lazy("My shifts"),
    "checkin": gettext_lazy("Check in"),
    "earnings": gettext_lazy("Earnings"),
    "rating": gettext_lazy("My rating"),
    "availability": gettext_lazy("When I can work"),
}
LIST_ACTIONS: dict[str, Callable[..., Reply]] = {
    "offers": actions.open_offers,
    "shifts": actions.my_shifts,
    "earnings": actions.earnings,
    "rating": actions.rating,
    "availability": actions.availability,
}


@bot_handler
async def on_menu_button(update: Update, context: Context) -> None:
    """``wm:<entry>``: a main-menu press does what the command of the same name does."""
    query = update.callback_query
    if query is None:
        return
    entry = callbacks.parse(query.data, prefix=MENU_PREFIX, actions=dict.fromkeys(MENU_ITEMS, 0)).action
    await answer_toast(query, "")
    if entry == "checkin":
        await _ask_location(update, context, checking_out=False)
    else:
        await _command(update, context, LIST_ACTIONS[entry])


HELP_LINES = (
    gettext_lazy("/offers: open work offers"),
    gettext_lazy("/shifts: my shifts"),
    gettext_lazy("/checkin, /checkout: share your location at the site"),
    gettext_lazy("/earnings: what I earned this month"),
    gettext_lazy("/rating: my rating and why it changed"),
    gettext_lazy("/availability: when I can work in the coming days"),
)


# --- registration ----------------------------------------------------------------------------------------------

COMMANDS: dict[str, Callable[[Update, Context], Any]] = {
    "offers": on_offers,
    "shifts": on_shifts,
    "checkin": on_check_in,
    "checkout": on_check_out,
    "earnings": on_earnings,
    "rating": on_rating,
    "availability": on_availability,
}


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the worker handlers to ``application`` (called by ``bots.handlers.register_all`` after the core)."""
    for name, callback in COMMANDS.items():
        application.add_handler(CommandHandler(name, callback))
    application.add_handler(CallbackQueryHandler(on_offer_button, pattern=callbacks.pattern("offer")))
    application.add_handler(CallbackQueryHandler(on_confirm_button, pattern=callbacks.pattern("shift")))
    application.add_handler(CallbackQueryHandler(on_availability_button, pattern=callbacks.pattern(AVAIL_PREFIX)))
    application.add_handler(CallbackQueryHandler(on_menu_button, pattern=callbacks.pattern(MENU_PREFIX)))
    application.add_handler(MessageHandler(filters.LOCATION, on_location))
    for order, (entry, caption) in enumerate(MENU_ITEMS.items(), start=500):
        menu_add(caption, callbacks.encode(MENU_PREFIX, entry), audience="worker", order=order)
    for order, line in enumerate(HELP_LINES, start=500):
        help_add(line, order=order)


__all__ = ["COMMANDS", "inline_markup", "linked_user", "register", "run_as"]
