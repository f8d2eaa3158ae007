"""Customer handlers: book (branch → services → master or "any" → day → slot → confirm), my bookings, cancel, move,
the waiting list, the reminders' Confirm / Cancel, the 1-10 rating and its comment, waiting-list offers.

Thin: each handler resolves the caller from the Telegram user (never from the button), loads the flow's state from
the database (``bots.state``), runs one step of ``customers_flow`` in a worker thread (``sync_to_async``: the steps
call the synchronous booking services) and shows the ``Screen`` it returns — by editing the pressed message, or with
a new one. A step that finds the button's object gone or not the caller's answers as a stale button (a toast, and
the dead keyboard removed): the same for a forged id as for an old one.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bots import callbacks, keyboards
from bots.handlers.base import Context, StaleButton, answer_toast, bot_handler
from bots.handlers.customers_flow import BOOK_FLOW, REVIEW_FLOW, Customer, State
from bots.handlers.customers_screens import Screen

from . import customers_flow as flow
from . import customers_screens as screens

logger = logging.getLogger("bots")

#: The handler group of the free-text handler (the rating comment): after the core's, so /commands and contacts
#: are theirs first.
TEXT_GROUP = 5


# --- the caller and their state (the framework's store) -------------------------------------------------------


def _customer(telegram_user_id: int) -> Customer | None:
    from bots import state

    found = state.linked_customer(telegram_user_id)
    if found is None:
        return None
    user, organization_id, branch_id = found
    return Customer(user=user, organization_id=organization_id, branch_id=branch_id)


def _state_get(telegram_user_id: int, name: str) -> State | None:
    from bots import state

    return state.flow_get(telegram_user_id, name)


def _state_put(telegram_user_id: int, name: str, value: State | None) -> None:
    from bots import state

    if value is None:
        state.flow_clear(telegram_user_id, name)
    else:
        state.flow_set(telegram_user_id, name, value)


# --- showing a screen ------------------------------------------------------------------------------------------


async def _show(update: Update, screen: Screen) -> None:
    """Show ``screen``: answer the press, then edit the pressed message (or send a new one)."""
    if screen.stale:
        raise StaleButton()  # the framework's one wording for every stale or forged button
    markup = keyboards.inline(screen.rows) if screen.rows else None
    query = update.callback_query
    if query is not None:
        await answer_toast(query, screen.toast or "")
        if not screen.new_message and query.message is not None:
            try:
                await query.edit_message_text(screen.text, reply_markup=markup)
                return
            except BadRequest as exc:  # an old message Telegram no longer lets us edit: say it anew
                logger.info("customer screen sent anew: %s", exc.message)
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(screen.text, reply_markup=markup)


async def _caller(update: Update) -> tuple[int, Customer] | None:
    """The Telegram user id and the customer behind it; None (after telling them to link) when not linked."""
    tg = update.effective_user
    if tg is None:
        return None
    who = await sync_to_async(_customer)(tg.id)
    if who is None:
        await _show(update, screens.not_linked())
        return None
    return tg.id, who


# --- booking ---------------------------------------------------------------------------------------------------


def _book_sync(tg_id: int, who: Customer, data: str) -> Screen:
    state = _state_get(tg_id, BOOK_FLOW)
    screen, new_state = flow.booking_step(who, state, data)
    if new_state != state:
        _state_put(tg_id, BOOK_FLOW, new_state)
    return screen


@bot_handler
async def book_command(update: Update, context: Context) -> None:
    """/book: start a booking."""
    caller = await _caller(update)
    if caller is not None:
        screen = await sync_to_async(_book_sync)(*caller, "cb:start")
        await _show(update, Screen(screen.text, screen.rows, new_message=True, stale=screen.stale))


@bot_handler
async def book_pressed(update: Update, context: Context) -> None:
    """A ``cb:`` button of the booking flow."""
    query = update.callback_query
    assert query is not None
    data = callbacks.parse(query.data, prefix="cb").encode()
    caller = await _caller(update)
    if caller is not None:
        await _show(update, await sync_to_async(_book_sync)(*caller, data))


# --- my bookings, moving a visit ---------------------------------------------------------------------------------


@bot_handler
async def my_command(update: Update, context: Context) -> None:
    """/my: the upcoming visits."""
    caller = await _caller(update)
    if caller is not None:
        screen = await sync_to_async(flow.my_visits)(caller[1])
        await _show(update, Screen(screen.text, screen.rows, new_message=True))


@bot_handler
async def my_pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    data = callbacks.parse(query.data, prefix="cm").encode()
    caller = await _caller(update)
    if caller is not None:
        await _show(update, await sync_to_async(flow.my_step)(caller[1], data))


@bot_handler
async def move_pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    data = callbacks.parse(query.data, prefix="cr").encode()
    caller = await _caller(update)
    if caller is not None:
        await _show(update, await sync_to_async(flow.move_step)(caller[1], data))


# --- the appointment's buttons: reminders, cancel, rating ----------------------------------------------------------


def _appointment_sync(tg_id: int, who: Customer, data: str) -> Screen:
    screen, awaited = flow.appointment_step(who, data)
    if awaited is not None:
        _state_put(tg_id, REVIEW_FLOW, awaited)
    elif data.startswith("appt:nc:"):
        _state_put(tg_id, REVIEW_FLOW, None)
    return screen


@bot_handler
async def appointment_pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    data = callbacks.parse(query.data, prefix="appt").encode()
    caller = await _caller(update)
    if caller is not None:
        await _show(update, await sync_to_async(_appointment_sync)(*caller, data))


def _comment_sync(tg_id: int, who: Customer, text: str) -> Screen | None:
    awaited = _state_get(tg_id, REVIEW_FLOW)
    if awaited is None:
        return None
    _state_put(tg_id, REVIEW_FLOW, None)
    return flow.review_comment(who, awaited, text)


@bot_handler
async def text_sent(update: Update, context: Context) -> None:
    """Free text: the comment of a rating just given (anything else is not ours)."""
    message = update.effective_message
    tg = update.effective_user
    if message is None or tg is None or not message.text:
        return
    who = await sync_to_async(_customer)(tg.id)
    if who is None:
        return
    screen = await sync_to_async(_comment_sync)(tg.id, who, message.text)
    if screen is not None:
        await _show(update, screen)


# --- waiting-list offers -----------------------------------------------------------------------------------------


@bot_handler
async def offer_pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    data = callbacks.parse(query.data, prefix="wl").encode()
    caller = await _caller(update)
    if caller is not None:
        await _show(update, await sync_to_async(flow.offer_step)(caller[1], data))


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the customer handlers to ``application``."""
    application.add_handler(CommandHandler("book", book_command))
    application.add_handler(CommandHandler("my", my_command))
    application.add_handler(CallbackQueryHandler(book_pressed, pattern=callbacks.pattern("cb")))
    application.add_handler(CallbackQueryHandler(my_pressed, pattern=callbacks.pattern("cm")))
    application.add_handler(CallbackQueryHandler(move_pressed, pattern=callbacks.pattern("cr")))
    application.add_handler(CallbackQueryHandler(appointment_pressed, pattern=callbacks.pattern("appt")))
    application.add_handler(CallbackQueryHandler(offer_pressed, pattern=callbacks.pattern("wl")))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, text_sent), group=TEXT_GROUP)


__all__ = ["register"]
