"""Core handlers: update dedup, /start with a deep-link payload, sharing the contact, /lang, /help.

Thin: the linking rules are in ``backend.accounts.telegram``; the chat and flow state in ``bots.state``.
"""

from __future__ import annotations

import logging

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from telegram import ReplyKeyboardRemove, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from backend.accounts.models import User
from backend.accounts.telegram import telegram_contact_link, telegram_start
from backend.core.phones import phone_mask
from backend.notifications.services import telegram_chat_unblock
from backend.staffing.models import Worker
from bots import callbacks, keyboards, state, texts
from bots.handlers.base import (
    Context,
    answer_toast,
    bot_handler,
    help_add,
    help_text,
    main_menu,
    reply,
    run_sync,
)

logger = logging.getLogger("bots")

LINK_FLOW = "link"
LANG_PREFIX = "lang"
DEDUP_GROUP = -100  # before every other handler

SHARE_CONTACT = gettext_lazy("Share my phone number")


def _chat_unblock(chat_id: int) -> None:
    """Tell the outbox the chat is reachable again (a user who blocked the bot and came back sends /start)."""
    telegram_chat_unblock(chat_id=chat_id)


async def dedup_and_touch(update: Update, context: Context) -> None:
    """Process each update once, whichever process or path (webhook, polling) it came by; remember the chat."""

    def claim() -> bool:
        if not state.update_claim(bot_id=context.bot.id, update_id=update.update_id):
            return False
        tg, chat = update.effective_user, update.effective_chat
        if tg is not None and chat is not None and chat.type == "private":
            state.chat_touch(telegram_user_id=tg.id, chat_id=chat.id, telegram_language=tg.language_code)
        return True

    if not await run_sync(claim):
        logger.info("update %s already processed: skipped", update.update_id)
        raise ApplicationHandlerStop


async def _send_menu(update: Update, text: str, *, worker: bool) -> None:
    await reply(update, text, reply_markup=main_menu(worker=worker) or ReplyKeyboardRemove())


@bot_handler
async def start(update: Update, context: Context) -> None:
    tg, chat = update.effective_user, update.effective_chat
    if tg is None or chat is None or chat.type != "private":
        return
    code = context.args[0] if context.args else None
    await run_sync(_chat_unblock, chat.id)
    result = await run_sync(telegram_start, telegram_user_id=tg.id, code=code)
    if result.link is not None:
        await run_sync(state.chat_deep_link_set, telegram_user_id=tg.id, chat_id=chat.id, link=result.link)
    if result.link_invalid:
        await reply(update, _("This link is no longer valid. Ask for a new one, or just go on."))
    if result.user is not None:
        worker = await run_sync(_is_worker, result.user)
        where = result.link.organization.name if result.link is not None else ""
        text = _("Welcome back! You are now a client of %(name)s.") % {"name": where} if where else _("Welcome back!")
        await _send_menu(update, text, worker=worker)
        return
    await run_sync(
        state.flow_set, tg.id, LINK_FLOW, {"code": result.link.code if result.link else None}, step="contact"
    )
    greeting = (
        _("Welcome to %(name)s!") % {"name": result.link.organization.name}
        if result.link is not None
        else _("Welcome to Brigada!")
    )
    await reply(
        update,
        greeting + "\n" + _("To book visits and get reminders here, share your phone number with the button below."),
        reply_markup=keyboards.share_contact(str(SHARE_CONTACT)),
    )


def _is_worker(user: User) -> bool:
    return Worker.objects.filter(user=user).exists()


@bot_handler
async def contact(update: Update, context: Context) -> None:
    message, tg = update.effective_message, update.effective_user
    if message is None or tg is None or message.contact is None:
        return
    if message.contact.user_id != tg.id:
        # Telegram vouches for a contact only when it is the sender's own card.
        await reply(
            update,
            _("Please share your own number with the button below."),
            reply_markup=keyboards.share_contact(str(SHARE_CONTACT)),
        )
        return
    pending = await run_sync(state.flow_get, tg.id, LINK_FLOW)
    code = pending.data.get("code") if pending is not None else None
    result = await run_sync(
        telegram_contact_link,
        telegram_user_id=tg.id,
        phone=message.contact.phone_number,
        first_name=tg.first_name or "",
        last_name=tg.last_name or "",
        language=texts.supported_language(tg.language_code),
        deep_link_code=code,
    )
    await run_sync(state.flow_clear, tg.id, LINK_FLOW)
    await reply(
        update,
        _("Thank you! Your number %(phone)s is linked.") % {"phone": phone_mask(result.user.phone)},
        reply_markup=ReplyKeyboardRemove(),
    )
    await _send_menu(update, _("What would you like to do?"), worker=result.is_worker)


@bot_handler
async def lang(update: Update, context: Context) -> None:
    rows = [[(name, callbacks.encode(LANG_PREFIX, "set", code))] for code, name in texts.LANGUAGE_NAMES.items()]
    await reply(update, str(texts.LANGUAGE_PROMPT), reply_markup=keyboards.inline(rows))


@bot_handler
async def lang_chosen(update: Update, context: Context) -> None:
    query, tg, chat = update.callback_query, update.effective_user, update.effective_chat
    if query is None or tg is None or chat is None:
        return
    data = callbacks.parse(query.data, prefix=LANG_PREFIX, actions={"set": 1})
    language = data.str_arg(0, choices=set(texts.SUPPORTED))
    await run_sync(state.chat_language_set, telegram_user_id=tg.id, chat_id=chat.id, language=language)
    with translation.override(language):
        done = _("Language: %(name)s") % {"name": texts.LANGUAGE_NAMES[language]}
        await answer_toast(query, done)
        await query.edit_message_text(done)


@bot_handler
async def help_command(update: Update, context: Context) -> None:
    await reply(update, help_text())


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the core handlers to ``application``."""
    help_add(gettext_lazy("/start: link your phone"), order=0)
    help_add(gettext_lazy("/lang: change the language"), order=900)
    help_add(gettext_lazy("/help: this list"), order=1000)
    application.add_handler(TypeHandler(Update, dedup_and_touch), group=DEDUP_GROUP)
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("lang", lang))
    application.add_handler(CallbackQueryHandler(lang_chosen, pattern=callbacks.pattern(LANG_PREFIX)))
    application.add_handler(MessageHandler(filters.CONTACT, contact))
