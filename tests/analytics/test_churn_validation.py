"""Every fixed churn method is scored on a holdout (the back-tested "auto" choice: test_churn_auto.py).

The synthetic world is a renewal process with drop-out (see ``analytics.synthetic``), not the BG/NBD
process, so no model wins by construction.
"""

import datetime as dt

import polars as pl
import pytest

from analytics.churn import CHURN_METHODS, purchases, validate_churn_methods
from analytics.synthetic import generate_visits

CALIBRATION_END = dt.date(2025, 9, 30)
OBSERVATION_END = dt.date(2025, 12, 30)


@pytest.fixture(scope="module")
def validation() -> pl.DataFrame:
    tables = []
    for seed in (1, 2, 3):
        visits, _ = generate_visits(clients=4_000, visits=40_000, seed=seed)
        table = validate_churn_methods(
            purchases(visits),
            "client_id",
            "started_at",
            calibration_end=CALIBRATION_END,
            observation_end=OBSERVATION_END,
            methods=CHURN_METHODS,
        )
        tables.append(table.with_columns(pl.lit(seed).alias("seed")))
    return pl.concat(tables)


def test_table_has_every_fixed_method_and_the_baseline(validation):
    mean = (
        validation.group_by("method")
        .agg(pl.col("accuracy", "precision", "recall", "f1").mean())
        .sort("accuracy", descending=True)
    )
    print(mean)  # pytest -s
    assert set(mean["method"]) == {*CHURN_METHODS, "majority_class"}


def test_every_method_beats_the_majority_baseline(validation):
    for _seed, table in validation.group_by("seed"):
        baseline = table.filter(pl.col("method") == "majority_class")["accuracy"][0]
        methods = table.filter(pl.col("method") != "majority_class")
        assert (methods["accuracy"] > baseline).all()


def test_bgnbd_p_alive_trails_the_mbgnbd_flag(validation):
    # BG/NBD calls every one-visit client alive; the MBG/NBD drop-out at the first purchase fixes that.
    mean = validation.group_by("method").agg(pl.col("recall").mean())
    recall = dict(mean.iter_rows())
    assert recall["bgnbd_p_alive"] < recall["mbgnbd_p_alive"]
