"""``python manage.py seed_demo``: load (or refresh) the demo world and print the logins."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from backend.demo.services import DEMO_ADMIN_PASSWORD, DEMO_ADMIN_PHONE, demo_world_seed


class Command(BaseCommand):
    help = "Load the demo world (idempotent) and print the demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("Seeding the demo world ...")
        report = demo_world_seed()
        for org in report.organizations:
            self.stdout.write(
                f"  organization: {org.name} ({org.get_kind_display()}, {org.branches.count()} branches)"
            )
        for key, count in report.extras.items():
            self.stdout.write(f"  {key}: {count}")
        self.stdout.write(self.style.SUCCESS("Demo world ready."))
        self.stdout.write("")
        self.stdout.write(f"  Back office: phone {DEMO_ADMIN_PHONE}  password {DEMO_ADMIN_PASSWORD}")
        self.stdout.write("  API users (get a token: python manage.py issue_token --phone PHONE):")
        for person, _user in report.people:
            self.stdout.write(f"    {person.phone:<14} {person.role:<10} {person.organization}")
