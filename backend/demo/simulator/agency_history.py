"""The agency's history mode (ADR 0028 addendum): the same orders, the same solver, the same workers deciding by the
same hidden traits as on a live day, lived in memory and written when each shift is over through
``staffing.services.history.shifts_record_past``.

What the live services do is mirrored here step by step on plain objects: the plan's call-ups sent at dispatch
(answer deadline ``STAFFING_OFFER_TTL_MINUTES``, never after the shift starts), first come first served up to the
planned call count, the open call-ups moved to standby when the last place goes, declines and time-outs refilled
from standby (``offers_top_up``'s order: those offered before first, then the plan's order), an accept inside the
confirmation cut-off counting as confirmed, the day-before question and the release at the cut-off, then the day's
check-in, check-out, score or no-show. The coins are the live day's, keyed by the call-up (order and worker)
instead of the offer's pk, which does not exist yet. One difference: a release at the cut-off is refilled from the
plan's standby (the ladder) instead of the solver's incremental re-plan.

The solver still chooses who is called: the pool (figures, homes, skills) is read once per morning, the rota is
kept in memory, the places held on the orders still in memory are the busy times, and ``plan_solve`` runs in this
process instead of a queued task.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from backend.staffing import solver_adapter as adapter
from backend.staffing.models import OFFER_HOLDS_PLACE, OfferStatus, Site, Worker, WorkerStatus
from backend.staffing.services.history import PastCall, PastOrder
from backend.staffing.services.orders import _site_zone, shift_times

from .traits import WorkerTraits, chance

REST = dt.timedelta(minutes=60)
Window = tuple[dt.datetime, dt.datetime]


@dataclass
class Call:
    worker_id: int
    position: int
    is_standby: bool
    seq: int
    key: int
    show_probability: float
    worker_rank: float
    status: str = OfferStatus.STANDBY
    wave: int = 0
    sends: int = 0
    offered_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    responded_at: dt.datetime | None = None
    confirm_requested_at: dt.datetime | None = None
    confirmed_at: dt.datetime | None = None
    released_at: dt.datetime | None = None
    checked_in_at: dt.datetime | None = None
    checked_out_at: dt.datetime | None = None
    quality_score: int | None = None
    rated_at: dt.datetime | None = None
    marked_at: dt.datetime | None = None

    def past(self) -> PastCall:
        return PastCall(
            worker_id=self.worker_id,
            position=self.position,
            is_standby=self.is_standby,
            status=self.status,
            show_probability=self.show_probability,
            worker_rank=self.worker_rank,
            wave=self.wave,
            sends=self.sends,
            offered_at=self.offered_at,
            expires_at=self.expires_at,
            responded_at=self.responded_at,
            confirm_requested_at=self.confirm_requested_at,
            confirmed_at=self.confirmed_at,
            released_at=self.released_at,
            checked_in_at=self.checked_in_at,
            checked_out_at=self.checked_out_at,
            quality_score=self.quality_score,
            rated_at=self.rated_at,
            marked_at=self.marked_at,
        )


@dataclass
class PlannedOrder:
    """An order placed in history and not yet written (its shift is not over)."""

    key: int
    site: Site
    title: str
    date: dt.date
    hours: tuple[int, int]
    headcount: int
    pay_rate: Decimal
    bill_rate: Decimal
    placed_at: dt.datetime
    starts: dt.datetime
    ends: dt.datetime
    call_cap: int = 0
    accepted: int = 0
    expected_attendance: float = 0.0
    fill_probability: float = 0.0
    calls: list[Call] = field(default_factory=list)
    solution: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def ordered(self) -> list[Call]:
        """The call-ups in the offers' default order (standby flag, position, creation)."""
        return sorted(self.calls, key=lambda c: (c.is_standby, c.position, c.seq))

    def past(self) -> PastOrder:
        return PastOrder(
            site_id=self.site.pk,
            title=self.title,
            date=self.date,
            shift_start=dt.time(self.hours[0]),
            shift_end=dt.time(self.hours[1]),
            headcount=self.headcount,
            pay_rate=self.pay_rate,
            bill_rate=self.bill_rate,
            placed_at=self.placed_at,
            planned_at=self.placed_at,
            call_cap=self.call_cap,
            calls=[c.past() for c in sorted(self.calls, key=lambda c: c.seq)],
            skills=["loader"],
            expected_attendance=self.expected_attendance,
            fill_probability=self.fill_probability,
            solution=self.solution,
            figures=self.figures,
        )


def ttl() -> dt.timedelta:
    return dt.timedelta(minutes=settings.STAFFING_OFFER_TTL_MINUTES)


