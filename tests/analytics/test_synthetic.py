"""The synthetic world: exact sizes, warehouse schema, determinism, and a round trip through connect()."""

import datetime as dt

import polars as pl
import pytest

from analytics.schema import TABLES, connect, missing_columns
from analytics.synthetic import WorldSize, generate_visits, write_world


def test_generate_visits_exact_sizes_and_schema():
    visits, clients = generate_visits(clients=1_000, visits=8_000, seed=5)
    assert visits.height == 8_000
    assert clients.height == 1_000
    assert visits["client_id"].n_unique() == 1_000  # everybody has a first visit
    assert missing_columns("visits", visits.columns) == []
    assert missing_columns("clients", clients.columns) == []
    assert visits["started_at"].dtype == pl.Datetime("us", "UTC")
    span = visits["started_at"].max() - visits["started_at"].min()
    assert dt.timedelta(days=900) < span < dt.timedelta(days=3 * 366)
    assert set(visits["status"].unique()) == {"completed", "cancelled", "no_show"}


def test_generation_is_deterministic():
    a, _ = generate_visits(clients=200, visits=1_000, seed=9)
    b, _ = generate_visits(clients=200, visits=1_000, seed=9)
    assert a.equals(b)


def test_needs_a_visit_per_client():
    with pytest.raises(ValueError):
        generate_visits(clients=10, visits=5)


def test_write_world_round_trip(tmp_path):
    write_world(tmp_path, WorldSize(clients=300, visits=2_000, shifts=30, workers=40))
    con = connect(tmp_path)
    tables = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    assert set(TABLES) | {"staff_schedule", "reviews", "workers", "services"} <= tables
    assert con.sql("SELECT count(*) FROM visits").fetchall() == [(2_000,)]
