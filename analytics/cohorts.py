"""Cohort retention: acquisition period × periods since the first visit.

Definitions
-----------
* Activity is a ``completed`` visit. A client's cohort is the period (in the business's time zone) of their
  first completed visit; ``period_index`` k counts whole periods since it (0 = the acquisition period).
* ``retention`` = distinct clients of the cohort with a completed visit in period k ÷ cohort size.
* Revenue variant: ``revenue`` (sum of completed amounts of the cohort in period k), ``revenue_per_client``
  (÷ cohort size) and ``revenue_retention`` (÷ the cohort's revenue in period 0, i.e. net revenue retention).
* ``as_of`` is the exclusive end of the data. A period that has not ended by ``as_of`` is *incomplete*: its
  cells are null, never zero, so a half-finished month does not read as churn. Periods that have not started
  by ``as_of`` are not in the table at all. A complete period with no activity is a real 0.
"""

# ruff: noqa: S608 — SQL is assembled from identifiers checked by check_ident/check_tz and typed literals.

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import polars as pl

from analytics._frames import (
    INTEGER_TYPES,
    TableLike,
    as_relation,
    bound_sql,
    column_type,
    local_connection,
    local_time_sql,
    query,
)

PURCHASE_STATUS = "completed"


def default_as_of(visits: TableLike, *, tz: str = "UTC", time_col: str = "started_at") -> dt.datetime:
    """Just after the last visit (any status), as a naive local timestamp: the default end of the data."""
    rel = as_relation(visits)
    # Convert the maximum, not every row: the zone shift is monotonic for the purpose of a day boundary.
    local = local_time_sql(rel, time_col, tz, expr=f'max("{time_col}")')
    row = query(rel, "v", f"SELECT {local} FROM v").fetchall()[0]
    if row[0] is None:
        raise ValueError("no visits: cannot infer as_of")
    last: dt.datetime = row[0]
    return last + dt.timedelta(microseconds=1)


# Monday 1969-12-29 anchors week numbers, so week indices are whole ISO weeks (Monday start).
_WEEK_ANCHOR = dt.date(1969, 12, 29)


def _period_index_sql(period: str, local: str) -> str:
    if period == "month":
        return f"(year({local}) * 12 + month({local}) - 1)"
    return f"(datediff('day', DATE '{_WEEK_ANCHOR.isoformat()}', CAST({local} AS DATE)) // 7)"


def _period_index(period: str, when: dt.datetime) -> int:
    if period == "month":
        return when.year * 12 + when.month - 1
    return (when.date() - _WEEK_ANCHOR).days // 7


