"""analytics.reports, analytics.frontier and the notebook world: what the report notebooks call in one line."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics import plots, reports
from analytics.churn import fit_pareto_nbd, purchases, summarize
from analytics.diagnostics import holdout_fit
from analytics.fixtures import visit, visits_frame
from analytics.frontier import solver_vs_flat
from analytics.schema import connect
from analytics.synthetic import generate_visits, write_notebook_world


def test_warehouse_path_reads_the_environment_and_falls_back_to_the_notebooks_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(reports.WAREHOUSE_ENV, raising=False)
    assert str(reports.warehouse_path()) == "warehouse"
    monkeypatch.setenv(reports.WAREHOUSE_ENV, "")
    assert str(reports.warehouse_path()) == "warehouse"
    monkeypatch.setenv(reports.WAREHOUSE_ENV, str(tmp_path))
    assert reports.warehouse_path() == tmp_path


def test_open_warehouse_without_an_export_says_how_to_make_one(monkeypatch, tmp_path):
    monkeypatch.setenv(reports.WAREHOUSE_ENV, str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="make export-warehouse"):
        reports.open_warehouse()


def test_open_warehouse_opens_the_folder_from_the_environment(monkeypatch, tmp_path):
    folder = write_notebook_world(tmp_path / "wh")
    monkeypatch.setenv(reports.WAREHOUSE_ENV, str(folder))
    con = reports.open_warehouse()
    assert con.table("visits").count("*").fetchall()[0][0] == 12_000


@pytest.fixture(scope="module")
def world_visits() -> pl.DataFrame:
    visits, _ = generate_visits(clients=800, visits=6_000, years=2.0, seed=3)
    return visits


def test_model_check_fits_on_the_calibration_window_and_checks_the_holdout(world_visits):
    check = reports.model_check(world_visits, model="pareto", holdout_days=90)
    last = world_visits["started_at"].max().date()  # type: ignore[union-attr]

    assert check.observation_end == last
    assert check.calibration_end == last - dt.timedelta(days=90)
    # The same as doing it by hand: summary with the split, Pareto/NBD on it, the holdout diagnostic.
    by_hand = summarize(purchases(world_visits), "client_id", "started_at", "W", check.calibration_end, last)
    fit = fit_pareto_nbd(by_hand)
    assert check.summary.height == by_hand.height
    assert check.holdout.equals(holdout_fit(fit, by_hand))
    assert int(check.calibration["actual"].sum()) == by_hand.height
    total_actual, total_predicted = check.holdout["actual_total"].sum(), check.holdout["predicted_total"].sum()
    assert total_predicted == pytest.approx(total_actual, rel=0.25)
    assert "holdout to" in str(check)


def test_model_check_shortens_the_holdout_on_a_young_history():
    rows = [
        visit(c, dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=7 * k + c))
        for c in range(1, 30)
        for k in range(6)
    ]
    check = reports.model_check(visits_frame(rows), model="bgnbd", holdout_days=90)
    span = (check.observation_end - dt.date(2024, 1, 2)).days

    assert (check.observation_end - check.calibration_end).days == span // 3


def test_model_check_rejects_an_unknown_model(world_visits):
    with pytest.raises(ValueError, match="model must be one of"):
        reports.model_check(world_visits, model="nope")  # type: ignore[arg-type]


def test_clv_report_is_sorted_by_discounted_value_with_p_alive(world_visits):
    out = reports.clv_report(world_visits, model="pareto", horizon_months=12, discount_rate=0.10)
    undiscounted = reports.clv_report(world_visits, model="pareto", horizon_months=12, discount_rate=0.0)

    buyers = world_visits.filter(pl.col("status") == "completed")["client_id"].n_unique()
    assert out.height == buyers
    assert out["clv"].is_sorted(descending=True)
    p = out["p_alive"].to_numpy()
    assert np.all((p >= 0) & (p <= 1))
    # Discounting at 10 % a year lowers every positive value, by less than 10 % over one year.
    joined = out.join(undiscounted.select("client_id", pl.col("clv").alias("flat")), on="client_id")
    ratio = (joined["clv"] / joined["flat"]).to_numpy()
    assert np.all((ratio < 1.0) & (ratio > 1 / 1.1))


def test_headline_compares_the_last_days_with_the_days_before():
    rows = [
        # previous window: 2024-03-02 .. 2024-03-31 (days=30 ending 2024-04-30)
        visit(1, "2024-03-05T10:00", 100),
        visit(2, "2024-03-10T10:00", 50),
        visit(2, "2024-03-12T10:00", 0, status="no_show"),
        # current window: 2024-04-01 .. 2024-04-30
        visit(1, "2024-04-02T10:00", 120),
        visit(3, "2024-04-10T10:00", 60),
        visit(4, "2024-04-20T10:00", 30),
        visit(4, "2024-04-30T10:00", 90),
        visit(5, "2024-04-25T10:00", 999, status="cancelled"),
        # before both windows: client 1 is not new in March
        visit(1, "2024-01-05T10:00", 10),
    ]
    out = reports.headline(visits_frame(rows), days=30)
    got = {m: (c, p, ch) for m, c, p, ch in out.iter_rows()}

    assert got["revenue"][:2] == (300.0, 150.0)
    assert got["revenue"][2] == pytest.approx(1.0)
    assert got["visits"][:2] == (4.0, 2.0)
    assert got["average check"][:2] == (75.0, 75.0)
    assert got["active clients"][:2] == (3.0, 2.0)
    assert got["new clients"][:2] == (2.0, 1.0)
    assert got["visit no-show rate"][:2] == (0.0, pytest.approx(1 / 3))
    assert "fill rate" not in got


def test_headline_with_staffing_reports_shift_fill(tmp_path):
    con = connect(write_notebook_world(tmp_path / "wh"))
    out = reports.headline(con.table("visits"), con.table("shifts"), con.table("offers"), con.table("attendance"))
    got = {m: c for m, c, _p, _ch in out.iter_rows()}

    assert got["shifts"] and got["shifts"] > 0
    assert 0 < got["fill rate"] <= 1
    assert 0 <= got["worker no-show rate"] < 1


def test_notebook_world_has_staffing_inside_the_visit_window(tmp_path):
    con = connect(write_notebook_world(tmp_path / "wh"))
    ((v_lo, v_hi),) = con.sql("SELECT min(started_at), max(started_at) FROM visits").fetchall()
    ((s_lo, s_hi),) = con.sql("SELECT min(start), max(start) FROM shifts").fetchall()

    assert v_lo <= s_lo and s_hi <= v_hi + dt.timedelta(days=1)
    assert {"reviews", "staff_schedule", "workers", "services", "clients"} <= {
        r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()
    }


def test_solver_vs_flat_gives_one_point_per_plan_and_the_solver_wastes_less():
    points = solver_vs_flat(workers=200, shifts=20, seed=2, draws=200, flat_ratios=(1.0, 2.0), solver_ratios=(2.0, 6.0))

    assert points.select("plan", "parameter").rows() == [("solver", 2.0), ("solver", 6.0), ("flat", 1.0), ("flat", 2.0)]
    for col in ("fully_staffed", "slots_filled"):
        assert points[col].is_between(0, 1).all()
    flat = points.filter(pl.col("plan") == "flat").sort("parameter")
    assert flat["calls_per_requested"].is_sorted()
    # Calling twice the headcount wastes more people than the solver at either cost ratio.
    assert points.filter(pl.col("plan") == "solver")["wasted_per_100"].max() < flat["wasted_per_100"][-1]
    fig = plots.solver_frontier(points)
    assert len(fig.axes[0].lines) == 2


def test_trend_plot_draws_one_line():
    frame = pl.DataFrame({"period": [dt.date(2024, m, 1) for m in (1, 2, 3)], "revenue": [1.0, 3.0, 2.0]})
    fig = plots.trend(frame, y="revenue")
    assert list(fig.axes[0].lines[0].get_ydata()) == [1.0, 3.0, 2.0]


def test_business_visits_picks_the_business_with_the_most_visits_or_the_one_asked(tmp_path):
    rows = [visit(1, "2024-01-05T10:00"), visit(2, "2024-01-06T10:00"), visit(3, "2024-01-07T10:00")]
    frame = visits_frame(rows).with_columns(organization_id=pl.Series([7, 9, 9], dtype=pl.Int64))
    frame.write_parquet(tmp_path / "visits.parquet")
    con = connect(tmp_path)

    assert sorted(r[0] for r in reports.business_visits(con).select("client_id").fetchall()) == [2, 3]
    assert reports.business_visits(con, organization_id=7).select("client_id").fetchall() == [(1,)]
    assert reports.business_visits(con, organization_id=8).fetchall() == []


def test_headline_window_ends_on_the_last_completed_visit_not_on_future_bookings():
    rows = [visit(1, "2024-04-30T10:00", 100), visit(2, "2024-06-15T10:00", 80, status="booked")]
    out = reports.headline(visits_frame(rows), days=30)
    assert out.filter(pl.col("metric") == "revenue")["current"].item() == 100.0


def test_business_visits_on_an_empty_export_says_what_to_do(tmp_path):
    visits_frame([]).write_parquet(tmp_path / "visits.parquet")
    with pytest.raises(ValueError, match="seed the demo"):
        reports.business_visits(connect(tmp_path))
