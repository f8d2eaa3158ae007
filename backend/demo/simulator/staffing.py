"""The agency's day: corporate clients place orders, dispatch runs (the solver, through staffing's adapter, as a
task on the queue), workers answer call-ups, confirm, come or miss, and the foreman marks and rates them.

Workers act by their hidden traits (``traits.worker_traits``): the solver only sees what the services stored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.management import call_command
from django.db import transaction

from backend.accounts.models import User
from backend.core.clock import clock_at
from backend.core.exceptions import ApplicationError
from backend.organizations.models import Organization
from backend.staffing.models import Offer, OfferStatus, Shift, Site, Worker, WorkerStatus
from backend.staffing.services.attendance import (
    attendance_check_in,
    attendance_check_out,
    attendance_mark,
    attendance_rate,
)
from backend.staffing.services.confirmations import confirmations_release, confirmations_request, offer_confirm
from backend.staffing.services.history import shifts_record_past
from backend.staffing.services.offers import offer_accept, offer_decline, offers_expire
from backend.staffing.services.orders import order_confirm, order_create
from backend.staffing.services.pool_bulk import MAX_BULK, availability_declare_many

from .agency_history import HistoryBook
from .traits import SEASON, WEEKDAY, WorkerTraits, chance, worker_traits

#: Workers declare their availability this many weeks at a time.
WEEKS_DECLARED = 4
#: Answer rounds per morning: answers, then the standby offered in their place answer, and so on.
ANSWER_ROUNDS = 4


@dataclass
class AgencyDay:
    orders: int = 0
    offers_answered: int = 0
    shows: int = 0
    no_shows: int = 0


def queue_drain() -> None:
    """Run every task that is due on the default queue (the dispatch runs), in this thread under the clock."""
    call_command(
        "db_worker", "--batch", "--queue-name", "default", "--no-startup-delay", "--worker-id", "simulator", verbosity=0
    )


@dataclass
class Agency:
    hq: Organization
    actor: Any
    seed: int
    orders_per_day: float
    sites: list[Site] = field(default_factory=list)
    traits: dict[int, WorkerTraits] = field(default_factory=dict)
    #: History mode (ADR 0028 addendum): the orders lived in memory until their shift is over, and the rota.
    book: HistoryBook | None = None
    #: Whether the day being lived is history.
    history: bool = False

    @classmethod
    def load(cls, hq: Organization, *, actor: Any, seed: int, orders_per_day: float) -> Agency:
        agency = cls(hq, actor, seed, orders_per_day)
        owners = [hq.pk, *Organization.objects.filter(parent=hq).values_list("pk", flat=True)]
        agency.sites = list(
            Site.objects.filter(organization_id__in=owners).select_related("organization").order_by("id")
        )
        agency.traits = {
            pk: worker_traits(seed=seed, worker_id=pk)
            for pk in Worker.objects.filter(organization=hq, status=WorkerStatus.ACTIVE).values_list("pk", flat=True)
        }
        return agency

    def weeks(self, day: dt.date) -> None:
        """Every few Sunday evenings (and before the first simulated day): the workers who want work in the coming
        weeks say when they are free (through the phone's service, a window a day)."""
        at = dt.datetime.combine(day, dt.time(20), tzinfo=dt.UTC)
        first = day + dt.timedelta(days=1)
        windows = [
            (
                dt.datetime.combine(first + dt.timedelta(days=k), dt.time(2), tzinfo=dt.UTC),
                dt.datetime.combine(first + dt.timedelta(days=k), dt.time(23), tzinfo=dt.UTC),
            )
            for k in range(7 * WEEKS_DECLARED + 1)
        ]
        week = first.isocalendar()
        active = Worker.objects.filter(organization=self.hq, status=WorkerStatus.ACTIVE).values_list("pk", flat=True)
        workers = [
            pk for pk in active if chance(self.seed, f"week:{week.year}:{week.week}", pk, self._traits(pk).weekly_p)
        ]
        if self.history:
            # Nothing reads a past window (dispatch reads the windows of future shifts, the phone those from now
            # on, the warehouse none): history keeps the rota in memory; the live days get it written at the switch.
            self._book().declare({pk: windows for pk in workers}, at)
            return
        # The rota arrives as one import (``pool_bulk.availability_declare_many``, each worker's windows under the
        # same rules as the phone's declaration), a batch of workers per statement instead of a call per worker.
        with clock_at(at):
            for start in range(0, len(workers), MAX_BULK):
                availability_declare_many(
                    user=self.actor,
                    organization_id=self.hq.pk,
                    declarations={pk: windows for pk in workers[start : start + MAX_BULK]},
                    replace_from=at,
                )

    def _traits(self, worker_id: int) -> WorkerTraits:
        t = self.traits.get(worker_id)
        if t is None:
            t = self.traits[worker_id] = worker_traits(seed=self.seed, worker_id=worker_id)
        return t

    def _book(self) -> HistoryBook:
        if self.book is None:
            self.book = HistoryBook(self.seed, self.hq.pk)
        return self.book

    def history_start(self) -> None:
        self.history = True
        self._book()

    def history_end(self, at: dt.datetime) -> None:
        """Leaving history mode: the rota still ahead is declared through the bulk service (the live dispatch reads
        it); the orders placed in history go on being lived in memory until their shifts are over."""
        if not self.history:
            return
        self.history = False
        rota = self._book().rota_from(at)
        with clock_at(at):
            ids = sorted(rota)
            for start in range(0, len(ids), MAX_BULK):
                availability_declare_many(
                    user=self.actor,
                    organization_id=self.hq.pk,
                    declarations={pk: rota[pk] for pk in ids[start : start + MAX_BULK]},
                    replace_from=at,
                )

    def _history_morning(self, day: dt.date, out: AgencyDay, draws: list[tuple[Any, ...]], at: dt.datetime) -> None:
        book = self._book()
        placed = []
        for n, (site, starts, hours, title, headcount, pay, bill) in enumerate(draws):
            placed.append(
                book.place(
                    key=day.toordinal() * 100 + n,
                    site=site,
                    title=title,
                    date=starts,
                    hours=hours,
                    headcount=headcount,
                    pay_rate=pay,
                    bill_rate=bill,
                    at=at,
                )
            )
            out.orders += 1
        if placed:
            book.snapshot()
            for order in placed:
                book.dispatch(order, at)

    def _book_rounds(self, at: dt.datetime, out: AgencyDay) -> None:
        if self.book is None or not self.book.orders:
            return
        for round_ in range(ANSWER_ROUNDS):
            if not self.book.answer(at + dt.timedelta(minutes=10 + 35 * round_), self._traits):
                break

    def _book_write(self, day: dt.date, out: AgencyDay) -> None:
        if self.book is None:
            return
        done = self.book.attend(day, self._traits)
        if not done:
            return
        out.shows += sum(1 for o in done for c in o.calls if c.status == OfferStatus.COMPLETED)
        out.no_shows += sum(1 for o in done for c in o.calls if c.status == OfferStatus.NO_SHOW)
        at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
        with clock_at(at), transaction.atomic():
            try:
                with transaction.atomic():
                    shifts_record_past(user=self.actor, orders=[o.past() for o in done], now=at)
            except ApplicationError:
                # Past the switch to live days a place held in memory may meet one taken live meanwhile: the
                # orders that no longer fit are lost (as a refused booking is); the others are written.
                for o in done:
                    with contextlib.suppress(ApplicationError), transaction.atomic():
                        shifts_record_past(user=self.actor, orders=[o.past()], now=at)

    def morning(self, day: dt.date, out: AgencyDay) -> None:
        """09:00 UTC: new orders for the next days are confirmed and dispatched; workers answer their call-ups."""
        if not self.sites:
            return
        r = random.Random(f"{self.seed}:orders:{day.isoformat()}")
        at = dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC)
        expected = self.orders_per_day * SEASON[day.month] * (WEEKDAY[day.weekday()] if day.weekday() < 5 else 0.5)
        count = _poisson(r, expected)
        if self.history:
            draws = []
            for _n in range(count):
                site = r.choice(self.sites)
                starts = day + dt.timedelta(days=r.choice((1, 1, 2, 3)))
                hours = r.choice(((8, 20), (9, 18), (8, 17), (20, 23)))
                title = r.choice(("Loaders", "Warehouse shift", "Unloading trucks", "Stocktaking"))
                headcount = r.choice((2, 2, 3, 4, 5, 6, 8, 10))
                pay, bill = Decimal(r.choice((350, 400, 450))), Decimal(r.choice((600, 650, 700)))
                draws.append((site, starts, hours, title, headcount, pay, bill))
            self._history_morning(day, out, draws, at)
            self._book_rounds(at, out)
            return
        with clock_at(at), transaction.atomic():
            for _n in range(count):
                site = r.choice(self.sites)
                starts = day + dt.timedelta(days=r.choice((1, 1, 2, 3)))
                hours = r.choice(((8, 20), (9, 18), (8, 17), (20, 23)))
                try:
                    order = order_create(
                        user=self.actor,
                        site_id=site.pk,
                        title=r.choice(("Loaders", "Warehouse shift", "Unloading trucks", "Stocktaking")),
                        start_date=starts,
                        end_date=starts,
                        shift_start=dt.time(hours[0]),
                        shift_end=dt.time(hours[1]),
                        headcount=r.choice((2, 2, 3, 4, 5, 6, 8, 10)),
                        pay_rate=Decimal(r.choice((350, 400, 450))),
                        bill_rate=Decimal(r.choice((600, 650, 700))),
                        skills=["loader"],
                    )
                    order_confirm(user=self.actor, order_id=order.pk)
                    out.orders += 1
                except ApplicationError:
                    continue
        with clock_at(at):
            queue_drain()  # the worker manages its own connection: outside the transaction
        self._book_rounds(at, out)  # the orders history placed for these days live on in memory
        for round_ in range(ANSWER_ROUNDS):
            answered = self._answer(at + dt.timedelta(minutes=10 + 35 * round_), out)
            if not answered:
                break

    def _answer(self, at: dt.datetime, out: AgencyDay) -> int:
        """Workers answer the open call-ups; the unanswered expire when their time is over (the standby is
        offered next, by the services)."""
        answered = 0
        with clock_at(at), transaction.atomic():
            open_offers = list(
                Offer.objects.filter(
                    shift__organization__in=[
                        self.hq.pk,
                        *Organization.objects.filter(parent=self.hq).values_list("pk", flat=True),
                    ],
                    status=OfferStatus.OFFERED,
                    offered_at__lte=at,
                ).values_list("pk", "worker_id", "worker__user_id", "shift_id", "expires_at")
            )
            accounts = User.objects.in_bulk([row[2] for row in open_offers])
            expired_shifts: set[int] = set()
            for pk, worker_id, user_id, shift_id, expires in open_offers:
                t = self._traits(worker_id)
                if expires is not None and expires <= at:
                    expired_shifts.add(shift_id)
                    continue
                if not chance(self.seed, "answers", pk, t.answers_p):
                    continue  # silent: the call-up expires
                try:
                    if chance(self.seed, "accepts", pk, t.accept_p):
                        offer_accept(user=accounts[user_id], offer_id=pk, now=at)
                    else:
                        offer_decline(user=accounts[user_id], offer_id=pk, reason="busy", now=at)
                    answered += 1
                    out.offers_answered += 1
                except ApplicationError:
                    continue
            # The silent ones' time runs out before the next round.
            later = at + dt.timedelta(minutes=31)
            silent_shifts = {s for _pk, _w, _u, s, e in open_offers if e is not None and e <= later} | expired_shifts
        with clock_at(later), transaction.atomic():
            for shift_id in sorted(silent_shifts):
                offers_expire(shift_id=shift_id, now=later)
                answered += 1
        return answered

    def evening(self, day: dt.date) -> None:
        """18:00 UTC: the confirmation ladder asks tomorrow's workers; they confirm (or not) and the unconfirmed
        are released at the cut-off (the services re-plan those orders)."""
        if self.book is not None and self.book.orders:
            self.book.evening(day, self._traits)
        if self.history:
            return
        at = dt.datetime.combine(day, dt.time(18), tzinfo=dt.UTC)
        with clock_at(at), transaction.atomic():
            confirmations_request(now=at)
            asked = Offer.objects.filter(
                status=OfferStatus.ACCEPTED, confirm_requested_at__isnull=False, shift__date=day + dt.timedelta(days=1)
            ).values_list("pk", "worker_id", "worker__user")
            rows = list(asked)
            accounts = User.objects.in_bulk([u for _p, _w, u in rows])
            for pk, worker_id, user_id in rows:
                t = self._traits(worker_id)
                if chance(self.seed, "confirms", pk, t.confirm_p):
                    with contextlib.suppress(ApplicationError):
                        offer_confirm(user=accounts[user_id], offer_id=pk, now=at)
        cutoff = at + dt.timedelta(hours=1)
        with clock_at(cutoff):
            with transaction.atomic():
                confirmations_release(now=cutoff)
            queue_drain()

    def shifts(self, day: dt.date, out: AgencyDay) -> None:
        """The day's shifts: booked workers come (check in at the site, check out at the end) or not (the foreman
        marks a no-show); some are rated."""
        self._book_write(day, out)
        if self.history:
            return
        shifts = list(Shift.objects.filter(date=day, order__site__in=self.sites).select_related("order__site"))
        with transaction.atomic():
            self._attend(shifts, out)

    def _attend(self, shifts: list[Shift], out: AgencyDay) -> None:
        for shift in shifts:
            site = shift.order.site
            offers = list(
                Offer.objects.filter(shift=shift, status__in=(OfferStatus.ACCEPTED, OfferStatus.CONFIRMED)).values_list(
                    "pk", "worker_id", "worker__user_id"
                )
            )
            accounts = User.objects.in_bulk([u for _p, _w, u in offers])
            for pk, worker_id, user_id in offers:
                t = self._traits(worker_id)
                try:
                    if chance(self.seed, "shows", pk, t.show_p):
                        with clock_at(shift.starts_at - dt.timedelta(minutes=10)) as at:
                            attendance_check_in(
                                user=accounts[user_id], latitude=site.latitude, longitude=site.longitude, now=at
                            )
                        with clock_at(shift.ends_at) as at:
                            attendance_check_out(
                                user=accounts[user_id], latitude=site.latitude, longitude=site.longitude, now=at
                            )
                            if chance(self.seed, "rated", pk, 0.4):
                                score = max(1, min(10, round(random.Random(f"{self.seed}:q:{pk}").gauss(t.quality, 1))))
                                attendance_rate(user=self.actor, offer_id=pk, quality_score=score, now=at)
                        out.shows += 1
                    else:
                        with clock_at(shift.starts_at + dt.timedelta(hours=1)) as at:
                            attendance_mark(user=self.actor, offer_id=pk, outcome="no_show", now=at)
                        out.no_shows += 1
                except ApplicationError:
                    continue


def _poisson(r: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth), fine for the small means of a day's orders."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1
