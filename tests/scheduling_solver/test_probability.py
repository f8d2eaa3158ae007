"""Exact Poisson-binomial attendance against brute-force enumeration."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling_solver.probability import poisson_binomial_pmf, shift_outcome


def brute_pmf(ps):
    pmf = np.zeros(len(ps) + 1)
    for came in itertools.product([0, 1], repeat=len(ps)):
        pmf[sum(came)] += math.prod(p if c else 1 - p for p, c in zip(ps, came, strict=True))
    return pmf


@given(st.lists(st.floats(0, 1), min_size=0, max_size=10))
@settings(max_examples=60, deadline=None)
def test_pmf_matches_brute_force(ps):
    assert np.allclose(poisson_binomial_pmf(ps), brute_pmf(ps), atol=1e-12)


@given(st.lists(st.floats(0, 1), min_size=0, max_size=9), st.integers(1, 6), st.floats(0, 10), st.floats(0, 10))
@settings(max_examples=60, deadline=None)
def test_outcome_matches_brute_force(ps, headcount, cu, ci):
    pmf = brute_pmf(ps)
    k = np.arange(len(pmf))
    out = shift_outcome(ps, headcount, cu, ci)
    assert out.fill_probability == pytest.approx(pmf[k >= headcount].sum(), abs=1e-12)
    shortfall = (pmf * np.maximum(headcount - k, 0)).sum()
    surplus = (pmf * np.maximum(k - headcount, 0)).sum()
    assert out.expected_cost == pytest.approx(cu * shortfall + ci * surplus, abs=1e-9)
    assert out.expected_attendance == pytest.approx(sum(ps), abs=1e-12)


def test_no_calls_leave_the_whole_shift_empty():
    out = shift_outcome([], 3, 6.0, 1.0)
    assert (out.fill_probability, out.expected_cost) == (0.0, 18.0)


def test_certain_workers_fill_exactly():
    out = shift_outcome([1.0, 1.0, 1.0], 2, 6.0, 1.0)
    assert out.fill_probability == 1.0
    assert out.expected_cost == pytest.approx(1.0)  # one idle extra
