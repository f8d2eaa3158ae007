"""Polling mode (``manage.py runbot``, and ``make demo`` through ``runstack``): getUpdates in a loop until stopped.

``deleteWebhook`` first (Telegram refuses getUpdates while a webhook is set); updates pending from before are
kept, not dropped: the database dedup makes a second delivery harmless. Stopping is graceful: the current update
finishes, the offset of the processed ones is confirmed, the HTTP clients are closed.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.ext import Application

logger = logging.getLogger("bots")

POLL_TIMEOUT = 25  # seconds a getUpdates call waits on Telegram's side for an update


async def serve_polling(
    application: Application,  # type: ignore[type-arg]
    stop: asyncio.Event,
    *,
    poll_timeout: int = POLL_TIMEOUT,
    drop_pending_updates: bool = False,
) -> None:
    """Run ``application`` on getUpdates until ``stop`` is set."""
    assert application.updater is not None, "build the application with_updater=True for polling"
    await application.initialize()
    try:
        await application.bot.delete_webhook(drop_pending_updates=drop_pending_updates)
        await application.updater.start_polling(
            timeout=poll_timeout,
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=drop_pending_updates,
        )
        await application.start()
        logger.info("bot polling as @%s", application.bot.username)
        await stop.wait()
    finally:
        if application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        logger.info("bot stopped")
