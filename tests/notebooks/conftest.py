"""The notebooks' warehouse in CI: a demo world seeded and simulated through the services, exported by
``export_analytics``, built once per test session (ADR 0030, addendum).

The world is ``seed_demo``'s ``ci`` size (backend/demo/world.py): the tiny agency and a salon with a few hundred
clients, with about 13 months of booking history (monthly cohorts over a year, a churn back-test with a
calibration and a holdout) and the agency living only its last weeks (notebook 04's fill rate and no-shows).
It is built in the test database and flushed away afterwards, so no other test sees it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

#: The agency's days at the end of the history (the booking businesses live the whole of it).
AGENCY_DAYS = 28


def build_ci_demo(*, agency_days: int = AGENCY_DAYS, seed: int = 7) -> dict[str, tuple[float, float]]:
    """Seed the ``ci`` world and lay down its history: the salon and the car service over the whole history, the
    agency over its last ``agency_days`` only (notebook 04 reads weeks of shifts, not a year; a year of the
    agency would be most of the cost). Both as ``seed_demo`` lives them: history mode, then the last
    ``LIVE_DAYS`` through the live services. Returns each phase's wall and CPU seconds."""
    from backend.demo.simulator.engine import LIVE_DAYS, Simulation
    from backend.demo.world import SIZES, history_start

    size = SIZES["ci"]
    took: dict[str, tuple[float, float]] = {}
    started = _clock()
    call_command("seed_demo", "--size", "ci", "--history-days", "0", stdout=StringIO())
    took["world"] = _since(started)
    today = dt.date.today()
    start = history_start(today, size)
    live_from = today - dt.timedelta(days=LIVE_DAYS)

    started = _clock()
    bookings = Simulation.load(seed=seed, orders_per_day=size.orders_per_day)
    bookings.agency = None
    bookings.run(start=start, days=(today - start).days, live_from=live_from)
    took["salon and car service"] = _since(started)

    started = _clock()
    agency = Simulation.load(seed=seed, orders_per_day=size.orders_per_day)
    agency.businesses = []
    agency.run(start=today - dt.timedelta(days=agency_days), days=agency_days, live_from=live_from)
    took["agency"] = _since(started)
    return took


def _clock() -> tuple[float, float]:
    return time.monotonic(), time.process_time()


def _since(started: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - started[0], cpu - started[1]


@pytest.fixture(scope="session")
def demo_warehouse(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("demo") / "warehouse"
    out = StringIO()
    with django_db_blocker.unblock():
        try:
            # The test runner turns DEBUG off, and seed_demo refuses a database that looks like production.
            with override_settings(DEBUG=True):
                took = build_ci_demo()
                started = _clock()
                call_command("export_analytics", "--out", str(folder), stdout=out)
                took["export"] = _since(started)
        finally:
            # Committed rows in the shared test database: gone again, as after a transactional test.
            call_command("flush", "--noinput", verbosity=0)
    print("\nCI demo warehouse (wall / CPU): " + ", ".join(f"{k} {w:.1f}s / {c:.1f}s" for k, (w, c) in took.items()))
    print(out.getvalue())
    yield folder
