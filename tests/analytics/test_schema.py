"""The warehouse helper: Parquet folder -> DuckDB views, schema checks, frames and relations alike."""

import datetime as dt

import polars as pl
import pytest

from analytics.abc import abc_analysis
from analytics.fixtures import visit, visits_frame
from analytics.schema import ALL_TABLES, TABLES, SchemaError, connect, missing_columns, write_warehouse


def test_documented_core_tables_have_the_issue_columns():
    names = {t: [c.name for c in cols if c.required] for t, cols in TABLES.items()}
    assert names["visits"] == [
        "visit_id",
        "client_id",
        "organization_id",
        "branch_id",
        "service_id",
        "staff_id",
        "started_at",
        "amount",
        "currency",
        "status",
        "source",
    ]
    assert names["attendance"] == ["shift_id", "worker_id", "showed", "hours", "quality"]
    assert {"staff_schedule", "reviews", "workers", "services"} <= set(ALL_TABLES)


def test_connect_exposes_parquet_files_and_part_folders_as_views(tmp_path):
    frame = visits_frame([visit(1, "2024-01-01T10:00", 10), visit(2, "2024-01-02T10:00", 30, service_id=2)])
    write_warehouse(tmp_path, visits=frame)
    parts = tmp_path / "workers"
    parts.mkdir()
    pl.DataFrame({"worker_id": [1], "segment": ["new"], "district": ["north"]}).write_parquet(parts / "a.parquet")
    pl.DataFrame({"worker_id": [2], "segment": ["veteran"], "district": ["south"]}).write_parquet(parts / "b.parquet")
    con = connect(tmp_path)
    assert con.sql("SELECT count(*) FROM visits").fetchall() == [(2,)]
    assert con.sql("SELECT count(*) FROM workers").fetchall() == [(2,)]
    # A view is just another input: same answer as the polars frame.
    assert abc_analysis(con.table("visits")).equals(abc_analysis(frame))
    assert con.sql("SELECT typeof(started_at) FROM visits LIMIT 1").fetchall() == [("TIMESTAMP WITH TIME ZONE",)]


def test_connect_rejects_a_table_missing_required_columns(tmp_path):
    pl.DataFrame({"visit_id": [1]}).write_parquet(tmp_path / "visits.parquet")
    with pytest.raises(SchemaError, match="client_id"):
        connect(tmp_path)
    with pytest.raises(FileNotFoundError):
        connect(tmp_path / "nope")


def test_write_warehouse_validates():
    assert missing_columns("attendance", ["shift_id"]) == ["worker_id", "showed", "hours", "quality"]
    with pytest.raises(SchemaError):
        write_warehouse("/nonexistent-never-created", bogus=pl.DataFrame({"a": [1]}))


def test_naive_timestamps_are_read_as_utc():
    aware = visits_frame([visit(1, dt.datetime(2024, 1, 31, 23, 30, tzinfo=dt.UTC))])
    naive = aware.with_columns(pl.col("started_at").dt.replace_time_zone(None))
    from analytics.cohorts import cohort_retention

    for tz, cohort in (("UTC", dt.date(2024, 1, 1)), ("Europe/Berlin", dt.date(2024, 2, 1))):
        a = cohort_retention(aware, tz=tz, as_of=dt.date(2024, 3, 1))
        n = cohort_retention(naive, tz=tz, as_of=dt.date(2024, 3, 1))
        assert a.equals(n)
        assert a["cohort"][0] == cohort


def test_rejects_unsafe_names():
    frame = visits_frame([visit(1, "2024-01-01T10:00")])
    with pytest.raises(ValueError):
        abc_analysis(frame, by="client_id; DROP TABLE x")
    from analytics.cohorts import cohort_retention

    with pytest.raises(ValueError):
        cohort_retention(frame, tz="UTC'; --")


def test_connect_memory_limit_and_temp_directory_spill_with_the_same_answer(tmp_path):
    import datetime as dt

    from analytics.churn import purchases, summarize
    from analytics.synthetic import generate_visits

    visits, clients = generate_visits(clients=20_000, visits=200_000, seed=3)
    write_warehouse(tmp_path / "w", visits=visits, clients=clients)
    free = connect(tmp_path / "w")
    tight = connect(tmp_path / "w", threads=1, memory_limit="16MB", temp_directory=tmp_path / "spill")
    (setting,) = tight.sql("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchall()
    assert setting[0].endswith("MiB") and float(setting[0].split()[0]) < 16
    assert setting[1] == str(tmp_path / "spill")
    args = ("client_id", "started_at", "W", dt.date(2025, 6, 30), dt.date(2025, 12, 31))
    a = summarize(purchases(free.table("visits")), *args).sort("client_id")
    b = summarize(purchases(tight.table("visits")), *args).sort("client_id")
    assert a.equals(b)
    assert a.height > 10_000


def test_connect_rejects_a_memory_limit_that_is_not_a_size(tmp_path):
    write_warehouse(tmp_path, visits=visits_frame([visit(1, "2025-01-01 10:00")]))
    with pytest.raises(ValueError, match="memory size"):
        connect(tmp_path, memory_limit="6GB'; SELECT 1; --")
