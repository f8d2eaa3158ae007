"""BG/NBD, MBG/NBD and Gamma-Gamma: hand-computed likelihoods, Monte Carlo checks, parameter recovery."""

import math

import numpy as np
import polars as pl
import pytest

from analytics.churn import (
    BGNBDFit,
    GammaGammaFit,
    MBGNBDFit,
    bgnbd_log_likelihood,
    clv,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_mbgnbd,
    mbgnbd_log_likelihood,
    p_alive,
    simulate_bgnbd,
)
from analytics.pareto import ParetoNBDFit, fit_pareto_nbd

TRUE = (0.5, 6.0, 1.2, 3.0)  # r, alpha, a, b


def test_bgnbd_likelihood_hand_computed():
    # r = α = a = b = 1: B(1,2)/B(1,1) = B(2,1)/B(1,1) = 1/2.
    # x = 0, T = 1: (α / (α + T))^r = 1/2.  x = 1, t_x = 1, T = 3: ½·1/4² + ½·1/2² = 0.15625.
    ll = bgnbd_log_likelihood(1, 1, 1, 1, np.array([0, 1]), np.array([0.0, 1.0]), np.array([1.0, 3.0]))
    assert ll == pytest.approx([math.log(0.5), math.log(0.15625)])


def test_mbgnbd_likelihood_hand_computed():
    # x = 0, T = 1: ½·(1/2) + ½·1 = 0.75 (drop-out right after the first purchase is possible).
    ll = mbgnbd_log_likelihood(1, 1, 1, 1, np.array([0]), np.array([0.0]), np.array([1.0]))
    assert ll == pytest.approx([math.log(0.75)])


def test_likelihood_is_finite_for_extreme_histories():
    x = np.array([0, 500, 5000])
    ll = bgnbd_log_likelihood(0.3, 2.0, 0.5, 4.0, x, np.array([0.0, 100.0, 1000.0]), np.array([1e4, 1e4, 1e4]))
    assert np.all(np.isfinite(ll))
    assert np.all(np.isfinite(mbgnbd_log_likelihood(0.3, 2.0, 0.5, 4.0, x, np.array([0.0, 100.0, 1000.0]), 1e4)))


def test_p_alive_hand_computed():
    bg = BGNBDFit(1, 1, 1, 1, 0.0)
    assert bg.p_alive([0, 1], [0.0, 1.0], [1.0, 3.0]).tolist() == pytest.approx([1.0, 0.2])
    mbg = MBGNBDFit(1, 1, 1, 1, 0.0)
    # x = 0, T = 1: 1 / (1 + a/b · (α+T)/α) = 1/3: the share of the alive term in the likelihood, 0.25 / 0.75.
    assert mbg.p_alive([0], [0.0], [1.0]).tolist() == pytest.approx([1 / 3])


def _paths(n, params, T, t, seed, modified):
    """Full purchase paths to T + t: history up to T and the count in (T, T + t]."""
    r, alpha, a, b = params
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    k = rng.geometric(rng.beta(a, b, n)) - (1 if modified else 0)
    events = rng.poisson(lam * (T + t))
    owner = np.repeat(np.arange(n), events)
    when = rng.random(owner.size) * (T + t)
    order = np.lexsort((when, owner))
    owner, when = owner[order], when[order]
    nth = np.arange(owner.size) - np.repeat(np.concatenate([[0], np.cumsum(events)[:-1]]), events)
    keep = nth < k[owner]
    owner, when = owner[keep], when[keep]
    past = when <= T
    x = np.bincount(owner[past], minlength=n)
    t_x = np.zeros(n)
    np.maximum.at(t_x, owner[past], when[past])
    future = np.bincount(owner[~past], minlength=n)
    return x, t_x, future, k > x


@pytest.mark.parametrize("cls", [BGNBDFit, MBGNBDFit])
def test_conditional_formulas_match_monte_carlo(cls):
    T, t = 40.0, 20.0
    x, t_x, future, alive = _paths(150_000, TRUE, T, t, seed=1, modified=cls is MBGNBDFit)
    fit = cls(*TRUE, log_likelihood=0.0)
    Ts = np.full(x.size, T)
    e = fit.expected_purchases(t, x, t_x, Ts)
    pa = fit.p_alive(x, t_x, Ts)
    pn = fit.prob_no_purchase(t, x, t_x, Ts)
    for lo, hi in ((0, 0), (1, 1), (2, 3), (4, 10_000)):
        group = (x >= lo) & (x <= hi)
        assert e[group].mean() == pytest.approx(future[group].mean(), rel=0.05, abs=0.005)
        assert pa[group].mean() == pytest.approx(alive[group].mean(), abs=0.01)
        assert pn[group].mean() == pytest.approx((future[group] == 0).mean(), abs=0.01)
    assert fit.expected_purchases_new(T) == pytest.approx(x.mean(), rel=0.03)


