"""``python manage.py seed_demo``: load (or refresh) the demo world and print the logins."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.core.exceptions import ApplicationError
from backend.demo.services import DEMO_ADMIN_PHONE, demo_world_seed


class Command(BaseCommand):
    help = (
        "Load the demo world (idempotent) and print the demo logins. The back-office password is random and shown "
        "only when it is created or reset (--reset-admin-password). Refuses to run with DEBUG off unless "
        "--allow-production is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="seed even though DEBUG is off (the demo superuser and people then exist in that database)",
        )
        parser.add_argument(
            "--reset-admin-password",
            action="store_true",
            help="give the demo back-office login a new random password and print it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            # A demo superuser and well-known phones in a real database would be a way in.
            raise CommandError(
                "DEBUG is off: this looks like a production database, and the demo world adds a superuser and "
                "demo staff to it. Nothing was written. Run with DEBUG=1 for a demo, or pass --allow-production "
                "if you really want the demo world here."
            )
        self.stdout.write("Seeding the demo world ...")
        try:
            report = demo_world_seed(reset_admin_password=options["reset_admin_password"])
        except ApplicationError as exc:
            raise CommandError(f"The demo world could not be seeded: {exc.message}") from None
        for org in report.organizations:
            self.stdout.write(f"  organization: {org.name} ({org.get_kind_display()}, {org.branches.count()} branches)")
        for key, count in report.extras.items():
            self.stdout.write(f"  {key}: {count}")
        self.stdout.write(self.style.SUCCESS("Demo world ready."))
        self.stdout.write("")
        if report.admin_password is not None:
            self.stdout.write(f"  Back office: phone {DEMO_ADMIN_PHONE}  password {report.admin_password}")
            self.stdout.write(
                "  (shown only now: note it; a new one: python manage.py seed_demo --reset-admin-password)"
            )
        else:
            self.stdout.write(
                f"  Back office: phone {DEMO_ADMIN_PHONE}, password as printed when it was created "
                "(forgot it? python manage.py seed_demo --reset-admin-password)"
            )
        self.stdout.write("  API users (get a token: python manage.py issue_token --phone PHONE):")
        for person, _user in report.people:
            self.stdout.write(f"    {person.phone:<14} {person.role:<10} {person.organization}")
