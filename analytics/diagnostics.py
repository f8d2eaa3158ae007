"""The two standard BTYD model checks as polars frames (plots: :mod:`analytics.plots`).

* :func:`calibration_fit` — customers by number of repeat purchases in the calibration period, actual vs
  what the fitted model expects for customers with the same observation lengths T (Fader, Hardie & Lee
  2005, Figure 1). A model that fits its own data lines up here; one that does not, will not forecast.
* :func:`holdout_fit` — mean purchases in the holdout per calibration frequency, actual vs the model's
  conditional expectation (their Figure 3): the check that matters for churn and CLV.

Both accept any fit of :mod:`analytics.churn` (BG/NBD, MBG/NBD) or :mod:`analytics.pareto` (Pareto/NBD).

>>> summary = summarize(purchases(visits), "client_id", "started_at", "W", cal_end, obs_end)  # doctest: +SKIP
>>> fit = fit_pareto_nbd(summary)                                                          # doctest: +SKIP
>>> calibration_fit(fit, summary)   # frequency | actual | expected                        # doctest: +SKIP
>>> holdout_fit(fit, summary)       # frequency | customers | actual | predicted            # doctest: +SKIP
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import polars as pl

FloatArray = np.ndarray


class CountModel(Protocol):
    """What the diagnostics need from a fit: P(X(t) = x) and the conditional expectation."""

    def prob_purchases(self, x: int, t: FloatArray) -> FloatArray: ...

    def expected_purchases(self, t: float, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray: ...


def _labels(max_frequency: int) -> list[str]:
    return [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]


def calibration_fit(fit: CountModel, summary: pl.DataFrame, *, max_frequency: int = 7) -> pl.DataFrame:
    """Actual vs expected number of customers with 0, 1, …, ``max_frequency``+ repeat purchases.

    Expected = Σ over customers of P(X(T_i) = x) under ``fit``, with each customer's own T (customers with
    equal T are grouped, so this is cheap). Columns: ``frequency`` (label, the last one "k+"),
    ``frequency_min``, ``actual``, ``expected`` and both as shares of all customers.
    """
    if max_frequency < 1:
        raise ValueError("max_frequency must be at least 1")
    x = summary["frequency"].to_numpy()
    by_t = summary.group_by("T").agg(pl.len().alias("n")).sort("T")
    t = by_t["T"].to_numpy().astype(float)
    n_t = by_t["n"].to_numpy().astype(float)
    expected = [float(np.sum(n_t * fit.prob_purchases(k, t))) for k in range(max_frequency)]
    expected.append(float(summary.height) - sum(expected))
    actual = [int(np.sum(x == k)) for k in range(max_frequency)] + [int(np.sum(x >= max_frequency))]
    n = max(summary.height, 1)
    return pl.DataFrame(
        {
            "frequency": _labels(max_frequency),
            "frequency_min": list(range(max_frequency + 1)),
            "actual": actual,
            "expected": expected,
        }
    ).with_columns((pl.col("actual") / n).alias("actual_share"), (pl.col("expected") / n).alias("expected_share"))


def holdout_fit(fit: CountModel, summary: pl.DataFrame, *, max_frequency: int = 7) -> pl.DataFrame:
    """Mean holdout purchases per calibration frequency (0 … ``max_frequency``+), actual vs predicted.

    ``summary`` must come from ``summarize(..., calibration_end=..., observation_end=...)`` (columns
    ``frequency_holdout`` and ``duration_holdout``) and ``fit`` be fitted on its calibration columns.
    Columns: ``frequency``, ``frequency_min``, ``customers``, ``actual`` and ``predicted`` (means per
    customer), ``actual_total``, ``predicted_total``.
    """
    if "frequency_holdout" not in summary.columns:
        raise ValueError("holdout_fit needs a summary with a holdout: summarize(..., calibration_end=...)")
    x = summary["frequency"].to_numpy().astype(float)
    t_x = summary["recency"].to_numpy().astype(float)
    T = summary["T"].to_numpy().astype(float)
    duration = float(summary["duration_holdout"][0]) if summary.height else 0.0
    predicted = fit.expected_purchases(duration, x, t_x, T) if summary.height else np.zeros(0)
    frame = pl.DataFrame(
        {
            "frequency_min": np.minimum(summary["frequency"].to_numpy(), max_frequency),
            "actual": summary["frequency_holdout"].to_numpy().astype(float),
            "predicted": predicted,
        }
    )
    out = (
        frame.group_by("frequency_min")
        .agg(
            pl.len().alias("customers"),
            pl.col("actual").mean(),
            pl.col("predicted").mean(),
            pl.col("actual").sum().alias("actual_total"),
            pl.col("predicted").sum().alias("predicted_total"),
        )
        .sort("frequency_min")
    )
    labels = dict(enumerate(_labels(max_frequency)))
    return out.with_columns(
        pl.col("frequency_min").replace_strict(labels, return_dtype=pl.String).alias("frequency")
    ).select("frequency", "frequency_min", "customers", "actual", "predicted", "actual_total", "predicted_total")
