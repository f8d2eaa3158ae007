"""RFM metrics, tie-sharing quintiles, the fixed-threshold fallback and the segment map."""

import datetime as dt
import itertools

import polars as pl
import pytest

from analytics.fixtures import visit, visits_frame
from analytics.rfm import (
    SEGMENT_RULES,
    quintile_score,
    rfm,
    rfm_metrics,
    score_rfm,
    segment_for,
    segment_summary,
    threshold_score,
)


@pytest.fixture
def visits() -> pl.DataFrame:
    return visits_frame(
        [
            visit(1, "2024-03-31T10:00", 100),  # recency 1 day
            visit(1, "2024-03-30T10:00", 50),
            visit(2, "2024-01-01T10:00", 20),  # recency 91
            visit(3, "2024-03-01T10:00", 30),
            visit(3, "2024-03-02T10:00", 30),
            visit(3, "2024-03-03T10:00", 30),  # last purchase: 29 days before 1 April
            visit(3, "2024-03-04T10:00", 999, status="cancelled"),
            visit(4, "2024-04-01T00:30", 500),  # on as_of: outside the data
        ]
    )


def test_metrics_hand_computed(visits):
    out = rfm_metrics(visits, as_of=dt.date(2024, 4, 1)).sort("client_id")
    assert out["client_id"].to_list() == [1, 2, 3]
    assert out["recency_days"].to_list() == [1, 91, 29]
    assert out["frequency"].to_list() == [2, 1, 3]
    assert out["monetary"].to_list() == [150.0, 20.0, 90.0]


def test_metrics_in_business_zone(visits):
    # In Tokyo the 00:30 UTC visit of client 4 is at 09:30 on 1 April local, and as_of is local midnight.
    out = rfm_metrics(visits, as_of=dt.date(2024, 4, 2), tz="Asia/Tokyo").sort("client_id")
    assert out["client_id"].to_list() == [1, 2, 3, 4]
    assert out["recency_days"].to_list() == [2, 92, 30, 1]


