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

from django.utils.translation import gettext_lazy
from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from backend.booking.customer_selectors import customer_origin
from bots import callbacks, keyboards, state, texts
from bots.handlers.base import Context, StaleButton, answer_toast, bot_handler, help_add, menu_add, run_sync
from bots.handlers.customers_flow import BOOK_FLOW, REVIEW_FLOW, Customer, State
from bots.handlers.customers_screens import Screen

from . import customers_flow as flow

logger = logging.getLogger("bots")

#: The handler group of the free-text handler (the rating comment): after the core's, so /commands and contacts
#: are theirs first.
TEXT_GROUP = 5


# --- the caller and their state (the framework's store) -------------------------------------------------------


def _customer(telegram_user_id: int) -> Customer | None:
    """The linked account behind the Telegram user, and the organization (branch) of the last link they followed;
    without one, the organization whose client they are (``customer_selectors.customer_origin``)."""
    linked = state.linked_customer(telegram_user_id)
    if linked is None:
        return None
    organization_id, branch_id = linked.organization_id, linked.branch_id
    if organization_id is None:
        organization_id, branch_id = customer_origin(linked.user)
    return Customer(user=linked.user, organization_id=organization_id, branch_id=branch_id)


async def _state_get(telegram_user_id: int, name: str) -> tuple[State | None, int | None]:
    """The flow's state and its version (for the conditional write that follows)."""
    snapshot = await run_sync(state.flow_get, telegram_user_id, name)
    return (snapshot.data, snapshot.version) if snapshot is not None else (None, None)


async def _state_put(telegram_user_id: int, name: str, value: State | None, *, version: int | None = None) -> None:
    """Write (or clear) the flow's state; a press that lost a race with another press of the same user (two taps at
    once, two processes) is answered as a stale button, and its step is not kept."""
    if value is None:
        await run_sync(state.flow_clear, telegram_user_id, name)
        return
    try:
        await run_sync(state.flow_set, telegram_user_id, name, value, expected_version=version)
    except state.FlowConflict as exc:
        raise StaleButton() from exc


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
    """The Telegram user id and the customer behind it; None (after asking them to link) when not linked."""
    tg = update.effective_user
    if tg is None:
        return None
    who = await run_sync(_customer, tg.id)
    if who is None:
        await _show(update, Screen(texts.not_linked(), toast=texts.not_linked(), new_message=True))
        return None
    return tg.id, who


def _pressed(update: Update, prefix: str) -> str:
    """The pressed button's data, its shape checked (``MalformedCallback`` is answered as a stale button)."""
    query = update.callback_query
    assert query is not None
    return callbacks.parse(query.data, prefix=prefix).encode()


# --- booking ---------------------------------------------------------------------------------------------------


async def _book(update: Update, data: str, *, new_message: bool = False) -> None:
    caller = await _caller(update)
    if caller is None:
        return
    tg_id, who = caller
    current, version = await _state_get(tg_id, BOOK_FLOW)
    screen, new_state = await run_sync(flow.booking_step, who, current, data)
    if new_state != current:
        await _state_put(tg_id, BOOK_FLOW, new_state, version=version)
    if new_message:
        screen = Screen(screen.text, screen.rows, new_message=True, stale=screen.stale)
    await _show(update, screen)


@bot_handler
async def book_command(update: Update, context: Context) -> None:
    """/book: start a booking."""
    await _book(update, "cb:start", new_message=True)


@bot_handler
async def book_pressed(update: Update, context: Context) -> None:
    """A ``cb:`` button of the booking flow."""
    await _book(update, _pressed(update, "cb"))


# --- my bookings, moving a visit ---------------------------------------------------------------------------------


@bot_handler
async def my_command(update: Update, context: Context) -> None:
    """/my: the upcoming visits."""
    caller = await _caller(update)
    if caller is not None:
        screen = await run_sync(flow.my_visits, caller[1])
        await _show(update, Screen(screen.text, screen.rows, new_message=True))


@bot_handler
async def my_pressed(update: Update, context: Context) -> None:
    data = _pressed(update, "cm")
    caller = await _caller(update)
    if caller is not None:
        await _show(update, await run_sync(flow.my_step, caller[1], data))


@bot_handler
async def move_pressed(update: Update, context: Context) -> None:
    data = _pressed(update, "cr")
    caller = await _caller(update)
    if caller is not None:
        await _show(update, await run_sync(flow.move_step, caller[1], data))


# --- the appointment's buttons: reminders, cancel, rating ----------------------------------------------------------


@bot_handler
async def appointment_pressed(update: Update, context: Context) -> None:
    data = _pressed(update, "appt")
    caller = await _caller(update)
    if caller is None:
        return
    tg_id, who = caller
    screen, awaited = await run_sync(flow.appointment_step, who, data)
    if awaited is not None:
        await _state_put(tg_id, REVIEW_FLOW, awaited)
    elif data.startswith("appt:nc:"):
        await _state_put(tg_id, REVIEW_FLOW, None)
    await _show(update, screen)


@bot_handler
async def text_sent(update: Update, context: Context) -> None:
    """Free text: the comment of a rating just given (anything else is not ours)."""
    message, tg = update.effective_message, update.effective_user
    if message is None or tg is None or not message.text:
        return
    awaited, _version = await _state_get(tg.id, REVIEW_FLOW)
    if awaited is None:
        return
    who = await run_sync(_customer, tg.id)
    if who is None:
        return
    await _state_put(tg.id, REVIEW_FLOW, None)
    await _show(update, await run_sync(flow.review_comment, who, awaited, message.text))


# --- waiting-list offers -----------------------------------------------------------------------------------------


@bot_handler
async def offer_pressed(update: Update, context: Context) -> None:
    data = _pressed(update, "wl")
    caller = await _caller(update)
    if caller is not None:
        await _show(update, await run_sync(flow.offer_step, caller[1], data))


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the customer handlers to ``application`` (and the customer's entries of the main menu)."""
    menu_add(gettext_lazy("Book a visit"), "cb:start", audience="customer", order=10)
    menu_add(gettext_lazy("My bookings"), "cm:l", audience="customer", order=20)
    help_add(gettext_lazy("/book: book a visit"), order=10)
    help_add(gettext_lazy("/my: my bookings (move or cancel a visit)"), order=20)
    application.add_handler(CommandHandler("book", book_command))
    application.add_handler(CommandHandler("my", my_command))
    application.add_handler(CallbackQueryHandler(book_pressed, pattern=callbacks.pattern("cb")))
    application.add_handler(CallbackQueryHandler(my_pressed, pattern=callbacks.pattern("cm")))
    application.add_handler(CallbackQueryHandler(move_pressed, pattern=callbacks.pattern("cr")))
    application.add_handler(CallbackQueryHandler(appointment_pressed, pattern=callbacks.pattern("appt")))
    application.add_handler(CallbackQueryHandler(offer_pressed, pattern=callbacks.pattern("wl")))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, text_sent), group=TEXT_GROUP)


__all__ = ["register"]
