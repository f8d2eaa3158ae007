"""Cohort retention on a hand-computed fixture: complete, empty and incomplete periods, zones, weeks."""

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from analytics.cohorts import cohort_matrix, cohort_retention
from analytics.fixtures import visit, visits_frame


@pytest.fixture
def visits() -> pl.DataFrame:
    return visits_frame(
        [
            visit(1, "2024-01-05T12:00", 10),
            visit(1, "2024-02-05T12:00", 20),
            visit(2, "2024-01-20T12:00", 5),
            visit(2, "2024-03-01T12:00", 99, status="cancelled"),  # not a purchase: ignored
            visit(3, "2024-02-10T12:00", 7),
            visit(3, "2024-03-10T12:00", 7),
            # 23:30 UTC on 31 Jan is 00:30 on 1 Feb in Berlin: the cohort depends on the business's zone.
            visit(4, "2024-01-31T23:30", 10),
        ]
    )


def _cell(table: pl.DataFrame, cohort: str, k: int) -> dict:
    rows = table.filter((pl.col("cohort") == dt.date.fromisoformat(cohort)) & (pl.col("period_index") == k))
    assert rows.height == 1
    return rows.row(0, named=True)


def test_complete_periods_hand_computed(visits):
    table = cohort_retention(visits, as_of=dt.datetime(2024, 4, 1))
    # Jan cohort = {1, 2, 4}; Feb cohort = {3}. April has not started, so it is not in the table.
    assert table.height == 3 + 2
    jan0, jan1, jan2 = (_cell(table, "2024-01-01", k) for k in range(3))
    assert (jan0["cohort_size"], jan0["active_clients"], jan0["retention"]) == (3, 3, 1.0)
    assert jan0["revenue"] == 25.0
    assert jan1["active_clients"] == 1
    assert jan1["retention"] == pytest.approx(1 / 3)
    assert jan1["revenue_per_client"] == pytest.approx(20 / 3)
    assert jan1["revenue_retention"] == pytest.approx(20 / 25)
    # March is complete and nobody of the January cohort came: a real zero, not a null.
    assert jan2["retention"] == 0.0
    assert jan2["revenue"] == 0.0
    feb1 = _cell(table, "2024-02-01", 1)
    assert (feb1["cohort_size"], feb1["retention"], feb1["revenue"]) == (1, 1.0, 7.0)


def test_incomplete_period_is_null_not_zero(visits):
    table = cohort_retention(visits, as_of=dt.datetime(2024, 3, 15))
    jan2 = _cell(table, "2024-01-01", 2)
    feb1 = _cell(table, "2024-02-01", 1)
    for cell in (jan2, feb1):
        assert cell["retention"] is None
        assert cell["active_clients"] is None
        assert cell["revenue"] is None
    # A visit on or after as_of is outside the data.
    assert _cell(table, "2024-01-01", 1)["retention"] == pytest.approx(1 / 3)


def test_time_zone_moves_a_client_to_the_next_cohort(visits):
    table = cohort_retention(visits, as_of=dt.datetime(2024, 4, 1), tz="Europe/Berlin")
    assert _cell(table, "2024-01-01", 0)["cohort_size"] == 2
    feb = _cell(table, "2024-02-01", 1)
    assert feb["cohort_size"] == 2
    assert feb["retention"] == 0.5


def test_aware_as_of_is_converted_to_the_business_zone(visits):
    # 2024-03-31 23:00 UTC is 1 April 01:00 in Berlin: March is complete there.
    as_of = dt.datetime(2024, 3, 31, 23, 0, tzinfo=dt.UTC)
    berlin = cohort_retention(visits, as_of=as_of, tz="Europe/Berlin")
    utc = cohort_retention(visits, as_of=as_of)
    assert _cell(berlin, "2024-01-01", 2)["retention"] == 0.0
    assert _cell(utc, "2024-01-01", 2)["retention"] is None


def test_weekly_cohorts():
    frame = visits_frame(
        [
            visit(1, "2024-01-01T10:00"),  # Monday of week 1
            visit(1, "2024-01-09T10:00"),  # week 2
            visit(2, "2024-01-07T10:00"),  # Sunday: still week 1
            visit(3, "2024-01-10T10:00"),  # week 2 cohort
        ]
    )
    table = cohort_retention(frame, period="week", as_of=dt.datetime(2024, 1, 15))
    w1 = _cell(table, "2024-01-01", 0)
    assert w1["cohort_size"] == 2
    assert _cell(table, "2024-01-01", 1)["retention"] == 0.5
    assert _cell(table, "2024-01-08", 0)["cohort_size"] == 1


