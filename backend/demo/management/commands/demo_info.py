"""``python manage.py demo_info [--host H] [--port P]``: where everything is, and a token for every role."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.demo.services import DEMO_ADMIN_PHONE, JOURNAL_PATH, LIVE_BOARD_PATH, demo_tokens_issue


class Command(BaseCommand):
    help = (
        "Print the demo's addresses (API docs, back office, live order board), a fresh bearer token for one demo "
        "person of every role and how to connect a real Telegram bot. Needs the demo world (seed_demo)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--allow-production", action="store_true", help="issue tokens even though DEBUG is off")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("DEBUG is off: demo tokens are not issued on what looks like a production database.")
        try:
            tokens = demo_tokens_issue()
        except LookupError:
            raise CommandError("The demo world is missing: run python manage.py seed_demo first.") from None
        base = f"http://{options['host']}:{options['port']}"
        w = self.stdout.write
        w("")
        w(self.style.SUCCESS("Brigada demo is ready"))
        w(f"  API docs:          {base}/api/v1/docs")
        w(f"  Back office:       {base}/admin/  (phone {DEMO_ADMIN_PHONE}, password as printed by seed_demo;")
        w("                     a new one: python manage.py seed_demo --reset-admin-password)")
        w(f"  Live order board:  {base}{LIVE_BOARD_PATH}")
        w(f"  Booking journal:   {base}{JOURNAL_PATH}")
        w("  Bearer tokens (15 minutes; a new one: python manage.py issue_token --phone PHONE):")
        for token in tokens:
            w(f"    {token.role:<10} {token.phone:<14} {token.organization}")
            w(f"      Authorization: Bearer {token.access_token}")
        w(f"  Try it:  curl -H 'Authorization: Bearer <customer token>' {base}/api/v1/me")
        bot = "set" if os.environ.get("TELEGRAM_BOT_TOKEN") else "not set"
        w(f"  Telegram: TELEGRAM_BOT_TOKEN is {bot}. To connect a real bot, create one with @BotFather, then")
        w("            TELEGRAM_BOT_TOKEN=<token> make demo  (the README's Telegram section has the details)")
        w("  Simulate more days: python manage.py simulate --days 7")
        w("  Notebooks: make notebooks  (exports the warehouse to notebooks/warehouse and opens JupyterLab)")
