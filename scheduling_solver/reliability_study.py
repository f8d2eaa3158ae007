"""Simulated show-up histories, and the scores that judge a show-probability estimate against them.

The staffing app's reliability score is :func:`scheduling_solver.probability.show_probability` over
:func:`~scheduling_solver.probability.decayed_counts`, shrunk to the prior from
:func:`~scheduling_solver.probability.fit_prior`. This module checks that choice without Django: it draws a
pool whose hidden show rates are known, lets some workers change their habits part-way through their history
(so old calls mislead), then scores each estimate on every worker's next call:

* the **Brier score**, mean of (predicted - came)^2: lower is better; a constant 0.5 scores 0.25;
* **calibration per decile**: workers sorted by the predicted probability and cut into ten equal groups;
  in a calibrated estimate each group's share of workers who came matches its mean prediction.

The baseline is the raw show ratio (shows / calls, the pool's overall ratio for a worker never called), which
is what an agency's spreadsheet says. The test (tests/scheduling_solver/test_reliability_calibration.py) and
the benchmark (benchmarks/reliability_bench.py) both run on this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scheduling_solver.probability import decayed_counts, fit_prior, show_probability

DEFAULT_PRIOR = (4.0, 1.0)  # the solver's Policy.prior: used until the pool is large enough to fit one


@dataclass(frozen=True)
class SimulatedPool:
    """Per worker: ages (days) of past calls, whether they came to each, and their next call's outcome."""

    ages: list[np.ndarray]
    showed: list[np.ndarray]
    true_rate: np.ndarray  # the hidden rate today, which the next call is drawn from
    next_came: np.ndarray


def _mixture(rng: np.random.Generator, n: int) -> np.ndarray:
    # 55% regulars (mean ~0.88), 45% occasionals (mean 0.5), as in scheduling_solver.generator.
    regular = rng.random(n) < 0.55
    return np.where(regular, rng.beta(14, 2, n), rng.beta(4, 4, n))


def simulate_pool(
    n_workers: int, seed: int, *, horizon_days: float = 730.0, newcomer_share: float = 0.2, drift_share: float = 0.35
) -> SimulatedPool:
    """A pool of ``n_workers`` with call histories over up to ``horizon_days``.

    ``newcomer_share`` of workers joined within the last 30 days (few or no calls); ``drift_share`` of workers had
    a different show rate before a change point somewhere in their tenure (a regular who started skipping, an
    occasional who settled down). Call frequency varies a lot between workers (log-normal, 1 call every 2-100 days).
    """
    rng = np.random.default_rng(seed)
    today = _mixture(rng, n_workers)
    before = _mixture(rng, n_workers)
    drifted = rng.random(n_workers) < drift_share
    tenure = np.where(
        rng.random(n_workers) < newcomer_share, rng.uniform(0, 30, n_workers), rng.uniform(30, horizon_days, n_workers)
    )
    calls_per_day = np.clip(rng.lognormal(np.log(0.08), 0.8, n_workers), 0.01, 0.5)
    change_age = rng.uniform(0, 1, n_workers) * tenure
    ages: list[np.ndarray] = []
    showed: list[np.ndarray] = []
    for i in range(n_workers):
        age = rng.uniform(0, tenure[i], rng.poisson(calls_per_day[i] * tenure[i]))
        rate = np.where(drifted[i] & (age > change_age[i]), before[i], today[i])
        ages.append(age)
        showed.append(rng.random(len(age)) < rate)
    return SimulatedPool(ages=ages, showed=showed, true_rate=today, next_came=rng.random(n_workers) < today)


def predict_posterior(
    pool: SimulatedPool, half_life_days: float, default_prior: tuple[float, float] = DEFAULT_PRIOR
) -> tuple[np.ndarray, tuple[float, float]]:
    """The reliability score as the staffing app computes it: decayed counts, prior fitted to the pool, posterior
    mean. Returns the per-worker predictions and the prior used."""
    counts = [decayed_counts(a, s, half_life_days) for a, s in zip(pool.ages, pool.showed, strict=True)]
    prior = fit_prior(counts, default_prior)
    shows = np.array([c[0] for c in counts])
    no_shows = np.array([c[1] for c in counts])
    return show_probability(shows, no_shows, prior), prior


def predict_raw_ratio(pool: SimulatedPool) -> np.ndarray:
    """Baseline: each worker's shows / calls, all calls alike; the pool's overall ratio for the never-called."""
    calls = np.array([len(s) for s in pool.showed], dtype=float)
    shows = np.array([s.sum() for s in pool.showed], dtype=float)
    pooled = shows.sum() / calls.sum() if calls.sum() else 0.5
    return np.where(calls > 0, shows / np.maximum(calls, 1), pooled)


def brier_score(predicted: np.ndarray, came: np.ndarray) -> float:
    """Mean squared error of probabilities against 0/1 outcomes (lower is better)."""
    return float(np.mean((np.asarray(predicted, dtype=float) - np.asarray(came, dtype=float)) ** 2))


@dataclass(frozen=True)
class CalibrationRow:
    """One decile: how many workers, their mean predicted probability and the share that came."""

    decile: int
    workers: int
    predicted: float
    observed: float


def calibration_table(predicted: np.ndarray, came: np.ndarray, groups: int = 10) -> list[CalibrationRow]:
    """Workers sorted by prediction and cut into ``groups`` equal-count groups (deciles by default)."""
    order = np.argsort(predicted, kind="stable")
    rows = []
    for k, part in enumerate(np.array_split(order, groups), start=1):
        rows.append(
            CalibrationRow(
                decile=k,
                workers=len(part),
                predicted=float(np.mean(predicted[part])),
                observed=float(np.mean(came[part])),
            )
        )
    return rows


def format_calibration(rows: list[CalibrationRow]) -> str:
    """The calibration table as aligned text."""
    lines = ["decile  workers  predicted  observed  gap"]
    for r in rows:
        lines.append(
            f"{r.decile:>6}  {r.workers:>7}  {r.predicted:>9.3f}  {r.observed:>8.3f}  {r.observed - r.predicted:+.3f}"
        )
    return "\n".join(lines)
