"""The reliability score (decayed Beta posterior shrunk to the fitted prior) on simulated histories: it beats
the raw show ratio on Brier score and is calibrated per decile. Fixed seeds; the bounds leave room for noise
(the benchmark, benchmarks/reliability_bench.py, prints the figures)."""

import numpy as np
import pytest

from scheduling_solver.probability import decay_weights, decayed_counts, fit_prior, show_probability
from scheduling_solver.reliability_study import (
    DEFAULT_PRIOR,
    brier_score,
    calibration_table,
    predict_posterior,
    predict_raw_ratio,
    simulate_pool,
)

HALF_LIFE = 180.0  # the staffing setting's default


@pytest.fixture(scope="module")
def pool():
    return simulate_pool(20_000, seed=7)


def test_posterior_beats_the_raw_ratio_on_brier(pool):
    posterior, _ = predict_posterior(pool, HALF_LIFE)
    raw = predict_raw_ratio(pool)
    assert brier_score(posterior, pool.next_came) < brier_score(raw, pool.next_came) - 0.008


def test_decay_beats_counting_every_call_alike(pool):
    decayed, _ = predict_posterior(pool, HALF_LIFE)
    undecayed, _ = predict_posterior(pool, 1e9)
    assert brier_score(decayed, pool.next_came) < brier_score(undecayed, pool.next_came)


def test_posterior_is_calibrated_per_decile(pool):
    posterior, _ = predict_posterior(pool, HALF_LIFE)
    rows = calibration_table(posterior, pool.next_came)
    assert [r.workers for r in rows] == [2000] * 10
    # 2,000 workers per decile: one standard error of the observed share is about 0.01.
    assert max(abs(r.observed - r.predicted) for r in rows) < 0.05
    # The deciles rise: the score orders workers by how likely they are to come.
    assert all(b.observed > a.observed for a, b in zip(rows, rows[3:], strict=False))


def test_raw_ratio_is_overconfident_at_the_ends(pool):
    rows = calibration_table(predict_raw_ratio(pool), pool.next_came)
    # Workers with two calls and two shows are not certain to come, nor those with one no-show certain to stay away.
    assert rows[-1].predicted - rows[-1].observed > 0.1
    assert rows[0].observed - rows[0].predicted > 0.1


def test_prior_is_fitted_to_the_pool_and_newcomers_get_its_mean(pool):
    posterior, prior = predict_posterior(pool, HALF_LIFE)
    assert prior != DEFAULT_PRIOR
    never_called = np.array([len(s) == 0 for s in pool.showed])
    assert never_called.sum() > 100
    assert np.allclose(posterior[never_called], prior[0] / (prior[0] + prior[1]))
    # The prior mean is the pool's rate among workers with a history, within sampling error.
    assert abs(prior[0] / sum(prior) - pool.true_rate.mean()) < 0.03


def test_decay_halves_at_the_half_life():
    assert decay_weights([0, 180, 360, -5], 180).tolist() == [1.0, 0.5, 0.25, 1.0]
    assert decayed_counts([0, 180, 360], [True, False, True], 180) == (1.25, 0.5)
    with pytest.raises(ValueError):
        decay_weights([1.0], 0)
    with pytest.raises(ValueError):
        decayed_counts([1.0, 2.0], [True], 30)


def test_a_recent_no_show_weighs_more_than_an_old_one():
    prior = fit_prior([], DEFAULT_PRIOR)
    recent = show_probability(*decayed_counts([1, 400, 400, 400], [False, True, True, True], HALF_LIFE), prior)
    old = show_probability(*decayed_counts([400, 1, 1, 1], [False, True, True, True], HALF_LIFE), prior)
    assert recent < old