def test_default_as_of_leaves_the_last_period_incomplete(visits):
    table = cohort_retention(visits)
    assert _cell(table, "2024-02-01", 1)["retention"] is None


def test_matrix_is_wide_with_nulls(visits):
    matrix = cohort_matrix(cohort_retention(visits, as_of=dt.datetime(2024, 3, 15)))
    assert matrix.columns == ["cohort", "cohort_size", "0", "1", "2"]
    assert matrix.row(0) == (dt.date(2024, 1, 1), 3, 1.0, pytest.approx(1 / 3), None)
    assert matrix.row(1) == (dt.date(2024, 2, 1), 1, 1.0, None, None)


def test_one_customer_and_relation_input(visits):
    import duckdb

    one = visits.filter(pl.col("client_id") == 1)
    con = duckdb.connect()
    rel = con.from_arrow(one.to_arrow())
    table = cohort_retention(rel, as_of=dt.date(2024, 3, 1))
    assert table["retention"].to_list() == [1.0, 1.0]


def test_lazy_frame_input_matches_eager(visits):
    eager = cohort_retention(visits, as_of=dt.date(2024, 4, 1))
    lazy = cohort_retention(visits.lazy(), as_of=dt.date(2024, 4, 1))
    assert eager.equals(lazy)


@pytest.mark.parametrize(("period", "tz"), [("month", "Asia/Tokyo"), ("week", "Europe/Berlin")])
def test_synthetic_world_cells_match_a_direct_count(period, tz):
    """Every complete cell equals a brute-force count over the visits (no shortcuts in the reference)."""
    from zoneinfo import ZoneInfo

    from analytics.synthetic import generate_visits

    visits, _ = generate_visits(clients=300, visits=3_000, seed=3, years=1.0)
    as_of = dt.datetime(2023, 11, 17, 15, 0, tzinfo=dt.UTC)
    table = cohort_retention(visits, period=period, tz=tz, as_of=as_of)
    done = visits.filter((pl.col("status") == "completed") & (pl.col("started_at") < as_of))
    local = pl.col("started_at").dt.convert_time_zone(tz).dt.replace_time_zone(None)
    unit = "1mo" if period == "month" else "1w"
    done = done.with_columns(local.dt.truncate(unit).dt.date().alias("p"))
    done = done.with_columns(pl.col("p").min().over("client_id").alias("cohort"))
    end_local = as_of.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    for row in table.filter(pl.col("retention").is_not_null()).sample(40, seed=1).iter_rows(named=True):
        members = done.filter(pl.col("cohort") == row["cohort"])
        if period == "month":
            y, m = divmod(row["cohort"].month - 1 + row["period_index"], 12)
            start = dt.date(row["cohort"].year + y, m + 1, 1)
        else:
            start = row["cohort"] + dt.timedelta(days=7 * row["period_index"])
        active = members.filter(pl.col("p") == start)
        assert row["cohort_size"] == members["client_id"].n_unique()
        assert row["active_clients"] == active["client_id"].n_unique()
        assert row["revenue"] == pytest.approx(active["amount"].sum())
        assert dt.datetime.combine(start, dt.time()) < end_local


def test_no_completed_visits_gives_an_empty_table():
    frame = visits_frame([visit(1, "2024-01-05T10:00", status="cancelled")])
    assert cohort_retention(frame, as_of=dt.date(2024, 2, 1)).height == 0