def cutoff() -> dt.timedelta:
    return dt.timedelta(hours=settings.STAFFING_CONFIRM_CUTOFF_HOURS)


def ask() -> dt.timedelta:
    return dt.timedelta(hours=settings.STAFFING_CONFIRM_ASK_HOURS)


@dataclass
class HistoryBook:
    """The agency's orders in memory, the rota, and the day's pool snapshot."""

    seed: int
    pool_id: int
    orders: list[PlannedOrder] = field(default_factory=list)
    rota: dict[int, list[Window]] = field(default_factory=dict)
    pool: dict[int, tuple[float, float, float, list[str], float, float, int]] = field(default_factory=dict)
    prior: tuple[float, float] = adapter.DEFAULT_PRIOR
    solver_calls: int = 0
    solver_s: float = 0.0
    _seq: int = 0

    # --- the rota ---------------------------------------------------------------------------------------------

    def declare(self, declarations: dict[int, list[Window]], at: dt.datetime) -> None:
        """``availability_declare_many(replace_from=at)`` on the in-memory rota."""
        for pk, windows in declarations.items():
            kept = [w for w in self.rota.get(pk, []) if w[1] <= at]
            self.rota[pk] = sorted(kept + list(windows))

    def rota_from(self, now: dt.datetime) -> dict[int, list[Window]]:
        """The windows still ahead at ``now`` (what the live rota must hold when history ends)."""
        return {
            pk: [(max(a, now), b) for a, b in ws if b > now]
            for pk, ws in self.rota.items()
            if any(b > now for _a, b in ws)
        }

    # --- dispatch ---------------------------------------------------------------------------------------------

    def snapshot(self) -> None:
        """The pool as stored this morning (figures written by the shifts already over)."""
        self.pool = {
            pk: (rank, shows, no_shows, list(skills), float(lat or 0), float(lon or 0), per_day)
            for pk, rank, shows, no_shows, skills, lat, lon, per_day in Worker.objects.filter(
                organization_id=self.pool_id,
                status=WorkerStatus.ACTIVE,
                home_latitude__isnull=False,
                home_longitude__isnull=False,
            ).values_list(
                "pk",
                "rank",
                "decayed_shows",
                "decayed_no_shows",
                "skills",
                "home_latitude",
                "home_longitude",
                "max_shifts_per_day",
            )
        }
        every = Worker.objects.filter(organization_id=self.pool_id).values_list("decayed_shows", "decayed_no_shows")
        self.prior = adapter.prior_fit(list(every))

    def place(
        self,
        *,
        key: int,
        site: Site,
        title: str,
        date: dt.date,
        hours: tuple[int, int],
        headcount: int,
        pay_rate: Decimal,
        bill_rate: Decimal,
        at: dt.datetime,
    ) -> PlannedOrder:
        starts, ends = shift_times(day=date, start=dt.time(hours[0]), end=dt.time(hours[1]), zone=_site_zone(site))
        order = PlannedOrder(key, site, title, date, hours, headcount, pay_rate, bill_rate, at, starts, ends)
        self.orders.append(order)
        return order

    def _busy(self, worker_id: int, order: PlannedOrder) -> list[Window]:
        return [
            (o.starts - REST, o.ends + REST)
            for o in self.orders
            if o is not order
            for c in o.calls
            if c.worker_id == worker_id and c.status in OFFER_HOLDS_PLACE
        ]

    def dispatch(self, order: PlannedOrder, at: dt.datetime) -> None:
        """The plan (``dispatch_run_execute``'s instance from the morning's snapshot, solved here), then the
        call-ups sent."""
        import time

        holders = {c.worker_id for o in self.orders if o is not order for c in o.calls if c.status in OFFER_HOLDS_PLACE}
        holds: dict[int, list[Window]] = {}
        for o in self.orders:
            for c in o.calls:
                if c.status in OFFER_HOLDS_PLACE and c.worker_id in holders:
                    holds.setdefault(c.worker_id, []).append((o.starts - REST, o.ends + REST))
        workers_in = []
        for pk, (rank, shows, no_shows, skills, lat, lon, per_day) in sorted(self.pool.items()):
            if "loader" not in skills:
                continue
            busy = holds.get(pk, [])
            free = _subtract([w for w in self.rota.get(pk, ()) if w[0] < order.ends and w[1] > order.starts], busy)
            # Only who could take the shift at all: the solver never calls anyone else (same plan, smaller model).
            if not any(a <= order.starts and order.ends <= b for a, b in free):
                continue
            workers_in.append(
                adapter.WorkerIn(
                    worker_id=pk,
                    rank=rank,
                    shows=shows,
                    no_shows=no_shows,
                    skills=skills,
                    location=(lat, lon),
                    available=sorted(free),
                    max_shifts_per_day=per_day,
                )
            )
        shift = adapter.ShiftIn(
            shift_id=order.key,
            start=order.starts,
            end=order.ends,
            headcount=order.headcount,
            skills=["loader"],
            location=(float(order.site.latitude), float(order.site.longitude)),
        )
        t0 = time.perf_counter()
        plan = adapter.plan_build_and_solve(
            workers=workers_in,
            shifts=[shift],
            prior=self.prior,
            time_limit_s=settings.STAFFING_SOLVER_TIME_LIMIT_S,
            standby_size=max(5, order.headcount // 2),
            seed=order.key % 2**31,
        )
        self.solver_s += time.perf_counter() - t0
        self.solver_calls += 1
        order.solution = plan.solution
        order.figures = {"prior": list(self.prior), "workers": len(workers_in), "shifts": 1, "status": plan.status}
        shift_plan = plan.plans.get(order.key)
        if plan.status == "infeasible" or shift_plan is None:
            return
        for standby, ids in ((False, shift_plan.called), (True, shift_plan.standby)):
            for position, pk in enumerate(ids, start=1):
                rank, shows, no_shows = self.pool[pk][:3]
                self._seq += 1
                order.calls.append(
                    Call(
                        worker_id=pk,
                        position=position,
                        is_standby=standby,
                        seq=self._seq,
                        key=order.key * 10**5 + pk,
                        show_probability=round(adapter.probability_of_show(shows, no_shows, self.prior), 4),
                        worker_rank=round(rank, 2),
                    )
                )
        order.call_cap = len(shift_plan.called)
        order.expected_attendance = shift_plan.expected_attendance
        order.fill_probability = shift_plan.fill_probability
        self._send(order, [c for c in order.ordered() if not c.is_standby], 1, at)

    # --- the services' steps, on plain objects ------------------------------------------------------------------

    def _send(self, order: PlannedOrder, calls: list[Call], wave: int, now: dt.datetime) -> None:
        expires = min(now + ttl(), order.starts)
        for c in calls:
            c.status, c.wave, c.offered_at, c.expires_at, c.responded_at = OfferStatus.OFFERED, wave, now, expires, None
            c.sends += 1

    def _top_up(self, order: PlannedOrder, now: dt.datetime) -> None:
        if order.starts <= now:
            return
        waiting = sum(1 for c in order.calls if c.status == OfferStatus.OFFERED)
        places = order.call_cap - order.accepted - waiting
        if places <= 0:
            return
        standby = sorted(
            (c for c in order.calls if c.status == OfferStatus.STANDBY),
            key=lambda c: (c.offered_at is None, c.offered_at or now, c.position, c.seq),
        )[:places]
        if standby:
            self._send(order, standby, max(c.wave for c in order.calls) + 1, now)

    def _accept(self, order: PlannedOrder, c: Call, now: dt.datetime) -> bool:
        if c.status in OFFER_HOLDS_PLACE:
            return True
        offered_before = c.status == OfferStatus.STANDBY and c.offered_at is not None
        if not offered_before and (
            c.status != OfferStatus.OFFERED or (c.expires_at is not None and c.expires_at <= now)
        ):
            return False
        if order.starts <= now:
            return False
        if any(a < order.ends + REST and order.starts - REST < b for a, b in self._held(c.worker_id, order)):
            return False
        if order.accepted >= order.call_cap:
            return False  # shift_full: stays where it was
        late = now >= order.starts - cutoff()
        c.status = OfferStatus.CONFIRMED if late else OfferStatus.ACCEPTED
        c.responded_at, c.confirmed_at = now, now if late else None
        order.accepted += 1
        if order.accepted >= order.call_cap:
            for other in order.calls:
                if other.status == OfferStatus.OFFERED:
                    other.status, other.is_standby = OfferStatus.STANDBY, True
        return True

    def _held(self, worker_id: int, order: PlannedOrder) -> list[Window]:
        return [
            (o.starts, o.ends)
            for o in self.orders
            if o is not order
            for c in o.calls
            if c.worker_id == worker_id and c.status in OFFER_HOLDS_PLACE
        ]

    def _decline(self, order: PlannedOrder, c: Call, now: dt.datetime) -> bool:
        if c.status not in (OfferStatus.OFFERED, OfferStatus.STANDBY, OfferStatus.ACCEPTED, OfferStatus.CONFIRMED):
            return False
        if c.status in OFFER_HOLDS_PLACE:
            if order.starts <= now:
                return False
            order.accepted -= 1
        c.status, c.responded_at = OfferStatus.DECLINED, now
        self._top_up(order, now)
        return True

    def _expire(self, order: PlannedOrder, now: dt.datetime) -> None:
        due = [
            c
            for c in order.calls
            if c.status == OfferStatus.OFFERED and c.expires_at is not None and c.expires_at <= now
        ]
        for c in due:
            c.status = OfferStatus.EXPIRED
        if due:
            self._top_up(order, now)

    # --- the simulator's day, as ``Agency`` lives it ------------------------------------------------------------

    def answer(self, at: dt.datetime, traits: Any) -> int:
        """``Agency._answer`` on the orders in memory: one round of answers, then the silent ones' expiry."""
        answered = 0
        rows = [
            (o, c, c.expires_at)
            for o in self.orders
            for c in o.ordered()
            if c.status == OfferStatus.OFFERED and c.offered_at is not None and c.offered_at <= at
        ]
        expired: list[PlannedOrder] = []
        for o, c, expires in rows:
            t: WorkerTraits = traits(c.worker_id)
            if expires is not None and expires <= at:
                expired.append(o)
                continue
            if not chance(self.seed, "answers", c.key, t.answers_p):
                continue
            done = (
                self._accept(o, c, at) if chance(self.seed, "accepts", c.key, t.accept_p) else self._decline(o, c, at)
            )
            answered += int(done)
        later = at + dt.timedelta(minutes=31)
        silent = {id(o): o for o, _c, e in rows if e is not None and e <= later} | {id(o): o for o in expired}
        for o in self.orders:  # in the order the shifts were made
            if id(o) in silent:
                self._expire(o, later)
                answered += 1
        return answered

    def evening(self, day: dt.date, traits: Any) -> None:
        """``Agency.evening``: the day-before question, the answers, the release at the cut-off (refilled from the
        plan's standby)."""
        at = dt.datetime.combine(day, dt.time(18), tzinfo=dt.UTC)
        for o in self.orders:
            if o.starts <= at + cutoff() or o.starts > at + ask():
                continue
            for c in o.ordered():
                if c.status == OfferStatus.ACCEPTED and c.confirm_requested_at is None:
                    c.confirm_requested_at = at
        for o in self.orders:
            if o.date != day + dt.timedelta(days=1):
                continue
            for c in o.ordered():
                asked = c.status == OfferStatus.ACCEPTED and c.confirm_requested_at is not None and o.starts > at
                if asked and chance(self.seed, "confirms", c.key, traits(c.worker_id).confirm_p):
                    c.status, c.confirmed_at = OfferStatus.CONFIRMED, at
        release = at + dt.timedelta(hours=1)
        for o in self.orders:
            if not release < o.starts <= release + cutoff():
                continue
            gone = [c for c in o.calls if c.status == OfferStatus.ACCEPTED and c.confirm_requested_at is not None]
            for c in gone:
                c.status, c.released_at = OfferStatus.RELEASED, release
            if gone:
                o.accepted -= len(gone)
                self._top_up(o, release)

    def attend(self, day: dt.date, traits: Any) -> list[PlannedOrder]:
        """``Agency.shifts`` for the orders of ``day``: they come (check in, out, maybe a score) or not; returns
        those orders, taken out of memory (ready to be written)."""
        todays = [o for o in self.orders if o.date == day]
        self.orders = [o for o in self.orders if o.date != day]
        for o in todays:
            for c in o.ordered():
                if c.status not in (OfferStatus.ACCEPTED, OfferStatus.CONFIRMED):
                    continue
                t = traits(c.worker_id)
                if chance(self.seed, "shows", c.key, t.show_p):
                    c.status = OfferStatus.COMPLETED
                    c.checked_in_at, c.checked_out_at = o.starts - dt.timedelta(minutes=10), o.ends
                    if chance(self.seed, "rated", c.key, 0.4):
                        score = round(random.Random(f"{self.seed}:q:{c.key}").gauss(t.quality, 1))
                        c.quality_score, c.rated_at = max(1, min(10, score)), o.ends
                else:
                    c.status, c.marked_at = OfferStatus.NO_SHOW, o.starts + dt.timedelta(hours=1)
            for c in o.calls:  # whatever still waits is over with the shift
                if c.status == OfferStatus.OFFERED:
                    c.status = OfferStatus.EXPIRED
        return todays


def _subtract(windows: list[Window], busy: list[Window]) -> list[Window]:
    out = []
    for a, b in sorted(windows):
        pieces = [(a, b)]
        for x, y in busy:
            pieces = [p for s, e in pieces for p in ((s, min(e, x)), (max(s, y), e)) if p[1] > p[0]]
        out += pieces
    return out
