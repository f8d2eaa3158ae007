"""Business KPIs over visits: average check, revenue splits, client flow, sources, staff load, reviews.

All revenue and activity is from ``completed`` visits; periods are cut in the business's zone ``tz``.
"""

# ruff: noqa: S608 — SQL is assembled from identifiers checked by check_ident/check_tz and typed literals.

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from analytics._frames import (
    TableLike,
    as_relation,
    bound_sql,
    check_ident,
    local_time_sql,
    query,
    run_sql,
    sql_literal_ts,
    trunc_sql,
)
from analytics.cohorts import PURCHASE_STATUS, default_as_of

# A no-show still blocked the chair; a cancellation freed it.
OCCUPYING_STATUSES = ("completed", "no_show", "booked")


def _by(by: Sequence[str]) -> list[str]:
    return [check_ident(c) for c in by]


def revenue_by(
    visits: TableLike,
    *,
    by: Sequence[str] = (),
    period: str | None = "month",
    tz: str = "UTC",
) -> pl.DataFrame:
    """Revenue, visits, distinct clients and average check per period and ``by`` columns.

    ``by`` is any of branch_id, staff_id, service_id, source, ...; ``period=None`` gives totals over all
    time. ``average_check`` = revenue ÷ completed visits.
    """
    rel = as_relation(visits)
    keys = _by(by)
    cols = ([f"{trunc_sql(period, local_time_sql(rel, 'started_at', tz))} AS period"] if period else []) + [
        f'"{k}"' for k in keys
    ]
    group = ", ".join(cols) + ", " if cols else ""
    sql = f"""
    SELECT {group}
           CAST(sum(amount) AS DOUBLE) AS revenue, count(*) AS visits, count(DISTINCT client_id) AS clients,
           CAST(sum(amount) AS DOUBLE) / count(*) AS average_check
    FROM v WHERE status = '{PURCHASE_STATUS}'
    {"GROUP BY ALL ORDER BY ALL" if cols else ""}
    """
    return query(rel, "v", sql).pl()


def average_check(visits: TableLike, *, period: str | None = "month", tz: str = "UTC") -> pl.DataFrame:
    """Average check (revenue ÷ completed visits) per period."""
    return revenue_by(visits, period=period, tz=tz).select(*(["period"] if period else []), "average_check", "visits")


def client_flow(
    visits: TableLike,
    *,
    period: str = "month",
    lost_after_days: int = 90,
    as_of: dt.datetime | dt.date | None = None,
    tz: str = "UTC",
) -> pl.DataFrame:
    """New, returning and lost clients per period.

    * active — distinct clients with a completed visit in the period;
    * new — clients whose first completed visit is in the period; returning = active − new;
    * lost — a client is lost ``lost_after_days`` after a visit not followed by another within that time;
      the loss is counted in the period where that day falls, and only once it is before ``as_of`` (a
      client who comes back later and lapses again is lost again).
    * complete — false for the period containing ``as_of``: its counts are still growing.
    """
    rel = as_relation(visits)
    if as_of is None:
        as_of = default_as_of(rel, tz=tz)
    as_of_sql = sql_literal_ts(as_of, tz)
    local = local_time_sql(rel, "started_at", tz)
    lost_at = f"t + INTERVAL {int(lost_after_days)} DAY"
    sql = f"""
    WITH ev AS (
        SELECT client_id, {local} AS t FROM v
        WHERE status = '{PURCHASE_STATUS}' AND "started_at" < {bound_sql(rel, "started_at", as_of, tz)}
    ),
    seq AS (SELECT client_id, t, lead(t) OVER (PARTITION BY client_id ORDER BY t) AS nxt FROM ev),
    active AS (
        SELECT {trunc_sql(period, "t")} AS period, count(DISTINCT client_id) AS active FROM ev GROUP BY 1
    ),
    new AS (
        SELECT {trunc_sql(period, "first_t")} AS period, count(*) AS new
        FROM (SELECT client_id, min(t) AS first_t FROM ev GROUP BY 1) GROUP BY 1
    ),
    lost AS (
        SELECT {trunc_sql(period, lost_at)} AS period, count(*) AS lost FROM seq
        WHERE (nxt IS NULL AND {lost_at} <= {as_of_sql}) OR (nxt > {lost_at})
        GROUP BY 1
    ),
    periods AS (
        SELECT unnest(generate_series(min(period), {trunc_sql(period, as_of_sql)},
               INTERVAL 1 {period.upper()})) AS period FROM active
    )
    SELECT CAST(p.period AS DATE) AS period,
           coalesce(a.active, 0) AS active, coalesce(n.new, 0) AS new,
           coalesce(a.active, 0) - coalesce(n.new, 0) AS returning, coalesce(l.lost, 0) AS lost,
           CAST(p.period AS DATE) < {trunc_sql(period, as_of_sql)}
               OR {as_of_sql} = CAST({trunc_sql(period, as_of_sql)} AS TIMESTAMP) AS complete
    FROM periods p
    LEFT JOIN active a ON a.period = p.period
    LEFT JOIN new n ON n.period = p.period
    LEFT JOIN lost l ON l.period = p.period
    WHERE p.period < {as_of_sql}
    ORDER BY 1
    """
    return query(rel, "v", sql).pl()