def _period_start(period: str, index: int) -> dt.date:
    if period == "month":
        return dt.date(index // 12, index % 12 + 1, 1)
    return _WEEK_ANCHOR + dt.timedelta(days=7 * index)


def _period_start_expr(period: str, index: pl.Expr) -> pl.Expr:
    if period == "month":
        return pl.date(index // 12, index % 12 + 1, 1)
    return pl.lit(_WEEK_ANCHOR) + pl.duration(days=index * 7)


def _local_naive(value: dt.datetime | dt.date, tz: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            from zoneinfo import ZoneInfo

            return value.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
        return value
    return dt.datetime(value.year, value.month, value.day)


_WORD = 64  # periods per UBIGINT word of a client's activity mask
_BATCH = 1 << 20  # rows per Arrow batch of the revenue pass
# The dense client -> cohort table has one slot per id between the smallest and the largest client id; it
# is used while the ids are at most this many times the clients in number (and the table under 256 MB).
_DENSE_SLACK = 8
_DENSE_MAX_BYTES = 256 << 20


def _mask_sql(span: int) -> tuple[str, str]:
    """``bit_or`` words of a client's active periods (``p`` counted from 0) and the per-period bit counts."""
    words = -(-span // _WORD)
    masks = []
    for i in range(words):
        lo = i * _WORD
        bit = f"CAST(1 AS UBIGINT) << CAST(p - {lo} AS UBIGINT)"
        if words > 1:  # a CASE, not a FILTER: the shift must not even be computed for another word's periods
            bit = f"CASE WHEN p >= {lo} AND p < {lo + _WORD} THEN {bit} END"
        masks.append(f"bit_or({bit}) AS w{i}")
    counts = ", ".join(
        f"sum(CAST((coalesce(w{b // _WORD}, 0) >> CAST({b % _WORD} AS UBIGINT)) & CAST(1 AS UBIGINT) AS BIGINT))"
        for b in range(span)
    )
    return ", ".join(masks), counts


def _cells(rel: duckdb.DuckDBPyRelation, p: str, where: str, first: int, last: int) -> pl.DataFrame:
    """(cohort, p, active, revenue) per cell: one aggregate grouped by client, then one pass for the revenue.

    One aggregate grouped by client gives each client's cohort (the minimum period) and the set of periods
    it was active in, as bits of UBIGINT words over ``first``..``last`` (a bound the data lies within).
    Active clients per cell are bit counts summed by cohort (a tiny aggregate). The revenue per cell needs
    each visit's cohort. With integer client ids that are not too sparse, the client -> cohort map is a dense
    array (one byte per id for up to 255 periods, indexed by ``client_id - min``): a second scan of the
    visits streams through it in Arrow batches and sums amounts into a cohort x period grid. At 10M clients
    that array is 10 MB and stays in the CPU caches, where a hash join against the 10M-row client table
    (hundreds of MB) misses them on almost every probe and grew 10x faster than the rows (ADR 0032,
    session 6). Other ids (strings, very sparse) take the join plan, :func:`_cells_join`. Both plans give the
    same cells: a cell has revenue rows exactly when some client of the cohort was active in it.
    """
    dense = _cells_dense(rel, p, where, first, last)
    return dense if dense is not None else _cells_join(rel, p, where, first, last)


def _cells_dense(rel: duckdb.DuckDBPyRelation, p: str, where: str, first: int, last: int) -> pl.DataFrame | None:
    """The cells through a dense client -> cohort array; None when the client ids do not suit one.

    Integer ids only, and at most ``_DENSE_SLACK`` slots per client (plus 64k) and 256 MB: the span of ids is
    known after the per-client aggregate, so sparse ids cost that aggregate twice (once here, once in the
    join plan).
    """
    span = last - first + 1
    if column_type(rel, "client_id").upper() not in INTEGER_TYPES or span > 0xFFFF:
        return None
    small = span <= 0xFF
    ptype = "UTINYINT" if small else "USMALLINT"
    masks, counts = _mask_sql(span)
    src = (
        f"SELECT client_id, CAST({p} - {first} AS {ptype}) AS p{{amount}} FROM v "
        f"WHERE {where} AND client_id IS NOT NULL"
    )
    clients = query(
        rel, "v", f"SELECT client_id, min(p) AS cohort, {masks} FROM ({src.format(amount='')}) GROUP BY ALL"
    )
    table = clients.to_arrow_table()
    if table.num_rows == 0:
        return _EMPTY_CELLS
    ids = table.column("client_id").to_numpy()
    lo, hi = int(ids.min()), int(ids.max())
    itemsize = 1 if small else 2
    if hi - lo + 1 > _DENSE_SLACK * len(ids) + (1 << 16) or (hi - lo + 1) * itemsize > _DENSE_MAX_BYTES:
        return None
    # The per-period bit counts run on the fetched client table (Arrow, no copy).
    clients_rel = local_connection().from_arrow(table)
    act = query(clients_rel, "c", f"SELECT cohort, [{counts}] AS counts FROM c GROUP BY cohort").pl()
    cohort_of = np.zeros(hi - lo + 1, dtype=np.uint8 if small else np.uint16)
    cohort_of[ids - lo] = table.column("cohort").to_numpy()
    del table, ids, clients_rel
    revenue = np.zeros(span * span)
    amounts = query(rel, "v", src.format(amount=", CAST(coalesce(amount, 0) AS DOUBLE) AS amount"))
    for batch in amounts.to_arrow_reader(_BATCH):
        cell = cohort_of[batch.column(0).to_numpy() - lo].astype(np.intp)
        cell *= span
        cell += batch.column(1).to_numpy()
        revenue += np.bincount(cell, weights=batch.column(2).to_numpy(), minlength=span * span)
    # One row per cell with active clients (the cells that have visits), cohort and period counted from 0.
    cells = (
        act.select(pl.col("cohort").cast(pl.Int64), pl.col("counts").alias("active"), pl.int_ranges(0, span).alias("p"))
        .explode("active", "p")
        .filter(pl.col("active") > 0)
    )
    at = (cells["cohort"] * span + cells["p"]).to_numpy()
    return cells.select(
        (pl.col("cohort") + first).alias("cohort"),
        (pl.col("p") + first).cast(pl.Int64).alias("p"),
        pl.col("active").cast(pl.Int64),
        pl.Series("revenue", revenue[at], dtype=pl.Float64),
    )


_EMPTY_CELLS = pl.DataFrame(schema={"cohort": pl.Int64, "p": pl.Int64, "active": pl.Int64, "revenue": pl.Float64})


def _cells_join(rel: duckdb.DuckDBPyRelation, p: str, where: str, first: int, last: int) -> pl.DataFrame:
    """The cells in SQL alone: the per-client aggregate, then the visits joined to it for the revenue.

    Used for client ids the dense array of :func:`_cells` cannot index (not integers, or very sparse).
    The plan it replaced aggregated (client, period) first — about 5 groups per client at 10 visits per
    client — then took the minimum per client from that and joined the two: the largest hash table of the
    query, materialised, and a second aggregate over it (ADR 0032 addendum has the measurements).
    """
    span = last - first + 1
    masks, counts = _mask_sql(span)
    src = (
        f"SELECT client_id, CAST({p} AS INTEGER) - {first} AS p{{amount}} FROM v "
        f"WHERE {where} AND client_id IS NOT NULL"
    )
    sql = f"""
    WITH clients AS (
        SELECT client_id, min(p) AS cohort, {masks}
        FROM ({src.format(amount="")}) GROUP BY client_id
    ),
    act AS (SELECT cohort, [{counts}] AS counts FROM clients GROUP BY cohort),
    rev AS (
        SELECT c.cohort, s.p, sum(s.amount) AS revenue
        FROM ({src.format(amount=", amount")}) s JOIN clients c USING (client_id) GROUP BY ALL
    )
    SELECT r.cohort + {first} AS cohort, r.p + {first} AS p, a.counts[r.p + 1] AS active, r.revenue
    FROM rev r JOIN act a USING (cohort)
    """
    return (
        query(rel, "v", sql)
        .pl()
        .select(
            pl.col("cohort").cast(pl.Int64),
            pl.col("p").cast(pl.Int64),
            pl.col("active").cast(pl.Int64),
            pl.col("revenue").cast(pl.Float64),
        )
    )


def _first_period(rel: duckdb.DuckDBPyRelation, period: str, tz: str, bound: str) -> int | None:
    """A lower bound of the first period with data before ``as_of`` (None: no visits before it).

    The minimum instant of any status is converted, not every row; one period of slack covers a zone whose
    clock falls back across a period start (the conversion is monotonic except inside a repeated hour).
    """
    local = local_time_sql(rel, "started_at", tz, expr='min("started_at")')
    sql = f'SELECT {_period_index_sql(period, local)} FROM v WHERE "started_at" < {bound}'
    row = query(rel, "v", sql).fetchall()[0]
    return None if row[0] is None else int(row[0]) - 1


def cohort_retention(
    visits: TableLike,
    *,
    period: str = "month",
    tz: str = "UTC",
    as_of: dt.datetime | dt.date | None = None,
) -> pl.DataFrame:
    """Long cohort table: one row per (cohort, period_index) with client and revenue retention.

    ``period`` is ``"month"`` (default) or ``"week"`` (ISO weeks, Monday start); ``tz`` is the business's
    zone used to cut periods; ``as_of`` the exclusive end of the data (default: just after the last visit).
    Columns: cohort (date), period_index, cohort_size, active_clients, retention, revenue,
    revenue_per_client, revenue_retention; value columns are null for incomplete periods.
    """
    if period not in ("month", "week"):
        raise ValueError("period must be 'month' or 'week'")
    rel = as_relation(visits)
    if as_of is None:
        as_of = default_as_of(rel, tz=tz)
    end = _local_naive(as_of, tz)
    b = _period_index(period, end)
    boundary = end == dt.datetime.combine(_period_start(period, b), dt.time())
    p = _period_index_sql(period, local_time_sql(rel, "started_at", tz))
    bound = bound_sql(rel, "started_at", as_of, tz)
    where = f"status = '{PURCHASE_STATUS}' AND \"started_at\" < {bound}"
    last = b - 1 if boundary else b  # the last period that has started before as_of
    first = _first_period(rel, period, tz, bound)
    cells = _EMPTY_CELLS if first is None or first > last else _cells(rel, p, where, first, last)
    cells = cells.with_columns((pl.col("p") - pl.col("cohort")).alias("k")).drop("p")
    sizes = cells.filter(pl.col("k") == 0).select(
        "cohort", pl.col("active").alias("cohort_size"), pl.col("revenue").alias("revenue0")
    )
    grid = sizes.with_columns(pl.int_ranges(0, last - pl.col("cohort") + 1).alias("k")).explode("k")
    out = grid.join(cells, on=["cohort", "k"], how="left").with_columns(
        (pl.col("cohort") + pl.col("k") < b).alias("complete"),
        pl.col("active").fill_null(0),
        pl.col("revenue").fill_null(0.0),
    )
    done = pl.col("complete")
    size = pl.col("cohort_size")
    return out.select(
        _period_start_expr(period, pl.col("cohort")).alias("cohort"),
        pl.col("k").cast(pl.Int32).alias("period_index"),
        size.cast(pl.Int64),
        pl.when(done).then(pl.col("active")).cast(pl.Int64).alias("active_clients"),
        pl.when(done).then(pl.col("active") / size).cast(pl.Float64).alias("retention"),
        pl.when(done).then(pl.col("revenue")).cast(pl.Float64).alias("revenue"),
        pl.when(done).then(pl.col("revenue") / size).cast(pl.Float64).alias("revenue_per_client"),
        pl.when(done & (pl.col("revenue0") != 0))
        .then(pl.col("revenue") / pl.col("revenue0"))
        .cast(pl.Float64)
        .alias("revenue_retention"),
    ).sort("cohort", "period_index")


def cohort_matrix(cohorts: pl.DataFrame, value: str = "retention") -> pl.DataFrame:
    """Wide matrix from :func:`cohort_retention`: one row per cohort, one column per period index."""
    wide = cohorts.pivot(on="period_index", index=["cohort", "cohort_size"], values=value, sort_columns=True)
    return wide.sort("cohort")
