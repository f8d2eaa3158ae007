"""The simulation loop: for each day, set the business clock and let every business live it (ADR 0028)."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction

from backend.accounts.models import User
from backend.booking.models import Appointment
from backend.demo.services import DEMO_ADMIN_PHONE
from backend.demo.world import CAR_SERVICE, HQ, SALON
from backend.organizations.models import Organization

from .booking import BookingBusiness, BusinessDay
from .figures import DayLine, day_line
from .staffing import WEEKS_DECLARED, Agency, AgencyDay

#: Mean days between visits while a client is active, per kind of business.
SALON_CADENCE = 32.0
CAR_CADENCE = 110.0
#: seed_demo lives the last this many days of its history through the live services (the rest: history mode;
#: the bookings history made for the days after it are booked live when it ends).
LIVE_DAYS = 3
#: ... of which the booking businesses live only the last this many through the live services: their journal for
#: today and the week ahead is booked live either way (``BookingBusiness.history_end``), and a live booking day costs
#: about 30 history days. The agency needs its ``LIVE_DAYS`` (= ``ORDER_LEAD_DAYS``): an order placed in history for
#: a day past the simulation would never be written.
BOOKING_LIVE_DAYS = 1
#: An order is placed at most this many days before its shift (``Agency.morning``): a history day's line is read
#: once the orders placed on it are written, this many days later.
ORDER_LEAD_DAYS = 3
#: History mode writes the booking businesses' lived visits this many days at once (one call per branch).
HISTORY_BATCH_DAYS = 7


class WorldMissing(Exception):
    """The demo world is not there (run seed_demo first)."""


@dataclass
class Simulation:
    seed: int
    span_days: int
    orders_per_day: float
    actor: User
    businesses: list[BookingBusiness] = field(default_factory=list)
    agency: Agency | None = None
    agency_ids: list[int] = field(default_factory=list)
    #: Wall and CPU seconds per phase of the days lived (``seed_demo`` prints them).
    timings: dict[str, list[float]] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            spent = self.timings.setdefault(name, [0.0, 0.0])
            spent[0] += time.perf_counter() - wall
            spent[1] += time.process_time() - cpu

    @classmethod
    def load(cls, *, seed: int = 7, span_days: int = 0, orders_per_day: float = 6.0) -> Simulation:
        actor = User.objects.filter(phone=DEMO_ADMIN_PHONE).first()
        orgs = {o.name: o for o in Organization.objects.filter(name__in=[SALON, CAR_SERVICE, HQ])}
        if actor is None or len(orgs) < 3:
            raise WorldMissing("the demo world is missing: run `python manage.py seed_demo` first")
        sim = cls(seed, span_days, orders_per_day, actor)
        sim.businesses = [
            BookingBusiness.load(orgs[SALON], actor=actor, seed=seed, cadence_mean=SALON_CADENCE, span_days=span_days),
            BookingBusiness.load(
                orgs[CAR_SERVICE], actor=actor, seed=seed, cadence_mean=CAR_CADENCE, span_days=span_days
            ),
        ]
        sim.agency = Agency.load(orgs[HQ], actor=actor, seed=seed, orders_per_day=orders_per_day)
        sim.agency_ids = [orgs[HQ].pk, *Organization.objects.filter(parent=orgs[HQ]).values_list("pk", flat=True)]
        return sim

    @property
    def epoch(self) -> dt.date:
        return min(b.epoch for b in self.businesses)

    def run(
        self,
        *,
        start: dt.date,
        days: int,
        each_day: Callable[[DayLine], Any] | None = None,
        live_from: dt.date | None = None,
        bookings_live_from: dt.date | None = None,
    ) -> list[DayLine]:
        """Live ``days`` days from ``start``; returns (and hands ``each_day``) the day lines read from the DB.

        Days before ``live_from`` are history (ADR 0028, history mode): the same people decide the same way, the
        visits and orders are written through the bulk past-visit and past-order services; from ``live_from`` on,
        every change goes through the live services. ``bookings_live_from`` (not before ``live_from``; default
        ``live_from``) lets the booking businesses stay in history longer than the agency."""
        if live_from is None:
            bookings_live_from = None
        elif bookings_live_from is None or bookings_live_from < live_from:
            bookings_live_from = live_from
        for business in self.businesses:
            business.busy_load(start, start + dt.timedelta(days=days + 8))
        lines = []
        zones = {b.organization.pk: b.zone for b in self.businesses}
        if self.agency is not None:
            if live_from is not None and start < live_from:
                self.agency.history_start()
            self.agency.weeks(start - dt.timedelta(days=1))
        deferred: list[dt.date] = []  # history days whose orders are not all written yet

        def emit(until: dt.date) -> None:
            while deferred and deferred[0] <= until:
                with self.phase("day lines"):
                    line = day_line(day=deferred.pop(0), booking_zones=zones, agency_ids=self.agency_ids)
                lines.append(line)
                if each_day is not None:
                    each_day(line)

        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            history = bookings_live_from is not None and day < bookings_live_from
            agency_history = live_from is not None and day < live_from
            if not history and any(b.history for b in self.businesses):
                with self.phase("history ends (bookings ahead booked live)"), transaction.atomic():
                    for business in self.businesses:
                        business.history_end()
            if not agency_history and self.agency is not None and self.agency.history:
                with self.phase("history ends (rota ahead declared)"), transaction.atomic():
                    self.agency.history_end(dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC))
            self.day(day, history=history)
            # A history order is written when its shift is over, a history visit with its batch: the line of a day
            # waits for both.
            deferred.append(day)
            if not history:
                emit(day - dt.timedelta(days=ORDER_LEAD_DAYS) if len(deferred) > 1 else day)
            elif len(deferred) >= ORDER_LEAD_DAYS + HISTORY_BATCH_DAYS:
                with self.phase("bookings (history)"), transaction.atomic():
                    for business in self.businesses:
                        business.history_flush()
                emit(day - dt.timedelta(days=ORDER_LEAD_DAYS))
        if any(b.history for b in self.businesses):  # the history ends here: its bookings ahead become live ones
            with transaction.atomic():
                for business in self.businesses:
                    business.history_end()
        if self.agency is not None and self.agency.history:
            with transaction.atomic():
                self.agency.history_end(dt.datetime.combine(start + dt.timedelta(days=days), dt.time(0), tzinfo=dt.UTC))
        emit(start + dt.timedelta(days=days))
        return lines

    def day(self, day: dt.date, *, history: bool = False) -> tuple[list[BusinessDay], AgencyDay]:
        outs = []
        for business in self.businesses:
            out = BusinessDay()
            if history:
                with self.phase("bookings (history)"), transaction.atomic():
                    business.history_day(day, out)
                outs.append(out)
                continue
            # One transaction per business day: every service call inside is a savepoint (a refused call rolls
            # back alone), and the database commits once instead of after every call (most of the time before).
            with self.phase("bookings (live)"), transaction.atomic():
                business.morning(day, out)
                business.bookings(day, out)
                business.evening(day, out)
            outs.append(out)
        agency_out = AgencyDay()
        if self.agency is not None:
            kind = "history" if self.agency.history else "live"
            with self.phase(f"agency orders, dispatch, answers ({kind})"):
                self.agency.morning(day, agency_out)
            with self.phase(f"agency attendance ({kind})"):
                self.agency.shifts(day, agency_out)
            with self.phase(f"agency confirmations ({kind})"):
                self.agency.evening(day)
            if day.weekday() == 6 and day.isocalendar().week % WEEKS_DECLARED == 0:
                with self.phase(f"agency rota ({kind})"):
                    self.agency.weeks(day)
        return outs, agency_out


def history_exists(organization: Organization) -> bool:
    """Whether simulated history was laid down for a booking business already."""
    return Appointment.objects.filter(organization=organization).exists()


def zone_of(organization: Organization) -> ZoneInfo:
    return ZoneInfo(organization.time_zone)
