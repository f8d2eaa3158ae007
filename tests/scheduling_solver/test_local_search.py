"""The local search's exact leave-one-out costs agree with recomputing from scratch, full_first
penalty and P(X = h - 1) included."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling_solver.local_search import _without_each
from scheduling_solver.probability import poisson_binomial_pmf, shift_outcome


@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=12),
    st.integers(1, 8),
    st.floats(0.5, 20),
    st.sampled_from([0.0, 7.5, 40.0]),
)
@settings(max_examples=80, deadline=None)
def test_leave_one_out_matches_recomputation(ps, h, cu, pen):
    got = _without_each(ps, h, cu, 1.0, pen)
    for i, (cost, fill, edge) in enumerate(got):
        rest = ps[:i] + ps[i + 1 :]
        exact = shift_outcome(rest, h, cu, 1.0, pen)
        assert cost == pytest.approx(exact.expected_cost, abs=1e-6)
        assert fill == pytest.approx(exact.fill_probability, abs=1e-9)
        pmf = poisson_binomial_pmf(rest)
        assert edge == pytest.approx(float(pmf[h - 1]) if h - 1 < len(pmf) else 0.0, abs=1e-9)