@pytest.mark.parametrize(("fit_fn", "modified"), [(fit_bgnbd, False), (fit_mbgnbd, True)])
def test_parameter_recovery_on_simulated_customers(fit_fn, modified):
    # a and b are the least identified parameters (MBG/NBD especially): 20,000 customers keep them within
    # 25 %, while the mean drop-out probability a / (a + b), what P(alive) mostly depends on, is much tighter.
    n = 20_000
    T = np.random.default_rng(101).uniform(26, 104, n)
    summary = simulate_bgnbd(n, *TRUE, T=T, seed=1, modified=modified)
    fit = fit_fn(summary)
    got = (fit.r, fit.alpha, fit.a, fit.b)
    print("recovery", fit)  # pytest -s: the figures quoted in the closing note
    assert fit.converged
    for value, true, tol in zip(got, TRUE, (0.1, 0.1, 0.25, 0.25), strict=True):
        assert value == pytest.approx(true, rel=tol)
    assert fit.a / (fit.a + fit.b) == pytest.approx(TRUE[2] / (TRUE[2] + TRUE[3]), rel=0.08)
    ll_fn = mbgnbd_log_likelihood if modified else bgnbd_log_likelihood
    x, t_x, T_ = (summary[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    # The MLE must beat the true parameters on the data it was fitted to.
    assert fit.log_likelihood >= ll_fn(*TRUE, x, t_x, T_).sum() - 1e-6
    assert fit.n_customers == n


def test_bgnbd_gives_every_one_visit_customer_p_alive_one_but_mbgnbd_does_not():
    summary = simulate_bgnbd(3_000, *TRUE, T=52.0, seed=3)
    none = summary.filter(pl.col("frequency") == 0)
    assert np.all(p_alive(fit_bgnbd(summary), none) == 1.0)
    assert np.all(p_alive(fit_mbgnbd(summary), none) < 1.0)


def test_fit_survives_no_repeats_and_one_customer():
    no_repeats = pl.DataFrame({"frequency": [0, 0, 0], "recency": [0.0, 0.0, 0.0], "T": [5.0, 10.0, 20.0]})
    fit = fit_bgnbd(no_repeats)
    assert np.isfinite(fit.log_likelihood)
    assert p_alive(fit, no_repeats).tolist() == [1.0, 1.0, 1.0]
    one = pl.DataFrame({"frequency": [3], "recency": [10.0], "T": [20.0]})
    assert np.isfinite(fit_mbgnbd(one).log_likelihood)


def test_gamma_gamma_expected_value_hand_computed():
    fit = GammaGammaFit(p=6.0, q=4.0, gamma=16.0, log_likelihood=0.0)
    # p (γ + x m) / (p x + q - 1) = 6 · 36 / 15
    assert fit.expected_value([2], [10.0]).tolist() == pytest.approx([14.4])


def test_gamma_gamma_recovery():
    rng = np.random.default_rng(3)
    n, p, q, g = 6_000, 6.0, 4.0, 15.0
    nu = rng.gamma(q, 1 / g, n)
    x = rng.integers(1, 12, n)
    m = np.array([rng.gamma(p, 1 / nu[i], x[i]).mean() for i in range(n)])
    fit = fit_gamma_gamma(pl.DataFrame({"frequency": x, "monetary_value": m}))
    assert fit.q == pytest.approx(q, rel=0.1)
    assert fit.p * fit.gamma / (fit.q - 1) == pytest.approx(p * g / (q - 1), rel=0.05)
    assert fit.p == pytest.approx(p, rel=0.25)
    assert fit.gamma == pytest.approx(g, rel=0.25)


def _clv_summary():
    return pl.DataFrame(
        {
            "frequency": [0, 2, 5],
            "recency": [0.0, 10.0, 30.0],
            "T": [20.0, 20.0, 40.0],
            "monetary_value": [0, 30, 50],
        }
    )


MONTH_WEEKS = 365.25 / 12 / 7


def test_undiscounted_clv_is_expected_purchases_times_value():
    summary = _clv_summary()
    fit = BGNBDFit(*TRUE, log_likelihood=0.0)
    out = clv(summary, fit, horizon_months=12, discount_rate=0.0, spend="client_mean")
    assert out["expected_value"].to_list() == [40.0, 30.0, 50.0]  # one-visit client: population mean
    purchases_12m = expected_purchases(fit, 12 * MONTH_WEEKS, summary)
    assert out["expected_purchases"].to_numpy() == pytest.approx(purchases_12m)
    assert out["clv"].to_numpy() == pytest.approx(purchases_12m * [40.0, 30.0, 50.0])
    gg = GammaGammaFit(6.0, 4.0, 16.0, 0.0)
    out_gg = clv(summary, fit, horizon_months=12, discount_rate=0.0, spend=gg)
    assert out_gg["expected_value"][0] == pytest.approx(6 * 16 / 3)


@pytest.mark.parametrize(
    "fit", [BGNBDFit(*TRUE, 0.0), MBGNBDFit(*TRUE, 0.0), ParetoNBDFit(0.55, 10.58, 0.61, 11.67, 0.0)]
)
def test_discounted_clv_hand_computed(fit):
    # Two months at 12 % a year: month m's purchases are discounted by 1.12^(m/12) at the month's end.
    summary = _clv_summary()
    out = clv(summary, fit, horizon_months=2, discount_rate=0.12, spend="client_mean")
    e1 = expected_purchases(fit, MONTH_WEEKS, summary)
    e2 = expected_purchases(fit, 2 * MONTH_WEEKS, summary)
    want = (e1 / 1.12 ** (1 / 12) + (e2 - e1) / 1.12 ** (2 / 12)) * np.array([40.0, 30.0, 50.0])
    assert out["clv"].to_numpy() == pytest.approx(want)
    longer = clv(summary, fit, horizon_months=36, discount_rate=0.12, spend="client_mean")
    flat = clv(summary, fit, horizon_months=36, discount_rate=0.0, spend="client_mean")
    assert np.all(longer["clv"].to_numpy() < flat["clv"].to_numpy())
    assert np.all(longer["clv"].to_numpy() > out["clv"].to_numpy())
    with pytest.raises(ValueError):
        clv(summary, fit, horizon_months=0)


def test_clv_with_gamma_gamma_from_a_warehouse_summary():
    from analytics.churn import purchases, summarize
    from analytics.synthetic import generate_visits

    visits, _ = generate_visits(clients=1_500, visits=12_000, seed=7)
    summary = summarize(purchases(visits), "client_id", "started_at", monetary_col="amount")
    out = clv(summary, fit_pareto_nbd(summary), horizon_months=24, discount_rate=0.10)
    assert out.height == summary.height
    assert np.all(np.isfinite(out["clv"].to_numpy())) and (out["clv"] >= 0).all()
    assert {"p_alive", "expected_purchases", "discounted_purchases", "expected_value", "clv"} <= set(out.columns)


@pytest.mark.parametrize(("cls", "modified"), [(BGNBDFit, False), (MBGNBDFit, True)])
def test_prob_purchases_matches_simulation(cls, modified):
    fit = cls(*TRUE, log_likelihood=0.0)
    x = simulate_bgnbd(200_000, *TRUE, T=40.0, seed=2, modified=modified)["frequency"].to_numpy()
    total = sum(float(fit.prob_purchases(k, np.array(40.0))) for k in range(500))
    assert total == pytest.approx(1.0, abs=1e-9)
    for k in range(5):
        assert float(fit.prob_purchases(k, np.array(40.0))) == pytest.approx((x == k).mean(), abs=0.004)


def test_expectations_are_finite_when_a_is_below_one():
    # a ≤ 1 makes the mean drop-out count infinite, not the purchases in a finite window.
    for a in (0.5, 1.0 - 1e-12, 1.0, 1.0 + 1e-12):
        for cls in (BGNBDFit, MBGNBDFit):
            fit = cls(0.5, 6.0, a, 3.0, 0.0)
            assert np.isfinite(fit.expected_purchases(20.0, [0, 3], [0.0, 10.0], [30.0, 30.0])).all()
            assert math.isfinite(fit.expected_purchases_new(20.0))
