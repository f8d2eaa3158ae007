"""The two BTYD model checks: with the true parameters, actual and expected must line up."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from matplotlib.figure import Figure

from analytics import plots
from analytics.churn import BGNBDFit, MBGNBDFit, fit_mbgnbd, purchases, simulate_bgnbd, summarize
from analytics.diagnostics import calibration_fit, holdout_fit
from analytics.pareto import ParetoNBDFit, simulate_pareto_nbd
from analytics.synthetic import generate_visits

BG = (0.5, 6.0, 1.2, 3.0)
PARETO = (0.55, 10.58, 0.61, 11.67)


def _summary(kind: str, n: int = 30_000) -> tuple[object, pl.DataFrame]:
    T = np.random.default_rng(5).integers(10, 60, n).astype(float)  # several cohorts
    if kind == "pareto":
        return ParetoNBDFit(*PARETO, 0.0), simulate_pareto_nbd(n, *PARETO, T=T, seed=6)
    modified = kind == "mbgnbd"
    fit = (MBGNBDFit if modified else BGNBDFit)(*BG, 0.0)
    return fit, simulate_bgnbd(n, *BG, T=T, seed=6, modified=modified)


@pytest.mark.parametrize("kind", ["bgnbd", "mbgnbd", "pareto"])
def test_calibration_fit_with_true_parameters(kind):
    fit, summary = _summary(kind)
    table = calibration_fit(fit, summary, max_frequency=6)  # type: ignore[arg-type]
    assert table["frequency"].to_list() == ["0", "1", "2", "3", "4", "5", "6+"]
    assert table["actual"].sum() == summary.height
    assert table["expected"].sum() == pytest.approx(summary.height)
    # Sampling noise only: each bucket's count is within 4 binomial standard deviations of its expectation.
    for actual, expected in table.select("actual", "expected").iter_rows():
        assert abs(actual - expected) < 4 * np.sqrt(expected), (actual, expected)


def _bgnbd_paths(n: int, T: float, t: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, alpha, a, b = BG
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    k = rng.geometric(rng.beta(a, b, n))
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
    return x, t_x, np.bincount(owner[~past], minlength=n)


def test_holdout_fit_with_true_parameters():
    T, t = 40.0, 26.0
    x, t_x, future = _bgnbd_paths(100_000, T, t, seed=8)
    summary = pl.DataFrame(
        {
            "frequency": x,
            "recency": t_x,
            "T": np.full(x.size, T),
            "frequency_holdout": future,
            "duration_holdout": np.full(x.size, t),
        }
    )
    table = holdout_fit(BGNBDFit(*BG, 0.0), summary, max_frequency=5)
    assert table["frequency"].to_list() == ["0", "1", "2", "3", "4", "5+"]
    assert table["customers"].sum() == summary.height
    for actual, predicted in table.select("actual", "predicted").iter_rows():
        assert actual == pytest.approx(predicted, rel=0.06, abs=0.01)
    assert table["actual_total"].sum() == future.sum()


def test_holdout_fit_needs_a_holdout():
    _, summary = _summary("bgnbd", 100)
    with pytest.raises(ValueError, match="holdout"):
        holdout_fit(BGNBDFit(*BG, 0.0), summary)


def test_diagnostics_on_a_warehouse_summary_and_their_plots():
    visits, _ = generate_visits(clients=1_500, visits=12_000, seed=3)
    summary = summarize(purchases(visits), "client_id", "started_at", "W", dt.date(2025, 6, 30), dt.date(2025, 12, 30))
    fit = fit_mbgnbd(summary)
    cal = calibration_fit(fit, summary)
    hold = holdout_fit(fit, summary)
    assert cal.height == 8 and hold.height <= 8
    fig = plots.calibration_fit(cal)
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].patches) == 2 * cal.height  # actual and model bars
    fig = plots.holdout_fit(hold)
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].lines) == 2