def test_quintiles_share_scores_on_ties():
    frame = pl.DataFrame({"v": [1, 1, 2, 3, 5]})
    # strictly smaller counts 0, 0, 2, 3, 4 -> 1 + floor(5 * c / 5)
    assert frame.select(quintile_score(pl.col("v")))["v"].to_list() == [1, 1, 3, 4, 5]
    # recency: lower is better; strictly larger counts 3, 3, 2, 1, 0 -> 1 + floor(5 * c / 5)
    assert frame.select(quintile_score(pl.col("v"), higher_is_better=False))["v"].to_list() == [4, 4, 3, 2, 1]
    ten = pl.DataFrame({"v": list(range(10))})
    assert ten.select(quintile_score(pl.col("v")))["v"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_threshold_scores_inclusive_ends():
    frame = pl.DataFrame({"f": [1, 2, 3, 4, 5, 9, 10], "r": [0, 30, 31, 90, 180, 365, 366]})
    out = frame.select(
        threshold_score(pl.col("f"), (2, 3, 5, 10)).alias("f"),
        threshold_score(pl.col("r"), (30, 90, 180, 365), higher_is_better=False).alias("r"),
    )
    assert out["f"].to_list() == [1, 2, 3, 3, 4, 4, 5]
    assert out["r"].to_list() == [5, 5, 4, 4, 3, 2, 1]


def test_auto_falls_back_to_fixed_thresholds_when_quintiles_degenerate():
    metrics = pl.DataFrame(
        {
            "client_id": [1, 2, 3, 4, 5],
            "recency_days": [5, 40, 100, 200, 400],
            "frequency": [1, 1, 2, 3, 5],  # quintiles give 1,1,3,4,5: only four distinct scores
            "monetary": [10.0, 20.0, 30.0, 40.0, 50.0],
        }
    )
    auto = score_rfm(metrics)
    assert auto["f_score"].to_list() == [1, 1, 2, 3, 4]
    assert auto["r_score"].to_list() == [5, 4, 3, 2, 1]  # quintiles are not degenerate here
    assert auto["m_score"].to_list() == [1, 2, 3, 4, 5]
    quint = score_rfm(metrics, scoring="quantile")
    assert quint["f_score"].to_list() == [1, 1, 3, 4, 5]
    assert auto["rfm"].to_list() == ["511", "412", "323", "234", "145"]
    assert auto["segment"].to_list() == ["new", "new", "need_attention", "at_risk", "at_risk"]


def test_every_score_triple_has_a_segment_and_polars_matches_reference():
    grid = pl.DataFrame(
        list(itertools.product(range(1, 6), repeat=3)), schema=["r_score", "f_score", "m_score"], orient="row"
    ).with_columns(pl.all().cast(pl.Int8))
    from analytics.rfm import _segment_expr

    got = grid.with_columns(_segment_expr().alias("segment"))
    assert got["segment"].null_count() == 0
    for r, f, m, seg in got.iter_rows():
        assert seg == segment_for(r, f, m)
    assert set(got["segment"]) == {name for name, _ in SEGMENT_RULES}


def test_the_code_and_segment_tables_give_what_the_rules_give_for_every_client():
    import numpy as np

    from analytics.rfm import _code_expr, _segment_expr

    rng = np.random.default_rng(3)
    metrics = pl.DataFrame(
        {
            "client_id": np.arange(3_000),
            "recency_days": rng.integers(0, 400, 3_000),
            "frequency": rng.integers(1, 30, 3_000),
            "monetary": np.round(rng.gamma(2.0, 500.0, 3_000), 2),
        }
    )
    out = score_rfm(metrics, scoring="quantile")  # no NULL score: the table path
    by_rules = out.select(_code_expr().alias("rfm"), _segment_expr().alias("segment"))
    assert out.select("rfm", "segment").equals(by_rules)
    assert out["rfm"].n_unique() > 100  # most of the 125 triples are there
    for r, f, m, code, seg in out.select("r_score", "f_score", "m_score", "rfm", "segment").head(200).iter_rows():
        assert (code, seg) == (f"{r}{f}{m}", segment_for(r, f, m))


def test_rfm_end_to_end_and_summary(visits):
    out = rfm(visits, as_of=dt.date(2024, 4, 1), scoring="quantile").sort("client_id")
    # recency 1, 91, 29 -> strictly older counts 2, 0, 1 -> 1 + floor(5c/3) = 4, 1, 2
    assert out["r_score"].to_list() == [4, 1, 2]
    assert out["f_score"].to_list() == [2, 1, 4]
    assert out["m_score"].to_list() == [4, 1, 2]
    summary = segment_summary(out)
    assert summary["clients"].sum() == 3
    assert summary["segment"].to_list() == [name for name, _ in SEGMENT_RULES]


def test_single_client_scores():
    frame = visits_frame([visit(1, "2024-01-01T10:00", 10)])
    out = rfm(frame, as_of=dt.date(2024, 1, 2))
    assert out.height == 1
    assert out["f_score"][0] == 1
    assert out["r_score"][0] == 5  # fixed fallback: 1 day ago


def test_counting_scores_match_rank_scores_for_counts_and_money():
    import numpy as np

    from analytics.rfm import _countable, _counted_quintile_score

    rng = np.random.default_rng(0)
    counts = pl.Series("v", rng.integers(0, 40, 5_000))
    money = pl.Series("v", np.round(rng.gamma(2.0, 3_000.0, 5_000), 2))  # many distinct values, a few ties
    money = pl.concat([money, money.head(300)])
    for values in (counts, money):
        assert _countable(values)
        for higher in (True, False):
            by_rank = pl.DataFrame({"v": values}).select(quintile_score(pl.col("v"), higher_is_better=higher))["v"]
            assert _counted_quintile_score(values, higher_is_better=higher).equals(by_rank)
    assert not _countable(pl.Series("v", [1.0, None]))
    assert not _countable(pl.Series("v", [1.0, float("nan")]))
    assert not _countable(pl.Series("v", ["a"]))


def test_money_with_a_null_is_scored_by_rank_and_leaves_that_client_unscored():
    metrics = pl.DataFrame(
        {
            "client_id": [1, 2, 3, 4, 5, 6],
            "recency_days": [1, 5, 10, 40, 100, 400],
            "frequency": [9, 7, 5, 3, 2, 1],
            "monetary": [600.0, 500.0, None, 300.0, 200.0, 100.0],
        }
    )
    out = score_rfm(metrics, scoring="quantile")
    # 1 + floor(5 x clients strictly worse / 6 clients): 600 has 4 below it; the NULL is nobody's better
    assert out["m_score"].to_list() == [4, 3, None, 2, 1, 1]
    assert out["m_score"].equals(metrics.select(quintile_score(pl.col("monetary")).alias("m_score"))["m_score"])
