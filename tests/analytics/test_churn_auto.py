"""churn_flags(method="auto") chooses its rule on the business's own history (ADR 0026).

Each world is a renewal process with drop-out (``analytics.synthetic``), not any model's own process, and
the worlds differ in visit rate, drop-out, regularity, seasonality, growth and size. The question is asked
at 2025-09-30 with a 13-week holdout; "auto" sees nothing after 2025-09-30 and is scored on that holdout
beside every fixed method, which is scored there too (so the best fixed method is picked with hindsight).

The results table (world, winner, auto accuracy, best fixed accuracy, baseline) is printed by
``pytest tests/analytics/test_churn_auto.py -s -k table``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics.churn import (
    CHURN_METHODS,
    DEFAULT_CHURN_METHOD,
    FALLBACK_CHURN_METHOD,
    FIXED_RULES,
    RULE_FAMILIES,
    backtest_splits,
    best_cut,
    choose_churn_rule,
    churn_flags,
    purchases,
    validate_churn_methods,
)
from analytics.synthetic import WorldShape, generate_visits

CALIBRATION_END = dt.date(2025, 9, 30)
OBSERVATION_END = dt.date(2025, 12, 30)

YOUNG = {"start": dt.datetime(2024, 10, 1, tzinfo=dt.UTC), "years": 1.25}  # no season-matched split possible

WORLDS: dict[str, tuple[dict[str, object], WorldShape | None]] = {
    "reference": ({"clients": 2_500, "visits": 25_000, "seed": 1}, None),
    "sparse_high_dropout": (
        {"clients": 3_000, "visits": 12_000, "seed": 2},
        WorldShape(dropout=(2.0, 4.0), median_interval_days=60),
    ),
    "frequent_loyal": (
        {"clients": 2_000, "visits": 40_000, "seed": 3},
        WorldShape(dropout=(1.0, 20.0), median_interval_days=20, regular_share=0.8),
    ),
    "seasonal": ({"clients": 2_500, "visits": 25_000, "seed": 4}, WorldShape(seasonality=0.6)),
    "flat_poisson": (
        {"clients": 2_000, "visits": 16_000, "seed": 5},
        WorldShape(regular_share=0.0, growth=1.0),
    ),
    # 15 months of history: the back-test falls back to the split right before the question (another
    # season), where auto ranks the fixed methods instead of tuning.
    "young_business": ({"clients": 2_500, "visits": 20_000, "seed": 6, **YOUNG}, None),
    "young_seasonal": ({"clients": 2_500, "visits": 20_000, "seed": 7, **YOUNG}, WorldShape(seasonality=0.4)),
}


def _visits(name: str) -> pl.DataFrame:
    kwargs, shape = WORLDS[name]
    visits, _ = generate_visits(**kwargs, shape=shape)  # type: ignore[arg-type]
    return purchases(visits)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def results() -> pl.DataFrame:
    rows = []
    for name in WORLDS:
        table = validate_churn_methods(
            _visits(name),
            "client_id",
            "started_at",
            calibration_end=CALIBRATION_END,
            observation_end=OBSERVATION_END,
        )
        auto = table.filter(pl.col("method") == "auto").row(0, named=True)
        fixed = table.filter(pl.col("method").is_in(CHURN_METHODS)).sort("accuracy", descending=True)
        base = table.filter(pl.col("method") == "majority_class")["accuracy"][0]
        rows.append(
            {
                "world": name,
                "winner": auto["rule"],
                "auto_acc": auto["accuracy"],
                "auto_precision": auto["precision"],
                "auto_recall": auto["recall"],
                "best_fixed": fixed["method"][0],
                "best_fixed_acc": fixed["accuracy"][0],
                "baseline": base,
                "n": auto["n"],
            }
        )
    return pl.DataFrame(rows).with_columns((pl.col("auto_acc") - pl.col("best_fixed_acc")).alias("delta"))


def _show(frame: pl.DataFrame) -> str:
    with pl.Config(tbl_rows=50, tbl_cols=20, fmt_str_lengths=70, tbl_width_chars=250, float_precision=4):
        return str(frame)


def test_results_table(results):
    print(_show(results))  # the table quoted in the closing note (pytest -s -k table)
    assert results.height == len(WORLDS)


def test_auto_is_never_more_than_one_point_behind_the_best_fixed_method(results):
    behind = results.filter(pl.col("delta") < -0.01)
    assert behind.height == 0, "\n" + _show(results)


def test_young_business_is_back_tested_on_the_split_right_before_the_question(results):
    for world in ("young_business", "young_seasonal"):
        winner = results.filter(pl.col("world") == world)["winner"][0]
        assert "[back-test 2025-07-01..2025-09-30]" in winner
        assert any(winner.startswith(rule.describe()) for rule in FIXED_RULES.values())  # not tuned
    assert "[back-test 2024-10-01..2024-12-31]" in results.filter(pl.col("world") == "reference")["winner"][0]


def test_auto_beats_the_majority_baseline_everywhere(results):
    assert (results["auto_acc"] > results["baseline"]).all(), "\n" + _show(results)


def test_auto_is_the_default():
    assert DEFAULT_CHURN_METHOD == "auto"


@pytest.fixture(scope="module")
def reference_visits() -> pl.DataFrame:
    return _visits("reference")


@pytest.fixture(scope="module")
def small_visits() -> pl.DataFrame:
    """A smaller reference world for the mechanics (splits, leakage, fallback)."""
    visits, _ = generate_visits(clients=1_000, visits=10_000, seed=11)
    return purchases(visits)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def reference_result(reference_visits):
    return churn_flags(reference_visits, as_of=CALIBRATION_END)


def test_result_says_which_method_won_with_its_back_test_scores(reference_result):
    result = reference_result
    choice = result.choice
    assert choice is not None and choice.fallback is None
    assert choice.tuned  # three years of history: the season-matched split, parameters tuned there
    assert result.rule == choice.rule and result.rule.family in RULE_FAMILIES
    for value in (choice.accuracy, choice.precision, choice.recall, choice.baseline_accuracy):
        assert 0.0 < value <= 1.0
    assert choice.accuracy > choice.baseline_accuracy
    assert set(choice.table["method"]) == {*RULE_FAMILIES, *CHURN_METHODS, "majority_class"}
    tuned = choice.table.filter(pl.col("tuned"))
    assert set(tuned["method"]) == set(RULE_FAMILIES)
    # On the back-test itself a tuned family is never behind its fixed textbook version.
    fixed_13w = choice.table.filter(pl.col("method") == "window_13w")["accuracy"][0]
    assert tuned.filter(pl.col("method") == "inactivity_window")["accuracy"][0] >= fixed_13w
    assert choice.table["accuracy"][0] == pytest.approx(choice.accuracy)  # the winner heads the table
    # Three years of history: the split is the question shifted back 4 × 13 weeks (the same season).
    assert choice.split == (CALIBRATION_END - dt.timedelta(days=364), CALIBRATION_END - dt.timedelta(days=273))
    assert choice.split == backtest_splits(CALIBRATION_END, 91)[0]
    text = str(result)
    assert "accuracy" in text and "majority class" in text and result.rule.family in text
    frame = result.frame
    assert frame["churned"].dtype == pl.Boolean and frame.height == frame["client_id"].n_unique()
    assert result.flags.sum() == frame["churned"].sum()


def test_auto_reads_nothing_after_as_of(small_visits):
    cut = small_visits.filter(pl.col("started_at").dt.date() <= CALIBRATION_END)
    full = churn_flags(small_visits, as_of=CALIBRATION_END, seasonal=False)
    only_past = churn_flags(cut, as_of=CALIBRATION_END, seasonal=False)
    assert full.rule == only_past.rule
    assert full.frame.equals(only_past.frame)  # sorted by customer


def test_without_a_year_of_history_the_split_is_shifted_back_by_one_holdout(small_visits):
    start = small_visits["started_at"].min().date()  # type: ignore[union-attr]
    as_of = start + dt.timedelta(days=300)  # 300 days: the split a year back has no history before it
    choice = choose_churn_rule(small_visits, "client_id", "started_at", as_of=as_of)
    assert choice.fallback is None
    assert choice.split == (as_of - dt.timedelta(days=91), as_of)
    assert choice.note is not None and "split" in choice.note  # why the season-matched split was skipped
    assert not choice.tuned and choice.rule in FIXED_RULES.values()  # off-season: textbook parameters
    tuned = choose_churn_rule(small_visits, "client_id", "started_at", as_of=as_of, tune=True)
    assert tuned.tuned and tuned.rule not in FIXED_RULES.values()
    assert choose_churn_rule(small_visits, "client_id", "started_at", as_of=CALIBRATION_END, seasonal=False).split == (
        CALIBRATION_END - dt.timedelta(days=91),
        CALIBRATION_END,
    )


def test_short_history_falls_back_to_the_documented_default_and_says_so(small_visits):
    start = small_visits["started_at"].min().date()  # type: ignore[union-attr]
    result = churn_flags(small_visits, as_of=start + dt.timedelta(days=120))
    assert result.fallback is not None and "history" in result.fallback
    assert result.rule.describe().startswith("inactivity_window: 91")
    assert FALLBACK_CHURN_METHOD == "window_13w"
    assert "fell back" in str(result)
    assert result.frame.height > 0


def test_fixed_method_is_applied_without_a_back_test(small_visits):
    result = churn_flags(small_visits, "window_13w", as_of=CALIBRATION_END)
    assert result.choice is None
    silent_days = (result.frame["T"] - result.frame["recency"]) * 7
    assert (result.flags == (silent_days > 91).to_numpy()).all()
    with pytest.raises(ValueError, match="unknown churn method"):
        churn_flags(small_visits, "nonsense", as_of=CALIBRATION_END)  # type: ignore[arg-type]


def test_best_cut_hand_computed():
    score = np.array([5.0, 4.0, 4.0, 3.0, 1.0, 0.0])
    actual = np.array([True, True, False, True, False, False])
    cut, acc = best_cut(score, actual)
    # Flagging the top 4 (score > 2) gets 5 of 6 right; ties at 4.0 cannot be split.
    assert cut == pytest.approx(2.0)
    assert acc == pytest.approx(5 / 6)
    assert best_cut(np.array([1.0, 2.0]), np.array([False, False])) == (float("inf"), 1.0)
    assert best_cut(np.array([1.0, 2.0]), np.array([True, True]))[0] == float("-inf")
