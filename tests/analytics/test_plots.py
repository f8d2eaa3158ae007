"""Plots return matplotlib Figures built from the library's tables (Agg backend, nothing shown)."""

import datetime as dt

import matplotlib
import numpy as np
import polars as pl
import pytest
from matplotlib.figure import Figure

from analytics import plots
from analytics.abc import abc_analysis
from analytics.cohorts import cohort_retention
from analytics.fixtures import visit, visits_frame


@pytest.fixture
def visits() -> pl.DataFrame:
    return visits_frame(
        [
            visit(c, f"2024-0{m}-1{c}T10:00", 10 * c, service_id=c)
            for c in range(1, 5)
            for m in range(1, 4)
            if m >= c - 1
        ]
    )


def test_backend_is_headless():
    plots.histogram(np.arange(3.0), xlabel="x")  # matplotlib is imported on the first figure
    assert matplotlib.get_backend().lower() == "agg"


def test_cohort_heatmap_masks_incomplete_cells(visits):
    table = cohort_retention(visits, as_of=dt.date(2024, 3, 15))
    fig = plots.cohort_heatmap(table)
    assert isinstance(fig, Figure)
    image = fig.axes[0].images[0].get_array()
    assert np.ma.is_masked(image)  # March is incomplete: blank, not a zero-coloured cell
    assert image.shape == (3, 3)


def test_abc_pareto(visits):
    fig = plots.abc_pareto(abc_analysis(visits))
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_ylabel() == "cumulative share of revenue"


def test_histograms():
    rng = np.random.default_rng(0)
    assert isinstance(plots.p_alive_histogram(rng.random(100)), Figure)
    assert isinstance(plots.clv_histogram(rng.lognormal(3, 1, 100)), Figure)
    assert isinstance(plots.clv_histogram(np.array([])), Figure)


def test_fill_rate_frontier_plot():
    frontier = pl.DataFrame(
        {
            "district": ["n", "n", "s"],
            "wave": [1, 2, 1],
            "call_ups_per_place": [1.0, 1.5, 1.2],
            "fill_rate": [0.6, 0.8, 0.7],
        }
    )
    fig = plots.fill_rate_frontier(frontier, by="district")
    assert len(fig.axes[0].lines) == 2
    assert isinstance(plots.fill_rate_frontier(frontier.filter(pl.col("district") == "n")), Figure)
