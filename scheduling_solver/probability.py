"""A worker's show probability, exact Poisson-binomial attendance and the expected cost of a call list.

:func:`show_probability` is the one definition of how likely a worker is to come; every other module
(problem building, validation, the benchmark) calls it rather than restating the formula, so the solver
optimises and the validator checks the same number. :func:`fit_prior` fits the population prior it
shrinks newcomers towards.

X, the number of called workers who come, is a sum of independent Bernoulli(p_i). Its distribution is
built by dynamic programming over workers (O(n^2)), which is exact up to float rounding, unlike the
normal or Poisson approximations that go wrong for small shifts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

# A float for one worker, an array for all of them at once; the arithmetic is the same either way.
Counts = TypeVar("Counts", float, np.ndarray)

# Workers with fewer (decayed) past calls than this say too little about their own rate to fit a prior on.
_PRIOR_MIN_CALLS = 10
# Below this many such workers, moments are too noisy and the default prior is kept.
_PRIOR_MIN_WORKERS = 30
# Cap on the fitted prior's pseudo-count, so a long history still outweighs the population.
_PRIOR_MAX_STRENGTH = 10.0


def show_probability(shows: Counts, no_shows: Counts, prior: tuple[float, float]) -> Counts:
    """Posterior mean of a worker's show rate: Beta(a, b) prior updated with the (time-decayed) counts.

    ``shows`` and ``no_shows`` may be fractional because the caller decays old calls before passing them;
    a newcomer with no history gets the prior mean a / (a + b). Works element-wise on numpy arrays.
    """
    a, b = prior
    return (shows + a) / (shows + no_shows + a + b)


def fit_prior(histories: Iterable[tuple[float, float]], default: tuple[float, float]) -> tuple[float, float]:
    """Beta prior fitted by moments to the raw show rates of workers with enough ``(shows, no_shows)``
    history, so newcomers start at the population's rate rather than at a guess; ``default`` when the
    histories are too few or their spread does not fit a Beta."""
    rates = [shows / (shows + no_shows) for shows, no_shows in histories if shows + no_shows >= _PRIOR_MIN_CALLS]
    if len(rates) < _PRIOR_MIN_WORKERS:
        return default
    m = float(np.mean(rates))
    v = float(np.var(rates))
    if v <= 0 or v >= m * (1 - m):
        return default
    strength = min(m * (1 - m) / v - 1, _PRIOR_MAX_STRENGTH)
    return (round(m * strength, 3), round((1 - m) * strength, 3))


def poisson_binomial_pmf(probabilities: Sequence[float] | np.ndarray) -> np.ndarray:
    """P(X = k) for k = 0..n, where X is the number of successes among independent Bernoulli(p_i)."""
    pmf = np.zeros(len(probabilities) + 1)
    pmf[0] = 1.0
    for n, p in enumerate(probabilities, start=1):
        # Convolve with (1 - p, p); only the first n + 1 entries can be non-zero so far.
        pmf[1 : n + 1] = pmf[1 : n + 1] * (1.0 - p) + pmf[0:n] * p
        pmf[0] *= 1.0 - p
    return pmf


@dataclass(frozen=True, slots=True)
class ShiftOutcome:
    """Exact consequences of calling a set of workers for one shift."""

    expected_attendance: float
    fill_probability: float
    expected_shortfall: float
    expected_surplus: float
    expected_cost: float


def shift_outcome(
    probabilities: Sequence[float] | np.ndarray,
    headcount: int,
    cost_unfilled: float,
    cost_idle: float,
    shortfall_penalty: float = 0.0,
) -> ShiftOutcome:
    """Exact P(X >= headcount), E[(h - X)+], E[(X - h)+] and the expected cost for one shift.

    The cost is ``cost_unfilled`` x E[(h - X)+] + ``cost_idle`` x E[(X - h)+] + ``shortfall_penalty`` x
    P(X < h); callers pass the shortfall terms already scaled by the shift's priority
    (:meth:`scheduling_solver.schemas.Instance.service_terms`).
    """
    pmf = poisson_binomial_pmf(probabilities)
    k = np.arange(len(pmf))
    shortfall = float(np.dot(pmf, np.maximum(headcount - k, 0)))
    surplus = float(np.dot(pmf, np.maximum(k - headcount, 0)))
    fill = float(pmf[headcount:].sum()) if headcount < len(pmf) else 0.0
    short_of_full = 1.0 - min(1.0, max(0.0, fill))
    return ShiftOutcome(
        expected_attendance=float(np.sum(probabilities)),
        fill_probability=min(1.0, max(0.0, fill)),
        expected_shortfall=shortfall,
        expected_surplus=surplus,
        # Written so a zero penalty adds exactly 0.0: old figures stay bit-for-bit the same.
        expected_cost=cost_unfilled * shortfall + cost_idle * surplus + shortfall_penalty * short_of_full,
    )


def decay_weights(ages_days: Sequence[float] | np.ndarray, half_life_days: float) -> np.ndarray:
    """Weight of each past call by its age: 1 today, 1/2 after ``half_life_days``, 1/4 after two half-lives.

    The one definition of time decay: what :func:`show_probability` expects its ``shows`` and ``no_shows``
    to have been decayed with. A negative age (a call dated after ``now``) counts as today.
    """
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    ages = np.maximum(np.asarray(ages_days, dtype=float), 0.0)
    return np.asarray(np.exp2(-ages / half_life_days))


def decayed_counts(
    ages_days: Sequence[float] | np.ndarray, showed: Sequence[bool] | np.ndarray, half_life_days: float
) -> tuple[float, float]:
    """Time-decayed ``(shows, no_shows)`` of one worker's past calls, ready for :func:`show_probability`
    and :func:`fit_prior`; ``ages_days[i]`` is how long ago call ``i`` was, ``showed[i]`` whether they came."""
    weights = decay_weights(ages_days, half_life_days)
    came = np.asarray(showed, dtype=bool)
    if weights.shape != came.shape:
        raise ValueError("ages_days and showed must have the same length")
    return float(weights[came].sum()), float(weights[~came].sum())