def test_weekly_cohorts_over_more_than_64_periods_match_a_direct_count():
    """Activity bits span several 64-period words (about 125 weeks): every complete cell is counted exactly."""
    from analytics.synthetic import generate_visits

    visits, _ = generate_visits(clients=400, visits=4_000, seed=11, years=2.5)
    as_of = dt.datetime(2025, 6, 2, tzinfo=dt.UTC)  # a Monday: the last week before it is complete
    table = cohort_retention(visits, period="week", as_of=as_of)
    done = visits.filter((pl.col("status") == "completed") & (pl.col("started_at") < as_of))
    done = done.with_columns(pl.col("started_at").dt.convert_time_zone("UTC").dt.truncate("1w").dt.date().alias("p"))
    done = done.with_columns(pl.col("p").min().over("client_id").alias("cohort"))
    k = ((pl.col("p") - pl.col("cohort")).dt.total_days() // 7).cast(pl.Int32).alias("period_index")
    expected = done.group_by("cohort", k).agg(
        pl.col("client_id").n_unique().cast(pl.Int64).alias("active_clients"), pl.col("amount").sum().alias("revenue")
    )
    span = (done["p"].max() - done["p"].min()).days // 7 + 1
    assert span > 64  # two words at least
    got = table.filter(pl.col("active_clients") > 0).select("cohort", "period_index", "active_clients", "revenue")
    joined = expected.join(got, on=["cohort", "period_index"], how="full", coalesce=True)
    assert joined.height == expected.height == got.height
    assert (joined["active_clients"] == joined["active_clients_right"]).all()
    assert ((joined["revenue"] - joined["revenue_right"]).abs() < 1e-6).all()


def _plan_inputs(visits: pl.DataFrame, period: str, tz: str, as_of: dt.datetime):
    """The arguments cohort_retention passes to its cell plans, for comparing the plans directly."""
    from analytics._frames import as_relation, bound_sql, local_time_sql
    from analytics.cohorts import PURCHASE_STATUS, _first_period, _period_index, _period_index_sql

    rel = as_relation(visits)
    bound = bound_sql(rel, "started_at", as_of, tz)
    p = _period_index_sql(period, local_time_sql(rel, "started_at", tz))
    where = f"status = '{PURCHASE_STATUS}' AND \"started_at\" < {bound}"
    last = _period_index(period, as_of.astimezone(ZoneInfo(tz)).replace(tzinfo=None))
    return rel, p, where, _first_period(rel, period, tz, bound), last


def _sorted_cells(cells: pl.DataFrame) -> pl.DataFrame:
    return cells.sort("cohort", "p")


@pytest.mark.parametrize(
    ("period", "tz", "years"),
    [("month", "Europe/Berlin", 2.0), ("week", "UTC", 2.5), ("week", "Asia/Tokyo", 5.5)],  # 5.5 y: > 255 weeks
)
def test_dense_cohort_array_and_join_plans_give_the_same_cells(period, tz, years):
    """The default plan (a dense client -> cohort array) is taken for integer ids and equals the SQL join plan."""
    from analytics.cohorts import _cells_dense, _cells_join
    from analytics.synthetic import generate_visits

    visits, _ = generate_visits(clients=500, visits=6_000, seed=5, years=years)
    as_of = dt.datetime(2023, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=int(365 * years) - 30)
    rel, p, where, first, last = _plan_inputs(visits, period, tz, as_of)
    if years > 5:
        assert last - first + 1 > 255  # periods no longer fit a byte: the 16-bit array
    dense = _cells_dense(rel, p, where, first, last)
    assert dense is not None
    joined = _sorted_cells(_cells_join(rel, p, where, first, last))
    dense = _sorted_cells(dense)
    assert dense.select("cohort", "p", "active").equals(joined.select("cohort", "p", "active"))
    assert (dense["revenue"] - joined["revenue"]).abs().max() < 1e-6
    assert dense.height > 50


def test_sparse_or_text_client_ids_take_the_join_plan_with_the_same_table():
    """Ids a dense array cannot index (spread over 10^12, or strings) give the same cohort table."""
    from analytics.cohorts import _cells_dense
    from analytics.synthetic import generate_visits

    visits, _ = generate_visits(clients=300, visits=3_000, seed=7, years=1.0)
    as_of = dt.datetime(2023, 11, 1, tzinfo=dt.UTC)
    expected = cohort_retention(visits, as_of=as_of)
    sparse = visits.with_columns(pl.col("client_id") * 1_000_000_000)
    text = visits.with_columns(pl.format("c-{}", pl.col("client_id")).alias("client_id"))
    for other in (sparse, text):
        assert _cells_dense(*_plan_inputs(other, "month", "UTC", as_of)) is None
        assert cohort_retention(other, as_of=as_of).equals(expected)
