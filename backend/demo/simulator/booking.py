"""A booking business's day (the salon, the car service): clients book, cancel, come or miss, and review.

Every change goes through the booking services as staff would make it, with the business clock at the moment it
happens. The simulator keeps its own picture of who is busy when only to pick a likely free start; the service
still decides (a refused start is a lost booking, as at a real front desk).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from backend.booking.models import Appointment, AppointmentStatus, WorkPattern
from backend.booking.services.appointments import (
    appointment_cancel,
    appointment_create_for_client,
    appointment_status_set,
)
from backend.booking.services.history import (
    MAX_PAST_REVIEWS,
    MAX_PAST_VISITS,
    PastReview,
    PastVisit,
    appointments_record_past,
    reviews_record_past,
)
from backend.booking.services.reviews import review_submit
from backend.catalog.models import BranchService, StaffService
from backend.core.clock import clock_at
from backend.core.exceptions import ApplicationError
from backend.crm.models import Client
from backend.organizations.models import Branch, Organization

from .traits import SEASON, WEEKDAY, CustomerTraits, chance, customer_traits

#: How far past its seeding day the world's schedules run (``backend.demo.services.demo_world_build``).
SCHEDULE_AHEAD_DAYS = 120
#: Bookings are made this many days ahead at most (a weekday-weighted pick).
LEAD_DAYS = 7
OPEN_HOUR, CLOSE_HOUR = 10, 20
BREAK = (dt.time(14), dt.time(15))


@dataclass
class BusinessDay:
    """What one business did on one day (the simulator's own count; the day line is read from the database)."""

    booked: int = 0
    refused: int = 0
    cancelled: int = 0
    done: int = 0
    no_show: int = 0
    reviews: int = 0


@dataclass(frozen=True)
class Planned:
    """A visit booked in history mode: who, what, with whom, when, and at which branch."""

    client_id: int
    branch_id: int
    service_id: int
    staff_id: int
    start: dt.datetime
    end: dt.datetime
    booked_at: dt.datetime

    @property
    def key(self) -> int:
        """The visit's coin id (a live visit's is its pk): the client and the start minute."""
        return self.client_id * 10**8 + int(self.start.timestamp()) // 60 % 10**8


@dataclass
class BookingBusiness:
    """A salon or a car service in the simulation: its staff, what they do, and its clients' hidden traits."""

    organization: Organization
    actor: Any
    seed: int
    cadence_mean: float
    epoch: dt.date
    span_days: int
    branches: list[Branch] = field(default_factory=list)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    #: branch id -> service id -> staff ids who do it there
    performers: dict[int, dict[int, list[int]]] = field(default_factory=dict)
    durations: dict[int, int] = field(default_factory=dict)
    staff_weekdays: dict[int, set[int]] = field(default_factory=dict)
    clients: list[tuple[int, CustomerTraits]] = field(default_factory=list)
    busy: dict[tuple[int, dt.date], list[tuple[dt.datetime, dt.datetime]]] = field(default_factory=dict)
    next_visit: dict[int, dt.date] = field(default_factory=dict)
    #: History mode: visits booked but not yet lived, by local day (written at once when their day is over).
    pending: dict[dt.date, list[Planned]] = field(default_factory=dict)
    #: Whether the day being lived is history (bookings planned here, written through the bulk path).
    history: bool = False
    #: History mode: the visits lived and not yet written, per branch, and the last day they cover.
    unwritten: dict[int, list[PastVisit]] = field(default_factory=dict)
    unwritten_until: dt.date | None = None

    @classmethod
    def load(
        cls, organization: Organization, *, actor: Any, seed: int, cadence_mean: float, span_days: int
    ) -> BookingBusiness:
        patterns = WorkPattern.objects.filter(organization=organization)
        first = patterns.order_by("anchor_date").values_list("anchor_date", flat=True).first()
        last = patterns.order_by("-end_date").values_list("end_date", flat=True).first()
        epoch = (first or dt.date.today()) + dt.timedelta(days=7)
        if span_days <= 0 and last is not None:
            # The world was seeded with schedules from a week before its history to a season past its "today".
            span_days = max(1, (last - dt.timedelta(days=SCHEDULE_AHEAD_DAYS) - epoch).days)
        business = cls(organization, actor, seed, cadence_mean, epoch, max(span_days, 1))
        business.branches = list(Branch.objects.filter(organization=organization).order_by("id"))
        business.zone = ZoneInfo(business.branches[0].time_zone or organization.time_zone)
        offered = set(
            BranchService.objects.filter(branch__in=business.branches, is_active=True).values_list(
                "branch_id", "service_id"
            )
        )
        staff_branch: dict[int, int] = {}
        for staff_id, branch_id, weekdays in patterns.values_list("staff_id", "branch_id", "weekdays"):
            staff_branch[staff_id] = branch_id
            business.staff_weekdays.setdefault(staff_id, set()).update(weekdays)
        for staff_id, service_id, minutes, default in StaffService.objects.filter(
            organization=organization, staff_id__in=staff_branch
        ).values_list("staff_id", "service_id", "duration_minutes", "service__duration_minutes"):
            branch_id = staff_branch[staff_id]
            if (branch_id, service_id) in offered:
                business.performers.setdefault(branch_id, {}).setdefault(service_id, []).append(staff_id)
                business.durations[service_id] = minutes or default
        for branch_id in business.performers:
            for staff in business.performers[branch_id].values():
                staff.sort()
        business.clients = [
            (
                pk,
                customer_traits(seed=seed, client_id=pk, epoch=epoch, span_days=span_days, cadence_mean=cadence_mean),
            )
            for pk in Client.objects.filter(organization=organization, deleted_at__isnull=True)
            .order_by("id")
            .values_list("pk", flat=True)
        ]
        return business

    def local(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=self.zone)

    def busy_load(self, first: dt.date, last: dt.date) -> None:
        """Read who is busy from ``first`` to ``last`` (local days) from the live appointments."""
        self.busy.clear()
        self.next_visit.clear()
        live = Appointment.objects.filter(
            organization=self.organization,
            starts_at__gte=self.local(first, 0),
            starts_at__lt=self.local(last + dt.timedelta(days=1), 0),
            status__in=(AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED, AppointmentStatus.ARRIVED),
        )
        for staff_id, client_id, start, end in live.values_list("staff_id", "client_id", "starts_at", "ends_at"):
            day = start.astimezone(self.zone).date()
            self.busy.setdefault((staff_id, day), []).append((start, end))
            self.next_visit[client_id] = max(self.next_visit.get(client_id, day), day)

    # --- the day ---------------------------------------------------------------------------------------------------

    def morning(self, day: dt.date, out: BusinessDay) -> None:
        """07:00: clients who will not come cancel today's visits."""
        at = self.local(day, 7)
        with clock_at(at):
            todays = Appointment.objects.filter(
                organization=self.organization,
                starts_at__gte=self.local(day, 0),
                starts_at__lt=self.local(day + dt.timedelta(days=1), 0),
                status=AppointmentStatus.BOOKED,
            ).values_list("pk", "client_id")
            traits = dict(self.clients)
            for pk, client_id in list(todays):
                t = traits.get(client_id)
                if t is not None and chance(self.seed, "cancel", pk, t.cancel_p):
                    try:
                        appointment_cancel(user=self.actor, appointment_id=pk, reason="client called", now=at)
                        out.cancelled += 1
                    except ApplicationError:
                        pass

    def bookings(self, day: dt.date, out: BusinessDay) -> None:
        """07:30: today's callers book a visit in the coming week."""
        at = self.local(day, 7, 30)
        r = random.Random(f"{self.seed}:book:{self.organization.pk}:{day.isoformat()}")
        season = SEASON[day.month]
        with clock_at(at):
            for client_id, t in self.clients:
                if not t.active(day):
                    continue
                upcoming = self.next_visit.get(client_id)
                if upcoming is not None and upcoming >= day:
                    continue
                first_time = day == t.joins or (t.returns is not None and day == t.returns)
                if not first_time and r.random() >= season / t.cadence_days:
                    continue
                visit_day = self._visit_day(day, r)
                if self._book(client_id, t, visit_day, r, at):
                    out.booked += 1
                    self.next_visit[client_id] = visit_day
                else:
                    out.refused += 1

    def _visit_day(self, day: dt.date, r: random.Random) -> dt.date:
        days = [day + dt.timedelta(days=k) for k in range(LEAD_DAYS)]
        weights = [WEEKDAY[d.weekday()] * (0.75**k) for k, d in enumerate(days)]
        return r.choices(days, weights)[0]

    def _book(self, client_id: int, t: CustomerTraits, day: dt.date, r: random.Random, at: dt.datetime) -> bool:
        branch = self.branches[int(t.branch_pick * len(self.branches))]
        services = self.performers.get(branch.pk)
        if not services:
            return False
        service_ids = sorted(services)
        # A favourite service most of the time, sometimes another one.
        service_id = service_ids[int(t.service_pick * len(service_ids))] if r.random() < 0.7 else r.choice(service_ids)
        staff = [s for s in services[service_id] if day.weekday() in self.staff_weekdays.get(s, set())]
        if not staff:
            return False
        favourite = staff[int(t.master_pick * len(staff))]
        minutes = self.durations[service_id]
        for staff_id in [favourite, *r.sample(staff, min(2, len(staff)))]:
            start = self._free_start(staff_id, day, minutes, r, at)
            if start is None:
                continue
            if self.history:
                end = start + dt.timedelta(minutes=minutes)
                visit = Planned(client_id, branch.pk, service_id, staff_id, start, end, at)
                self.pending.setdefault(day, []).append(visit)
                self.busy.setdefault((staff_id, day), []).append((start, end))
                return True
            try:
                appointment = appointment_create_for_client(
                    user=self.actor,
                    branch_id=branch.pk,
                    client_id=client_id,
                    service_ids=[service_id],
                    start=start,
                    staff_id=staff_id,
                    now=at,
                )
            except ApplicationError:
                continue
            self.busy.setdefault((staff_id, day), []).append((appointment.starts_at, appointment.ends_at))
            return True
        return False

    def _free_start(
        self, staff_id: int, day: dt.date, minutes: int, r: random.Random, at: dt.datetime
    ) -> dt.datetime | None:
        taken = self.busy.get((staff_id, day), [])
        starts = []
        for half_hours in range((CLOSE_HOUR - OPEN_HOUR) * 2):
            start = self.local(day, OPEN_HOUR) + dt.timedelta(minutes=30 * half_hours)
            end = start + dt.timedelta(minutes=minutes)
            if start <= at or end > self.local(day, CLOSE_HOUR):
                continue
            if start.timetz() < BREAK[1].replace(tzinfo=self.zone) and end.timetz() > BREAK[0].replace(
                tzinfo=self.zone
            ):
                continue
            if any(start < e and s < end for s, e in taken):
                continue
            starts.append(start)
        return r.choice(starts) if starts else None

    def history_day(self, day: dt.date, out: BusinessDay) -> None:
        """A day of history: the same callers book by the same traits (planned in memory), and the day's visits,
        cancelled in the morning, missed or done by the same propensities, are written with the next batch
        (``history_flush``: ``booking.services.history.appointments_record_past``, reviews through the review
        service)."""
        self.history = True
        traits = dict(self.clients)
        outcomes: dict[Planned, tuple[str, dt.datetime]] = {}
        self._settle(day, self.pending.pop(day, []), traits, outcomes, morning=True)
        self.bookings(day, out)
        self._settle(day, self.pending.pop(day, []), traits, outcomes, morning=False)  # booked for later today
        for visit, (outcome, settled) in outcomes.items():
            self.unwritten.setdefault(visit.branch_id, []).append(
                PastVisit(
                    visit.client_id,
                    visit.service_id,
                    visit.staff_id,
                    visit.start,
                    outcome,
                    settled,
                    "client called" if outcome == AppointmentStatus.CANCELLED else "",
                )
            )
        self.unwritten_until = day

    def history_flush(self, out: BusinessDay | None = None) -> None:
        """Write the history's lived visits not yet written (a few days at once, one call per branch), then the
        reviews of the done ones (the same clients as a live evening's, through the bulk past-review service)."""
        if self.unwritten_until is None:
            return
        out = out or BusinessDay()
        traits = dict(self.clients)
        with clock_at(self.local(self.unwritten_until + dt.timedelta(days=1), 0)) as at:
            written = []
            for branch_id, visits in sorted(self.unwritten.items()):
                for start in range(0, len(visits), MAX_PAST_VISITS):
                    written += appointments_record_past(
                        user=self.actor, branch_id=branch_id, visits=visits[start : start + MAX_PAST_VISITS], now=at
                    )
            self.unwritten.clear()
            self.unwritten_until = None
            reviews = []
            for appointment in written:
                if appointment.status == AppointmentStatus.CANCELLED:
                    out.cancelled += 1
                elif appointment.status == AppointmentStatus.NO_SHOW:
                    out.no_show += 1
                else:
                    out.done += 1
                    review = self._review_draw(appointment.pk, traits.get(appointment.client_id), appointment.ends_at)
                    if review is not None:
                        reviews.append(review)
            # The same clients' scores as a live evening's ``review_submit``, recorded a batch at once.
            for start in range(0, len(reviews), MAX_PAST_REVIEWS):
                out.reviews += len(
                    reviews_record_past(user=self.actor, reviews=reviews[start : start + MAX_PAST_REVIEWS], now=at)
                )

    def _settle(
        self,
        day: dt.date,
        visits: list[Planned],
        traits: dict[int, CustomerTraits],
        outcomes: dict[Planned, tuple[str, dt.datetime]],
        *,
        morning: bool,
    ) -> None:
        """How each of the day's visits ends: cancelled at 07:00 (only those booked before the morning), missed,
        or done, by the client's propensities (the live day's coins, keyed by the visit instead of its pk)."""
        for visit in visits:
            t = traits.get(visit.client_id)
            if morning and t is not None and chance(self.seed, "cancel", visit.key, t.cancel_p):
                outcomes[visit] = (AppointmentStatus.CANCELLED, self.local(day, 7))
                spans = self.busy.get((visit.staff_id, day), [])
                if (visit.start, visit.end) in spans:
                    spans.remove((visit.start, visit.end))
            elif t is not None and chance(self.seed, "no_show", visit.key, t.no_show_p):
                outcomes[visit] = (AppointmentStatus.NO_SHOW, visit.start + dt.timedelta(minutes=20))
            else:
                outcomes[visit] = (AppointmentStatus.DONE, visit.end)

    def history_end(self) -> None:
        """Leaving history mode: the visits booked for the days still to live are booked through the live service,
        at the moment they were booked."""
        self.history_flush()
        self.history = False
        for day in sorted(self.pending):
            for visit in self.pending[day]:
                with clock_at(visit.booked_at) as at:
                    try:
                        appointment_create_for_client(
                            user=self.actor,
                            branch_id=visit.branch_id,
                            client_id=visit.client_id,
                            service_ids=[visit.service_id],
                            start=visit.start,
                            staff_id=visit.staff_id,
                            now=at,
                        )
                    except ApplicationError:
                        continue
        self.pending.clear()

    def _review_draw(self, pk: int, t: CustomerTraits | None, end: dt.datetime) -> PastReview | None:
        """Whether the client of a done visit rates it (two hours after it ends), and the score."""
        if t is None or not chance(self.seed, "review", pk, t.review_p):
            return None
        score = max(1, min(10, round(random.Random(f"{self.seed}:score:{pk}").gauss(t.satisfaction, 1.0))))
        return PastReview(pk, score, end + dt.timedelta(hours=2))

    def _review(self, pk: int, t: CustomerTraits | None, end: dt.datetime, out: BusinessDay) -> None:
        review = self._review_draw(pk, t, end)
        if review is not None:
            with clock_at(review.submitted_at):
                try:
                    review_submit(user=self.actor, appointment_id=pk, score=review.score)
                    out.reviews += 1
                except ApplicationError:
                    pass

    def evening(self, day: dt.date, out: BusinessDay) -> None:
        """After each visit: done (arrived, then done) or a no-show; some clients leave a review."""
        traits = dict(self.clients)
        todays = list(
            Appointment.objects.filter(
                organization=self.organization,
                starts_at__gte=self.local(day, 0),
                starts_at__lt=self.local(day + dt.timedelta(days=1), 0),
                status__in=(AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED),
            )
            .order_by("starts_at", "pk")
            .values_list("pk", "client_id", "starts_at", "ends_at")
        )
        for pk, client_id, start, end in todays:
            t = traits.get(client_id)
            no_show = t is not None and chance(self.seed, "no_show", pk, t.no_show_p)
            try:
                if no_show:
                    with clock_at(start + dt.timedelta(minutes=20)) as at:
                        appointment_status_set(
                            user=self.actor, appointment_id=pk, status=AppointmentStatus.NO_SHOW, now=at
                        )
                    out.no_show += 1
                    continue
                with clock_at(start) as at:
                    appointment_status_set(user=self.actor, appointment_id=pk, status=AppointmentStatus.ARRIVED, now=at)
                with clock_at(end) as at:
                    appointment_status_set(user=self.actor, appointment_id=pk, status=AppointmentStatus.DONE, now=at)
                out.done += 1
            except ApplicationError:
                continue
            self._review(pk, t, end, out)


def staff_days(business: BookingBusiness) -> dict[int, set[int]]:
    """Weekdays each master works (for tests and the day line)."""
    return defaultdict(set, business.staff_weekdays)