def source_effectiveness(
    visits: TableLike,
    clients: TableLike | None = None,
    *,
    window_days: int = 90,
    as_of: dt.datetime | dt.date | None = None,
    tz: str = "UTC",
) -> pl.DataFrame:
    """Per acquisition source: clients, revenue, revenue per client and ``window_days`` retention.

    The source is ``clients.source`` when ``clients`` is given, else the ``source`` of the client's first
    completed visit. Retention = share of clients with another completed visit within ``window_days`` after
    their first; only clients whose first visit is at least ``window_days`` before ``as_of`` are counted
    (``eligible``), so recent sign-ups do not drag retention down.
    """
    rel = as_relation(visits)
    if as_of is None:
        as_of = default_as_of(rel, tz=tz)
    as_of_sql = sql_literal_ts(as_of, tz)
    local = local_time_sql(rel, "started_at", tz)
    w = int(window_days)
    source = "c.source" if clients is not None else "f.first_source"
    join = "LEFT JOIN c USING (client_id)" if clients is not None else ""
    sql = f"""
    WITH ev AS (
        SELECT client_id, {local} AS t, amount, source FROM v
        WHERE status = '{PURCHASE_STATUS}' AND "started_at" < {bound_sql(rel, "started_at", as_of, tz)}
    ),
    f AS (
        SELECT client_id, min(t) AS first_t, arg_min(source, t) AS first_source, sum(amount) AS revenue,
               count(*) AS visits FROM ev GROUP BY 1
    ),
    back AS (
        SELECT DISTINCT ev.client_id FROM ev JOIN f USING (client_id)
        WHERE ev.t > f.first_t AND ev.t <= f.first_t + INTERVAL {w} DAY
    ),
    per AS (
        SELECT coalesce({source}, 'unknown') AS source, f.client_id, f.revenue,
               f.first_t + INTERVAL {w} DAY <= {as_of_sql} AS eligible,
               b.client_id IS NOT NULL AS came_back
        FROM f {join} LEFT JOIN back b ON b.client_id = f.client_id
    )
    SELECT source, count(*) AS clients, CAST(sum(revenue) AS DOUBLE) AS revenue,
           CAST(sum(revenue) AS DOUBLE) / count(*) AS revenue_per_client,
           count(*) FILTER (WHERE eligible) AS eligible,
           (count(*) FILTER (WHERE eligible AND came_back)) / nullif(count(*) FILTER (WHERE eligible), 0)
               AS retention
    FROM per GROUP BY 1 ORDER BY clients DESC, source
    """
    if clients is None:
        return query(rel, "v", sql).pl()
    # Two inputs may live on different connections; only the needed columns are handed over.
    needed = rel.select("client_id", "started_at", "amount", "source", "status")
    return run_sql(sql, v=needed, c=as_relation(clients).select("client_id", "source")).pl()


def staff_load(
    visits: TableLike,
    staff_schedule: TableLike,
    *,
    period: str = "month",
    tz: str = "UTC",
) -> pl.DataFrame:
    """Staff load % = booked minutes ÷ scheduled minutes, per staff member and period.

    Booked minutes sum ``visits.duration_minutes`` over completed, no-show and booked visits (a no-show
    still blocked the slot). Scheduled minutes come from the optional ``staff_schedule`` table. Periods with
    a schedule but no bookings show 0 %; bookings without a schedule show a null load.
    """
    rel = as_relation(visits)
    statuses = ", ".join(f"'{s}'" for s in OCCUPYING_STATUSES)
    booked = query(
        rel,
        "v",
        f"""SELECT staff_id, {trunc_sql(period, local_time_sql(rel, "started_at", tz))} AS period,
                   sum(duration_minutes) AS booked_minutes
            FROM v WHERE status IN ({statuses}) GROUP BY ALL""",
    ).pl()
    sched_rel = as_relation(staff_schedule)
    scheduled = query(
        sched_rel,
        "s",
        f"""SELECT staff_id, {trunc_sql(period, 'CAST("date" AS TIMESTAMP)')} AS period,
                   sum(scheduled_minutes) AS scheduled_minutes FROM s GROUP BY ALL""",
    ).pl()
    out = scheduled.join(booked, on=["staff_id", "period"], how="full", coalesce=True)
    return (
        out.with_columns(
            pl.col("booked_minutes").fill_null(0).cast(pl.Int64),
            pl.col("scheduled_minutes").cast(pl.Int64),
        )
        .with_columns(
            pl.when(pl.col("scheduled_minutes") > 0)
            .then(pl.col("booked_minutes") / pl.col("scheduled_minutes"))
            .otherwise(None)
            .alias("load")
        )
        .sort("staff_id", "period")
    )


def review_scores(
    reviews: TableLike, *, by: Sequence[str] = ("staff_id",), period: str | None = None, tz: str = "UTC"
) -> pl.DataFrame:
    """Mean review score and number of reviews per ``by`` (staff_id, branch_id, ...) and optional period."""
    rel = as_relation(reviews)
    keys = _by(by)
    cols = [f'"{k}"' for k in keys] + (
        [f"{trunc_sql(period, local_time_sql(rel, 'created_at', tz))} AS period"] if period else []
    )
    group = ", ".join(cols)
    sql = f"""
    SELECT {group + "," if group else ""} avg(score) AS mean_score, count(*) AS reviews FROM r
    {"GROUP BY ALL ORDER BY ALL" if group else ""}
    """
    return query(rel, "r", sql).pl()
