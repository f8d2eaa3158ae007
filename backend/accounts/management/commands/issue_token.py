"""``manage.py issue_token --phone +7... [--create] [--refresh]``: a bearer token for administrators and tools."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts.management.operator import os_operator
from backend.accounts.selectors import user_by_phone
from backend.accounts.services import user_get_or_create_by_phone
from backend.accounts.tokens import token_pair_issue_by_operator
from backend.core.exceptions import ValidationFailed
from backend.core.phones import phone_normalize


class Command(BaseCommand):
    help = (
        "Print a bearer access token for the user with this phone (first line); with --refresh also a refresh "
        "token (second line). --create makes a customer user when the phone is unknown."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--phone", required=True, help="the user's phone, international format (+7...)")
        parser.add_argument("--create", action="store_true", help="create a customer user if the phone is unknown")
        parser.add_argument("--refresh", action="store_true", help="also print a refresh token on a second line")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            phone = phone_normalize(options["phone"])
        except ValidationFailed as exc:
            raise CommandError(exc.message) from None
        user = user_by_phone(phone=phone)
        if user is None:
            if not options["create"]:
                raise CommandError(f"No user has the phone {phone}. Pass --create to create a customer user.")
            user, _created = user_get_or_create_by_phone(phone=phone)
            self.stderr.write(f"Created customer user #{user.pk}.")
        if not user.is_active:
            raise CommandError(f"User #{user.pk} is disabled; no token issued.")
        pair = token_pair_issue_by_operator(user=user, issued_by=os_operator(), user_agent="issue_token")
        # Only the tokens go to stdout, so scripts can capture them: TOKEN=$(manage.py issue_token --phone ...)
        self.stdout.write(pair.access_token)
        if options["refresh"]:
            self.stdout.write(pair.refresh_token)
