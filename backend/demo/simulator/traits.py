"""Hidden propensities of the simulated people (ADR 0028).

Nothing here is stored: every trait is drawn from a random generator seeded by the simulation seed and the
person's id, so the same seed gives the same people on every run (and every ``simulate`` call continues the same
lives). The analytics never see these numbers; they must find the structure from what the services stored.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

#: Visits per month by calendar month (a December peak, a summer dip), and by weekday (Monday = 0).
SEASON = {1: 0.85, 2: 0.95, 3: 1.1, 4: 1.0, 5: 1.05, 6: 0.9, 7: 0.8, 8: 0.8, 9: 1.0, 10: 1.05, 11: 1.1, 12: 1.35}
WEEKDAY = (0.7, 0.85, 0.95, 1.0, 1.25, 1.45, 0.8)


@dataclass(frozen=True)
class CustomerTraits:
    """One end customer of a booking business."""

    joins: dt.date  # first visit (the acquisition date)
    cadence_days: float  # mean days between visits while active
    leaves: dt.date | None  # drifts away from this day (None: stays through the horizon)
    returns: dt.date | None  # comes back on this day after drifting away (None: gone for good)
    cancel_p: float
    no_show_p: float
    review_p: float
    satisfaction: float  # mean review score, 1-10
    branch_pick: float  # which branch / master / services they prefer, as uniform draws
    master_pick: float
    service_pick: float

    def active(self, day: dt.date) -> bool:
        if day < self.joins:
            return False
        if self.leaves is None or day < self.leaves:
            return True
        return self.returns is not None and day >= self.returns


@dataclass(frozen=True)
class WorkerTraits:
    """One pool worker: how they answer call-ups and whether they come."""

    answers_p: float  # answers a call-up at all (else it expires)
    accept_p: float  # accepts when answering
    show_p: float  # the true reliability: comes when booked
    confirm_p: float  # confirms the day before when asked
    quality: float  # the foreman's mean score, 1-10
    weekly_p: float  # declares availability for a given week


def _rng(seed: int, kind: str, pk: int) -> random.Random:
    return random.Random(f"{seed}:{kind}:{pk}")


def customer_traits(
    *, seed: int, client_id: int, epoch: dt.date, span_days: int, cadence_mean: float
) -> CustomerTraits:
    """Traits of one client: joins somewhere in ``span_days`` after ``epoch`` (more of them early, as a business
    that grew), visits every ``cadence_mean`` days on average (log-normal across clients), and may drift away."""
    r = _rng(seed, "customer", client_id)
    joins = epoch + dt.timedelta(days=int(span_days * r.random() ** 1.3))
    cadence = cadence_mean * math.exp(r.gauss(0.0, 0.45))
    leaves: dt.date | None = None
    returns: dt.date | None = None
    if r.random() < 0.65:  # most drift away at some point; early visits decide (a short first life is common)
        life = int(r.expovariate(1 / (0.45 * span_days)) + min(cadence / 2, 0.1 * span_days))
        leaves = joins + dt.timedelta(days=life)
        if r.random() < 0.2:
            returns = leaves + dt.timedelta(days=60 + int(r.random() * 180))
    flaky = r.random() < 0.15
    return CustomerTraits(
        joins=joins,
        cadence_days=cadence,
        leaves=leaves,
        returns=returns,
        cancel_p=0.22 if flaky else 0.05 + 0.05 * r.random(),
        no_show_p=0.12 if flaky else 0.02 + 0.03 * r.random(),
        review_p=0.15 + 0.35 * r.random(),
        satisfaction=min(10.0, max(2.0, r.gauss(8.4, 1.3))),
        branch_pick=r.random(),
        master_pick=r.random(),
        service_pick=r.random(),
    )


def worker_traits(*, seed: int, worker_id: int) -> WorkerTraits:
    """Traits of one pool worker: most are dependable, a tail is not (a Beta-like mix)."""
    r = _rng(seed, "worker", worker_id)
    shaky = r.random() < 0.2
    return WorkerTraits(
        answers_p=0.6 + 0.35 * r.random(),
        accept_p=0.35 + 0.5 * r.random(),
        show_p=0.55 + 0.25 * r.random() if shaky else 0.9 + 0.09 * r.random(),
        confirm_p=0.8 if shaky else 0.97,
        quality=min(10.0, max(3.0, r.gauss(7.5, 1.2))),
        weekly_p=0.15 + 0.45 * r.random(),
    )


def chance(seed: int, kind: str, pk: int, p: float) -> bool:
    """A fixed coin for one event of one object (cancelled? missed? reviewed?), so re-runs agree."""
    return _rng(seed, kind, pk).random() < p
