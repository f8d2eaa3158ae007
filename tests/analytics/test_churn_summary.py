"""summarize(): hand-computed frequency / recency / T, holdout counts, zones, monetary value, inactivity."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics.churn import classification_scores, flag_summary, inactivity_flags, purchases, summarize
from analytics.fixtures import visit, visits_frame


@pytest.fixture
def tx() -> pl.DataFrame:
    return visits_frame(
        [
            visit(1, "2024-01-01T09:00", 10),
            visit(1, "2024-01-01T17:00", 5),  # same day: one purchase day worth 15
            visit(1, "2024-01-15T10:00", 20),
            visit(1, "2024-01-29T10:00", 30),
            visit(1, "2024-02-05T10:00", 99, status="cancelled"),
            visit(2, "2024-02-12T10:00", 40),
        ]
    )


def test_weekly_summary_hand_computed(tx):
    out = summarize(purchases(tx), "client_id", "started_at", observation_end=dt.date(2024, 2, 26)).sort("client_id")
    assert out.columns == ["client_id", "frequency", "recency", "T"]
    assert out["frequency"].to_list() == [2, 0]
    assert out["recency"].to_list() == [4.0, 0.0]  # 28 days
    assert out["T"].to_list() == [8.0, 2.0]  # 56 and 14 days


def test_daily_units_and_default_end(tx):
    out = summarize(purchases(tx), "client_id", "started_at", period="D").sort("client_id")
    # The window ends on the last purchase day (12 Feb).
    assert out["recency"].to_list() == [28.0, 0.0]
    assert out["T"].to_list() == [42.0, 0.0]


def test_calibration_and_holdout(tx):
    out = summarize(
        purchases(tx),
        "client_id",
        "started_at",
        "W",
        calibration_end=dt.date(2024, 1, 20),
        observation_end=dt.date(2024, 2, 26),
    )
    # Client 2 first bought after calibration_end: not in the table.
    assert out["client_id"].to_list() == [1]
    row = out.row(0, named=True)
    assert row["frequency"] == 1
    assert row["recency"] == pytest.approx(2.0)
    assert row["T"] == pytest.approx(19 / 7)
    assert row["frequency_holdout"] == 1
    assert row["duration_holdout"] == pytest.approx(37 / 7)


def test_monetary_value_is_mean_of_repeat_days(tx):
    out = summarize(purchases(tx), "client_id", "started_at", monetary_col="amount").sort("client_id")
    assert out["monetary_value"].to_list() == [25.0, 0.0]


def test_same_day_depends_on_zone():
    frame = visits_frame([visit(1, "2024-01-01T23:30"), visit(1, "2024-01-02T00:10")])
    assert summarize(frame, "client_id", "started_at", "D")["frequency"].to_list() == [1]
    # In Berlin both are on 2 January: one purchase day.
    assert summarize(frame, "client_id", "started_at", "D", tz="Europe/Berlin")["frequency"].to_list() == [0]


def test_one_customer_relation_input(tx):
    import duckdb

    rel = duckdb.connect().from_arrow(tx.filter(pl.col("client_id") == 2).to_arrow())
    out = summarize(rel, "client_id", "started_at", observation_end=dt.date(2024, 2, 19))
    assert out.rows() == [(2, 0, 0.0, 1.0)]


def test_calibration_after_observation_is_an_error(tx):
    with pytest.raises(ValueError):
        summarize(
            tx,
            "client_id",
            "started_at",
            calibration_end=dt.date(2024, 3, 1),
            observation_end=dt.date(2024, 2, 1),
        )


def test_inactivity_rules_hand_computed():
    summary = pl.DataFrame({"frequency": [2, 2, 0], "recency": [4.0, 4.0, 0.0], "T": [12.0, 7.0, 5.0]})
    # Mean gaps 2, 2 and (one-visit client) the median 2; silent 8, 3, 5 weeks against 2 × 2.
    assert inactivity_flags(summary).tolist() == [True, False, True]
    # 90 days = 12.86 weeks of silence: nobody yet.
    assert inactivity_flags(summary, fixed_window_days=90).tolist() == [False, False, False]
    assert inactivity_flags(summary, fixed_window_days=30).tolist() == [True, False, True]
    assert flag_summary(summary, "inactivity_interval").tolist() == [True, False, True]


def test_classification_scores_hand_computed():
    flagged = np.array([True, True, False, False, True])
    actual = np.array([True, False, False, True, True])
    s = classification_scores(flagged, actual)
    assert s["accuracy"] == pytest.approx(3 / 5)
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
@pytest.mark.parametrize("calibration_end", [None, dt.date(2025, 6, 30)])
def test_both_summary_plans_and_the_default_give_identical_answers(calibration_end, tz):
    """The plan choice (ADR 0032) is about cost only: every plan returns the same frame."""
    from analytics.synthetic import generate_visits

    visits, _ = generate_visits(clients=500, visits=5_000, seed=4)
    args = (purchases(visits), "client_id", "started_at", "W", calibration_end, dt.date(2025, 12, 31))
    grouped = summarize(*args, tz=tz, plan="grouped").sort("client_id")
    bitstring = summarize(*args, tz=tz, plan="bitstring").sort("client_id")
    dense = summarize(*args, tz=tz, plan="dense").sort("client_id")
    default = summarize(*args, tz=tz).sort("client_id")
    assert grouped.equals(bitstring)
    assert dense.equals(grouped)
    assert default.equals(grouped)
    assert dense.schema == grouped.schema
    assert grouped.height > 300
    assert grouped["frequency"].sum() > 1_000


def test_the_bitstring_plan_is_refused_where_it_cannot_answer():
    from analytics.synthetic import generate_visits

    visits, _ = generate_visits(clients=50, visits=300, seed=4)
    with pytest.raises(ValueError, match="bitstring plan"):
        summarize(purchases(visits), "client_id", "started_at", monetary_col="amount", plan="bitstring")
    with pytest.raises(ValueError, match="plan must be"):
        summarize(purchases(visits), "client_id", "started_at", plan="fastest")  # type: ignore[arg-type]


def test_grouped_plan_with_holdout_and_monetary_matches_a_hand_computation():
    """One aggregate with FILTERed calibration/holdout columns: checked against plain polars."""
    from analytics.synthetic import generate_visits

    visits, _ = generate_visits(clients=400, visits=4_000, seed=9)
    cal, obs = dt.date(2025, 6, 30), dt.date(2025, 12, 31)
    out = summarize(purchases(visits), "client_id", "started_at", "D", cal, obs, monetary_col="amount")
    days = (
        purchases(visits)
        .with_columns(pl.col("started_at").dt.date().alias("day"))
        .filter(pl.col("day") <= obs)
        .group_by("client_id", "day")
        .agg(pl.col("amount").sum())
        .sort("client_id", "day")
    )
    in_cal = pl.col("day") <= cal
    ref = (
        days.group_by("client_id")
        .agg(
            (in_cal.sum().cast(pl.Int64) - 1).alias("frequency"),
            (pl.col("day").filter(in_cal).max() - pl.col("day").min())
            .dt.total_days()
            .cast(pl.Float64)
            .alias("recency"),
            ((pl.lit(cal) - pl.col("day").min()).dt.total_days()).cast(pl.Float64).alias("T"),
            pl.col("amount").filter(in_cal).sum().alias("total"),
            pl.col("amount").first().alias("first"),
            (~in_cal).sum().cast(pl.Int64).alias("frequency_holdout"),
        )
        .filter(pl.col("frequency") >= 0)
        .with_columns(
            pl.when(pl.col("frequency") > 0)
            .then((pl.col("total") - pl.col("first")) / pl.col("frequency"))
            .otherwise(0.0)
            .alias("monetary_value")
        )
        .sort("client_id")
    )
    got = out.sort("client_id")
    assert got["client_id"].to_list() == ref["client_id"].to_list()
    for c in ("frequency", "recency", "T", "frequency_holdout"):
        assert got[c].to_list() == ref[c].to_list(), c
    assert np.allclose(got["monetary_value"].to_numpy(), ref["monetary_value"].to_numpy(), rtol=1e-12)
    assert (got["duration_holdout"] == (obs - cal).days).all()
    assert int((got["frequency_holdout"] > 0).sum()) > 50


@pytest.mark.parametrize("calibration_end", [None, dt.date(2025, 3, 31)])
def test_the_dense_plan_cut_into_many_customer_slices_still_answers_as_the_grouped_one(calibration_end, monkeypatch):
    """Slices of ~500 rows over ids shifted negative and with gaps: every slice boundary, the first and the last
    slice, a customer whose pairs all lie after the calibration end, and same-day repeats."""
    from analytics import _summary_dense
    from analytics.synthetic import generate_visits

    visits, _ = generate_visits(clients=2_000, visits=20_000, seed=11)
    visits = visits.with_columns((pl.col("client_id") * 3 - 2_500).cast(pl.Int32))  # negative, gaps, Int32
    repeat = visits.head(500).with_columns(pl.col("started_at") + pl.duration(hours=1))  # same-day repeats
    data = purchases(pl.concat([visits, repeat]))
    monkeypatch.setattr(_summary_dense, "SLICE_ROWS", 500)
    args = (data, "client_id", "started_at", "W", calibration_end, dt.date(2025, 12, 31))
    dense = summarize(*args, plan="dense").sort("client_id")
    grouped = summarize(*args, plan="grouped").sort("client_id")
    assert dense.equals(grouped)
    assert dense.schema["client_id"] == pl.Int32
    assert _summary_dense._slices(3 * 2_000, 20_500) > 0  # the shift really cuts (about 40 slices)


def test_auto_takes_the_grouped_plan_where_the_dense_one_cannot_answer():
    from analytics import _summary_dense
    from analytics.synthetic import generate_visits

    visits, _ = generate_visits(clients=300, visits=3_000, seed=5)
    end = dt.date(2025, 12, 31)
    cases = {
        "text ids": visits.with_columns(pl.format("c{}", pl.col("client_id")).alias("client_id")),
        "sparse ids": visits.with_columns(pl.col("client_id") * 10_000_000),
        "a NULL id": visits.with_columns(
            pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("client_id")).alias("client_id")
        ),
    }
    for name, frame in cases.items():
        auto = summarize(purchases(frame), "client_id", "started_at", observation_end=end).sort("client_id")
        grouped = summarize(purchases(frame), "client_id", "started_at", observation_end=end, plan="grouped")
        assert auto.equals(grouped.sort("client_id")), name
        with pytest.raises(ValueError, match="dense plan"):
            summarize(purchases(frame), "client_id", "started_at", observation_end=end, plan="dense")
    with pytest.raises(ValueError, match="dense plan"):
        summarize(purchases(visits), "client_id", "started_at", monetary_col="amount", plan="dense")
    ids = _summary_dense.Ids(lo=0, hi=10, nulls=0, rows=5)
    assert _summary_dense.eligible(ids, 100, None)
    assert not _summary_dense.eligible(ids, 70_000, None)  # the day does not fit 16 bits
    assert not _summary_dense.eligible(_summary_dense.Ids(0, _summary_dense.MAX_IDS, 0, 10**9), 10, None)
