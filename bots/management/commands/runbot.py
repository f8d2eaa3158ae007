"""``manage.py runbot``: the Telegram bot in polling mode (``--set-webhook URL`` switches Telegram to webhook mode)."""

from __future__ import annotations

import asyncio
import signal
from argparse import ArgumentParser
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bots.app import build_application
from bots.polling import serve_polling


def demo_links(bot_username: str, *, limit: int = 5) -> list[str]:
    """Deep links to print in development: the live ones, or one made for the first organization."""
    from backend.accounts.models import TelegramDeepLink
    from backend.accounts.telegram import telegram_deep_link_create, telegram_deep_link_url
    from backend.organizations.models import Organization

    links = list(TelegramDeepLink.objects.filter(revoked_at__isnull=True).order_by("pk")[:limit])
    if not links:
        first = Organization.objects.order_by("pk").first()
        if first is None:
            return []
        links = [telegram_deep_link_create(actor=None, organization_id=first.pk, label="demo")]
    return [f"{telegram_deep_link_url(link, bot_username)}  ({link.organization})" for link in links]


class Command(BaseCommand):
    help = "Run the Telegram bot by polling getUpdates (Ctrl-C / SIGTERM stops it gracefully)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--drop-pending", action="store_true", help="discard updates queued while stopped")
        parser.add_argument(
            "--set-webhook",
            metavar="BASE_URL",
            help="instead of polling: point Telegram at BASE_URL/telegram/webhook/<path>/ and exit",
        )
        parser.add_argument("--delete-webhook", action="store_true", help="remove the webhook and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.TELEGRAM_BOT_TOKEN:
            raise CommandError("TELEGRAM_BOT_TOKEN is not set")
        if options["set_webhook"]:
            asyncio.run(self._set_webhook(options["set_webhook"]))
            return
        if options["delete_webhook"]:
            asyncio.run(self._delete_webhook())
            return
        asyncio.run(self._poll(drop_pending=options["drop_pending"]))

    async def _poll(self, *, drop_pending: bool) -> None:
        application = build_application()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await application.initialize()  # getMe: the username for the banner
        username = application.bot.username
        self.stdout.write(f"Telegram bot @{username}: polling (Ctrl-C stops)")
        if settings.DEBUG:
            for url in await sync_to_async(demo_links)(username):
                self.stdout.write(f"  try it: {url}")
        await serve_polling(application, stop, drop_pending_updates=drop_pending)
        self.stdout.write("Telegram bot stopped")

    async def _set_webhook(self, base_url: str) -> None:
        from bots.webhook import webhook_url

        if not settings.TELEGRAM_WEBHOOK_SECRET:
            raise CommandError("TELEGRAM_WEBHOOK_SECRET is not set")
        application = build_application(with_updater=False)
        async with application:
            url = webhook_url(base_url)
            await application.bot.set_webhook(url, secret_token=settings.TELEGRAM_WEBHOOK_SECRET)
        self.stdout.write(f"webhook set: {base_url.rstrip('/')}/telegram/webhook/<path>/")

    async def _delete_webhook(self) -> None:
        application = build_application(with_updater=False)
        async with application:
            await application.bot.delete_webhook()
        self.stdout.write("webhook deleted")
