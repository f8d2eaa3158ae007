"""Matplotlib figures for the report notebooks; each function returns a Figure and shows nothing.

matplotlib is imported on the first figure, not with the module. Outside a notebook the Agg backend is
selected so the library works headless (CI, nbmake); in a notebook the inline backend stays and renders
the returned Figure.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from analytics.cohorts import cohort_matrix

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _pyplot() -> Any:
    """matplotlib.pyplot, imported on first use (Agg unless running under IPython/Jupyter)."""
    if "matplotlib.pyplot" not in sys.modules:
        import matplotlib

        if "IPython" not in sys.modules:
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def cohort_heatmap(cohorts: pl.DataFrame, *, value: str = "retention", title: str | None = None) -> Figure:
    """Heatmap of a :func:`analytics.cohorts.cohort_retention` table; incomplete cells stay blank."""
    wide = cohort_matrix(cohorts, value=value)
    period_cols = [c for c in wide.columns if c not in ("cohort", "cohort_size")]
    data = wide.select(period_cols).to_numpy().astype(float) if period_cols else np.zeros((0, 0))
    fig, ax = _pyplot().subplots(figsize=(max(6, 0.45 * len(period_cols) + 2), max(3, 0.3 * wide.height + 1.5)))
    masked = np.ma.masked_invalid(data)
    im = ax.imshow(masked, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xlabel("periods since first visit")
    ax.set_ylabel("cohort")
    ax.set_yticks(range(wide.height), [str(c) for c in wide["cohort"]])
    ax.set_xticks(range(len(period_cols)), period_cols)
    fig.colorbar(im, ax=ax, label=value)
    ax.set_title(title or f"Cohort {value}")
    fig.tight_layout()
    return fig


def abc_pareto(abc: pl.DataFrame, *, thresholds: tuple[float, float] = (0.80, 0.95), title: str = "") -> Figure:
    """Pareto curve from :func:`analytics.abc.abc_analysis`: cumulative revenue share vs share of items."""
    fig, ax = _pyplot().subplots(figsize=(7, 4.5))
    n = abc.height
    x = np.arange(1, n + 1) / max(n, 1)
    y = abc["cumulative_share"].to_numpy() if n else np.zeros(0)
    colors = {"A": "tab:green", "B": "tab:orange", "C": "tab:red"}
    for cls, color in colors.items():
        mask = (abc["abc_class"] == cls).to_numpy() if n else np.zeros(0, bool)
        ax.scatter(x[mask], y[mask], s=8, color=color, label=f"{cls} ({int(mask.sum())})")
    ax.plot(np.concatenate([[0], x]), np.concatenate([[0], y]), color="grey", linewidth=1)
    for t in thresholds:
        ax.axhline(t, linestyle="--", color="black", linewidth=0.7)
    ax.set_xlabel("share of items (largest first)")
    ax.set_ylabel("cumulative share of revenue")
    ax.set_ylim(0, 1.02)
    ax.legend(title="class")
    ax.set_title(title or "ABC Pareto curve")
    fig.tight_layout()
    return fig


def histogram(values: np.ndarray | pl.Series, *, bins: int = 40, xlabel: str, title: str = "") -> Figure:
    """A plain histogram (used for P(alive) and CLV distributions)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    fig, ax = _pyplot().subplots(figsize=(7, 4))
    ax.hist(arr, bins=bins, color="tab:blue", alpha=0.85)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("clients")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def p_alive_histogram(p_alive: np.ndarray | pl.Series, *, title: str = "P(alive)") -> Figure:
    """Histogram of P(alive) on [0, 1]."""
    fig = histogram(p_alive, bins=20, xlabel="P(alive)", title=title)
    fig.axes[0].set_xlim(0, 1)
    return fig


def clv_histogram(clv: np.ndarray | pl.Series, *, title: str = "Customer lifetime value") -> Figure:
    """Histogram of CLV (log-spaced bins: CLV is heavy-tailed)."""
    arr = np.asarray(clv, dtype=float)
    arr = arr[np.isfinite(arr) & (arr > 0)]
    fig, ax = _pyplot().subplots(figsize=(7, 4))
    if arr.size:
        bins = np.logspace(np.log10(arr.min()), np.log10(arr.max()) + 1e-9, 40).tolist()
        ax.hist(arr, bins=bins, color="tab:purple", alpha=0.85)
        ax.set_xscale("log")
    ax.set_xlabel("CLV over the horizon")
    ax.set_ylabel("clients")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def fill_rate_frontier(frontier: pl.DataFrame, *, by: str | None = None, title: str = "") -> Figure:
    """Fill rate vs call-ups per place after each wave (from :func:`analytics.staffing.fill_rate_frontier`)."""
    fig, ax = _pyplot().subplots(figsize=(7, 4.5))
    groups = frontier.partition_by(by, as_dict=True) if by else {("all",): frontier}
    for key, part in groups.items():
        part = part.sort("wave")
        ax.plot(part["call_ups_per_place"], part["fill_rate"], marker="o", label=str(key[0]))
        for w, x, y in part.select("wave", "call_ups_per_place", "fill_rate").iter_rows():
            ax.annotate(f"w{w}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("call-ups sent per needed place")
    ax.set_ylabel("fill rate")
    ax.set_ylim(0, 1.02)
    if by:
        ax.legend(title=by)
    ax.set_title(title or "Fill-rate frontier")
    fig.tight_layout()
    return fig


def calibration_fit(table: pl.DataFrame, *, title: str = "") -> Figure:
    """Bars of actual vs expected customers by repeat purchases (from :func:`analytics.diagnostics.calibration_fit`).

    >>> plots.calibration_fit(diagnostics.calibration_fit(fit, summary))  # doctest: +SKIP
    """
    fig, ax = _pyplot().subplots(figsize=(7, 4.5))
    pos = np.arange(table.height)
    width = 0.4
    ax.bar(pos - width / 2, table["actual"].to_numpy(), width, label="actual", color="tab:blue")
    ax.bar(pos + width / 2, table["expected"].to_numpy(), width, label="model", color="tab:orange")
    ax.set_xticks(pos, table["frequency"].to_list())
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("customers")
    ax.legend()
    ax.set_title(title or "Calibration period: actual vs expected customers")
    fig.tight_layout()
    return fig


def holdout_fit(table: pl.DataFrame, *, title: str = "") -> Figure:
    """Mean holdout purchases per calibration frequency, actual vs predicted (from
    :func:`analytics.diagnostics.holdout_fit`).

    >>> plots.holdout_fit(diagnostics.holdout_fit(fit, summary))  # doctest: +SKIP
    """
    fig, ax = _pyplot().subplots(figsize=(7, 4.5))
    pos = np.arange(table.height)
    ax.plot(pos, table["actual"].to_numpy(), marker="o", label="actual", color="tab:blue")
    ax.plot(pos, table["predicted"].to_numpy(), marker="s", linestyle="--", label="model", color="tab:orange")
    ax.set_xticks(pos, table["frequency"].to_list())
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("mean purchases in the holdout")
    ax.legend()
    ax.set_title(title or "Holdout: actual vs predicted purchases")
    fig.tight_layout()
    return fig
