"""Exact Poisson-binomial attendance and the expected cost of a call list.

X, the number of called workers who come, is a sum of independent Bernoulli(p_i). Its distribution is
built by dynamic programming over workers (O(n^2)), which is exact up to float rounding, unlike the
normal or Poisson approximations that go wrong for small shifts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


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
    probabilities: Sequence[float] | np.ndarray, headcount: int, cost_unfilled: float, cost_idle: float
) -> ShiftOutcome:
    """Exact P(X >= headcount), E[(h - X)+], E[(X - h)+] and the expected cost for one shift."""
    pmf = poisson_binomial_pmf(probabilities)
    k = np.arange(len(pmf))
    shortfall = float(np.dot(pmf, np.maximum(headcount - k, 0)))
    surplus = float(np.dot(pmf, np.maximum(k - headcount, 0)))
    fill = float(pmf[headcount:].sum()) if headcount < len(pmf) else 0.0
    return ShiftOutcome(
        expected_attendance=float(np.sum(probabilities)),
        fill_probability=min(1.0, max(0.0, fill)),
        expected_shortfall=shortfall,
        expected_surplus=surplus,
        expected_cost=cost_unfilled * shortfall + cost_idle * surplus,
    )
