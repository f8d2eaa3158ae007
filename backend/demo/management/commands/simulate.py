"""``python manage.py simulate --days N [--start DATE] [--seed S]``: live N days of the demo world."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.demo.simulator.engine import Simulation, WorldMissing


class Command(BaseCommand):
    help = (
        "Simulate days of operations of the demo world through the services (bookings, cancellations, visits, "
        "reviews; orders, dispatch, call-ups, attendance). One line per day. Refuses to run with DEBUG off unless "
        "--allow-production is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, required=True, help="how many days to live")
        parser.add_argument("--start", type=dt.date.fromisoformat, help="first day (default: today)")
        parser.add_argument("--seed", type=int, default=7, help="the hidden traits' seed (default 7)")
        parser.add_argument("--orders-per-day", type=float, default=6.0, help="mean orders a weekday (default 6)")
        parser.add_argument("--allow-production", action="store_true", help="run even though DEBUG is off")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("DEBUG is off: this looks like a production database. Nothing was written.")
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        try:
            sim = Simulation.load(seed=options["seed"], orders_per_day=options["orders_per_day"])
        except WorldMissing as exc:
            raise CommandError(str(exc)) from None
        start = options["start"] or dt.date.today()
        started = time.monotonic()
        sim.run(start=start, days=options["days"], each_day=lambda line: self.stdout.write(line.text()))
        self.stdout.write(self.style.SUCCESS(f"Simulated {options['days']} days in {time.monotonic() - started:.1f}s."))
