"""``manage.py telegram_link --organization ID [--branch ID] [--label TEXT]``: create a deep link and print it."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backend.accounts.telegram import telegram_deep_link_create, telegram_deep_link_url
from backend.core.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Create a t.me deep link of an organization (optionally one branch) and print it."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--organization", type=int, required=True)
        parser.add_argument("--branch", type=int)
        parser.add_argument("--source", type=int, help="client source recorded on clients joining by it")
        parser.add_argument("--label", default="")
        parser.add_argument("--bot-username", default="", help="the bot's @username (else a placeholder)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            link = telegram_deep_link_create(
                actor=None,
                organization_id=options["organization"],
                branch_id=options["branch"],
                source_id=options["source"],
                label=options["label"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(telegram_deep_link_url(link, options["bot_username"] or "<your_bot>"))
