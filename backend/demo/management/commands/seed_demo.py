"""``python manage.py seed_demo``: load (or refresh) the demo world and print the logins."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.core.exceptions import ApplicationError
from backend.core.progress import Progress
from backend.demo.services import DEMO_ADMIN_PHONE, demo_world_build
from backend.demo.world import SIZES, history_start


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
            "--size",
            choices=sorted(SIZES),
            default="small",
            help="how big the world is (small: 2,000 workers, 8,000 salon clients...; tiny is for tests)",
        )
        parser.add_argument(
            "--history-days",
            type=int,
            default=None,
            help="days of simulated history before today (default: the size's, about 18 months; 0 for none)",
        )
        parser.add_argument("--seed", type=int, default=7, help="the simulated people's hidden traits' seed")
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
        started, cpu = time.monotonic(), time.process_time()
        self.stdout.write(f"Seeding the demo world ({options['size']}) ...")
        try:
            world = demo_world_build(
                size=options["size"], stream=self.stdout, reset_admin_password=options["reset_admin_password"]
            )
        except ApplicationError as exc:
            raise CommandError(f"The demo world could not be seeded: {exc.message}") from None
        self.stdout.write(f"  world: {time.monotonic() - started:.1f}s wall, {time.process_time() - cpu:.1f}s CPU")
        report = world.seed
        history = self._history(options)
        built = time.monotonic() - started
        if world.events_written == 0 and not history:
            self.stdout.write("Nothing changed: the demo world was already here.")
        else:
            self.stdout.write(f"  {world.events_written} events written, {history} days of history, {built:.1f}s")
        for org in report.organizations:
            self.stdout.write(f"  organization: {org.name} ({org.get_kind_display()}, {org.branches.count()} branches)")
        for key, count in {**report.extras, **world.counts}.items():
            self.stdout.write(f"  {key}: {count} created")
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

    def _history(self, options: dict[str, Any]) -> int:
        """Simulate the history up to yesterday unless it is there already; returns the days simulated."""
        from backend.demo.simulator.engine import BOOKING_LIVE_DAYS, LIVE_DAYS, Simulation, history_exists

        size = SIZES[options["size"]]
        days = size.history_days if options["history_days"] is None else max(0, options["history_days"])
        sim = Simulation.load(seed=options["seed"], orders_per_day=size.orders_per_day)
        if not days:
            return 0
        if any(history_exists(b.organization) for b in sim.businesses):
            self.stdout.write(
                "  history: already laid down (simulate more days with: python manage.py simulate --days N)"
            )
            return 0
        today = dt.date.today()
        start = max(history_start(today, size), today - dt.timedelta(days=days))
        days = (today - start).days
        with Progress("history days", days, stream=self.stdout) as bar:
            lines = sim.run(
                start=start,
                days=days,
                each_day=lambda _line: bar.advance(),
                live_from=today - dt.timedelta(days=LIVE_DAYS),
                bookings_live_from=today - dt.timedelta(days=BOOKING_LIVE_DAYS),
            )
        last = lines[-1] if lines else None
        if last is not None:
            self.stdout.write(f"  yesterday: {last.text()}")
        for phase, (wall, cpu) in sorted(sim.timings.items(), key=lambda item: -item[1][0]):
            self.stdout.write(f"  {phase}: {wall:.1f}s wall, {cpu:.1f}s CPU")
        if sim.agency is not None and sim.agency.book is not None and sim.agency.book.solver_calls:
            book = sim.agency.book
            self.stdout.write(f"  solver (history): {book.solver_calls} plans, {book.solver_s:.1f}s")
        return days
