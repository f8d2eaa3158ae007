"""Synthetic but realistic city days for tests and the benchmark.

Workers and orders cluster in districts; skills have uneven popularity; availability windows overlap
the day in different ways; order sizes run from 2 to 150 with many small ones; every worker has a
hidden true show rate drawn from a two-group Beta mixture (reliable regulars and unreliable
occasionals), and a decayed show/no-show history drawn from that rate. Rank is a client rating that
only loosely follows reliability, which is exactly why "call the best-ranked" over-books blindly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import numpy as np

from scheduling_solver.schemas import Instance, Policy, Shift, Worker

SKILLS = ("loader", "packer", "cleaner", "mover", "picker", "waiter", "promoter", "driver")
_SKILL_WEIGHTS = np.array([0.26, 0.2, 0.15, 0.12, 0.1, 0.08, 0.05, 0.04])
_CENTRE = (59.93, 30.31)
_TZ = timezone(timedelta(hours=3))
_DAY = datetime(2026, 12, 1, tzinfo=_TZ)
_KM_LAT = 111.2
_KM_LON = 111.2 * np.cos(np.radians(_CENTRE[0]))


@dataclass(frozen=True)
class GeneratedDay:
    """An instance plus the hidden truth the benchmark simulates with."""

    instance: Instance
    true_rates: np.ndarray  # per worker, aligned with instance.workers


def _points(rng: np.random.Generator, n: int, districts: np.ndarray, spread_km: float) -> np.ndarray:
    which = rng.integers(0, len(districts), size=n)
    km = districts[which] + rng.normal(0.0, spread_km, size=(n, 2))
    return np.column_stack([_CENTRE[0] + km[:, 0] / _KM_LAT, _CENTRE[1] + km[:, 1] / _KM_LON])


def _time(hours: float) -> datetime:
    return _DAY + timedelta(minutes=round(hours * 4) * 15)


def generate_day(
    n_workers: int, n_shifts: int, seed: int = 0, *, policy: Policy | None = None, demand_ratio: float = 0.45
) -> GeneratedDay:
    """A city day with ``n_workers`` and ``n_shifts``; total headcount is about ``demand_ratio`` x workers."""
    rng = np.random.default_rng(seed)
    n_districts = 12
    angle = rng.uniform(0, 2 * np.pi, n_districts)
    radius = rng.uniform(2.0, 16.0, n_districts)
    districts = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])

    # Hidden truth: 55% regulars (mean ~0.88), 45% occasionals (mean ~0.5): about a third don't come.
    regular = rng.random(n_workers) < 0.55
    true = np.where(regular, rng.beta(14, 2, n_workers), rng.beta(4, 4, n_workers))
    # History: past calls, each worker's shows drawn from the true rate, then decayed with age.
    past = rng.negative_binomial(2, 0.12, n_workers)
    shows = rng.binomial(past, true)
    decay = rng.uniform(0.45, 1.0, n_workers)
    rank = np.clip(55 + 35 * (true - 0.7) / 0.3 + rng.normal(0, 14, n_workers), 0, 100)

    w_loc = _points(rng, n_workers, districts, 4.0)
    n_skills = rng.choice([1, 1, 2, 2, 3], size=n_workers)
    workers: list[Worker] = []
    for i in range(n_workers):
        skills = rng.choice(len(SKILLS), size=n_skills[i], replace=False, p=_SKILL_WEIGHTS)
        start = float(rng.choice([5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 14.0]))
        length = float(rng.uniform(8, 17))
        windows = [(_time(start), _time(min(start + length, 23.75)))]
        if rng.random() < 0.15:
            # An evening window after a gap: these workers cannot take a shift spanning the gap.
            windows = [(_time(6.0), _time(13.0)), (_time(15.0), _time(23.5))]
        workers.append(
            Worker(
                id=f"w{i}",
                rank=round(float(rank[i]), 1),
                shows=round(float(shows[i] * decay[i]), 2),
                no_shows=round(float((past[i] - shows[i]) * decay[i]), 2),
                skills=tuple(SKILLS[k] for k in sorted(skills)),
                location=(float(w_loc[i, 0]), float(w_loc[i, 1])),
                available=tuple(windows),
                max_shifts_per_day=2 if rng.random() < 0.2 else 1,
            )
        )

    # Order sizes: mostly small crews, some large events; scaled to the requested total demand.
    raw = np.exp(rng.normal(1.3, 0.9, n_shifts))
    big = rng.random(n_shifts) < 0.01
    raw[big] = rng.uniform(50, 150, big.sum())
    target = demand_ratio * n_workers
    scale = target / raw.sum() if raw.sum() > 0 else 1.0
    headcount = np.clip(np.round(raw * scale), 2, 150).astype(int)
    s_loc = _points(rng, n_shifts, districts, 3.0)
    shifts: list[Shift] = []
    for j in range(n_shifts):
        start = float(rng.choice([6.0, 7.0, 8.0, 8.0, 9.0, 10.0, 12.0, 14.0, 16.0, 18.0]))
        length = float(rng.choice([4.0, 6.0, 8.0, 8.0, 10.0, 12.0]))
        need = 2 if rng.random() < 0.1 else 1
        skills = rng.choice(len(SKILLS), size=need, replace=False, p=_SKILL_WEIGHTS)
        shifts.append(
            Shift(
                id=f"s{j}",
                start=_time(start),
                end=_time(min(start + length, 23.5)),
                headcount=int(headcount[j]),
                skills=tuple(SKILLS[k] for k in sorted(skills)),
                location=(float(s_loc[j, 0]), float(s_loc[j, 1])),
            )
        )
    return GeneratedDay(Instance(tuple(workers), tuple(shifts), policy or Policy()), true)


# Workers per requested place on a short day: the city's scarce weekday (about 1.2 people per place,
# so with a third not coming the pool cannot cover every order).
SHORT_DAY_SUPPLY = 1.2


def short_day(n_workers: int, n_shifts: int, seed: int = 0, *, supply: float = SHORT_DAY_SUPPLY) -> GeneratedDay:
    """A short day: total headcount about ``n_workers / supply`` (default 1.2 workers per place).

    Same districts, skills, windows and hidden show rates as :func:`generate_day` for the seed; only
    the order sizes are scaled up to the scarce demand.
    """
    return generate_day(n_workers, n_shifts, seed, demand_ratio=1.0 / supply)


def with_service_policy(instance: Instance, service: str) -> Instance:
    """A copy of ``instance`` with every shift on the service policy ``service`` (spread or full_first)."""
    shifts = tuple(replace(s, policy=service) for s in instance.shifts)
    return Instance(instance.workers, shifts, instance.policy)
