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

import polars as pl

from analytics._frames import (
    TableLike,
    as_relation,
    bound_sql,
    local_time_sql,
    period_index_sql,
    query,
    sql_literal_ts,
    trunc_sql,
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
    as_of_sql = sql_literal_ts(as_of, tz)
    local = local_time_sql(rel, "started_at", tz)
    p = trunc_sql(period, local)
    b = trunc_sql(period, as_of_sql)
    k_sql = period_index_sql(period, "f.cohort", "a.p")
    k_end = period_index_sql(period, "s.cohort", b)
    k_end_g = period_index_sql(period, "cohort", b)
    sql = f"""
    WITH active AS (   -- one row per client and active period: distinct counting becomes a plain count
        SELECT client_id, {p} AS p, sum(amount) AS revenue
        FROM v
        WHERE status = '{PURCHASE_STATUS}' AND "started_at" < {bound_sql(rel, "started_at", as_of, tz)}
        GROUP BY ALL
    ),
    firsts AS (SELECT client_id, min(p) AS cohort FROM active GROUP BY client_id),
    cells AS (
        SELECT f.cohort, {k_sql} AS k, count(*) AS active_clients, sum(a.revenue) AS revenue
        FROM active a JOIN firsts f USING (client_id)
        GROUP BY ALL
    ),
    sizes AS (SELECT cohort, count(*) AS cohort_size FROM firsts GROUP BY cohort),
    grid AS (
        -- a period that started before as_of is shown; it is complete only if it also ended
        SELECT cohort, cohort_size, k, k < {k_end_g} AS complete
        FROM (
            SELECT s.cohort, s.cohort_size,
                   unnest(range(0, {k_end} + 1
                          - CASE WHEN {as_of_sql} = CAST({b} AS TIMESTAMP) THEN 1 ELSE 0 END)) AS k
            FROM sizes s
        )
    )
    SELECT g.cohort, CAST(g.k AS INTEGER) AS period_index, g.cohort_size,
           CASE WHEN g.complete THEN coalesce(c.active_clients, 0) END AS active_clients,
           CASE WHEN g.complete THEN coalesce(c.active_clients, 0) / g.cohort_size END AS retention,
           CASE WHEN g.complete THEN coalesce(c.revenue, 0) END AS revenue,
           CASE WHEN g.complete THEN coalesce(c.revenue, 0) / g.cohort_size END AS revenue_per_client,
           CASE WHEN g.complete THEN coalesce(c.revenue, 0) / nullif(c0.revenue, 0) END AS revenue_retention
    FROM grid g
    LEFT JOIN cells c ON c.cohort = g.cohort AND c.k = g.k
    LEFT JOIN cells c0 ON c0.cohort = g.cohort AND c0.k = 0
    ORDER BY g.cohort, g.k
    """
    out = query(rel, "v", sql).pl()
    return out.with_columns(
        pl.col("cohort_size").cast(pl.Int64),
        pl.col("active_clients").cast(pl.Int64),
        pl.col("retention").cast(pl.Float64),
        pl.col("revenue").cast(pl.Float64),
        pl.col("revenue_per_client").cast(pl.Float64),
        pl.col("revenue_retention").cast(pl.Float64),
    )


def cohort_matrix(cohorts: pl.DataFrame, value: str = "retention") -> pl.DataFrame:
    """Wide matrix from :func:`cohort_retention`: one row per cohort, one column per period index."""
    wide = cohorts.pivot(on="period_index", index=["cohort", "cohort_size"], values=value, sort_columns=True)
    return wide.sort("cohort")
