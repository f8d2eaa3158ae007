"""ABC (revenue concentration), XYZ (demand stability) and the combined 9-cell ABC-XYZ table.

ABC
---
Items (services, clients or staff) are sorted by revenue of completed visits, descending (ties by id, so the
result is deterministic; revenue is rounded to cents first so equal revenues tie whatever the summation
order). With thresholds (0.80, 0.95) an item is

* **A** if the cumulative revenue share of the items *before* it is below 0.80,
* **B** if that share is below 0.95,
* **C** otherwise.

So the item that crosses a threshold belongs to the *upper* class: the item taking the cumulative share from
0.78 to 0.83 is an A. This guarantees at least one A item and makes A the smallest set that covers 80 % of
revenue.

XYZ
---
Demand per item and calendar month (visits by default, or revenue) over every month of the window — months
without demand count as zero. CV = population standard deviation ÷ mean (ddof = 0: the months are the whole
window, not a sample). **X** if CV ≤ 0.10, **Y** if CV ≤ 0.25, **Z** otherwise (and Z when the mean is 0).
The window runs from the first to the last month with demand in the data unless ``start`` / ``end`` say
otherwise; pass whole months, because a half month looks like a demand drop.
"""

# ruff: noqa: S608 — SQL is assembled from identifiers checked by check_ident/check_tz and typed literals.

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from analytics._frames import (
    TableLike,
    as_relation,
    bound_sql,
    check_ident,
    local_time_sql,
    period_index_sql,
    query,
    sql_literal_ts,
    trunc_sql,
)
from analytics.cohorts import PURCHASE_STATUS

ENTITY_COLUMNS = {"service": "service_id", "client": "client_id", "staff": "staff_id", "branch": "branch_id"}
ABC_CLASSES = ("A", "B", "C")
XYZ_CLASSES = ("X", "Y", "Z")


def _entity(by: str) -> str:
    return check_ident(ENTITY_COLUMNS.get(by, by))


def _time_filter(
    rel: duckdb.DuckDBPyRelation,
    start: dt.datetime | dt.date | None,
    end: dt.datetime | dt.date | None,
    tz: str,
) -> str:
    parts = []
    if start is not None:
        parts.append(f'"started_at" >= {bound_sql(rel, "started_at", start, tz)}')
    if end is not None:
        parts.append(f'"started_at" < {bound_sql(rel, "started_at", end, tz)}')
    return "".join(f" AND {p}" for p in parts)


def abc_analysis(
    visits: TableLike,
    *,
    by: str = "service",
    thresholds: tuple[float, float] = (0.80, 0.95),
    start: dt.datetime | dt.date | None = None,
    end: dt.datetime | dt.date | None = None,
    tz: str = "UTC",
) -> pl.DataFrame:
    """ABC classes by revenue for ``by`` in service / client / staff / branch (or any id column).

    Columns: <id>, revenue, share, cumulative_share, rank (1 = largest), abc_class. See the module
    docstring for the rule at a threshold. Raises ``ValueError`` when total revenue is not positive
    (shares would be meaningless).
    """
    a, b = thresholds
    if not 0 < a < b <= 1:
        raise ValueError("thresholds must satisfy 0 < a < b <= 1")
    col = _entity(by)
    rel = as_relation(visits)
    where = _time_filter(rel, start, end, tz)
    # DuckDB aggregates and sorts (parallel, reads only two columns); the running share over the sorted
    # items is a cumulative sum in polars, cheaper than a DuckDB window over a single partition.
    sql = f"""
    SELECT "{col}", round(CAST(sum(amount) AS DOUBLE), 2) AS revenue FROM v
    WHERE status = '{PURCHASE_STATUS}'{where}
    GROUP BY 1 ORDER BY revenue DESC, "{col}"
    """
    items = query(rel, "v", sql).pl()
    total = float(items["revenue"].sum()) if items.height else 0.0
    if total <= 0:
        raise ValueError("ABC needs positive total revenue")
    cum = pl.col("revenue").cum_sum()
    before = (cum - pl.col("revenue")) / total
    return items.with_columns(
        (pl.col("revenue") / total).alias("share"),
        (cum / total).alias("cumulative_share"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("rank"),
        pl.when(before < a)
        .then(pl.lit("A"))
        .when(before < b)
        .then(pl.lit("B"))
        .otherwise(pl.lit("C"))
        .alias("abc_class"),
    )


def xyz_analysis(
    visits: TableLike,
    *,
    by: str = "service",
    measure: str = "visits",
    thresholds: tuple[float, float] = (0.10, 0.25),
    start: dt.datetime | dt.date | None = None,
    end: dt.datetime | dt.date | None = None,
    tz: str = "UTC",
) -> pl.DataFrame:
    """XYZ classes by the coefficient of variation of monthly demand.

    ``measure`` is ``"visits"`` (count of completed visits) or ``"revenue"``. Columns: <id>, months, mean,
    std, cv, xyz_class.
    """
    x_max, y_max = thresholds
    if not 0 < x_max < y_max:
        raise ValueError("thresholds must satisfy 0 < x < y")
    if measure not in ("visits", "revenue"):
        raise ValueError("measure must be 'visits' or 'revenue'")
    col = _entity(by)
    rel = as_relation(visits)
    local = local_time_sql(rel, "started_at", tz)
    month = trunc_sql("month", local)
    where = _time_filter(rel, start, end, tz)
    value = "CAST(count(*) AS DOUBLE)" if measure == "visits" else "CAST(sum(amount) AS DOUBLE)"
    first = trunc_sql("month", sql_literal_ts(start, tz)) if start is not None else "(SELECT min(m) FROM monthly)"
    last = (
        trunc_sql("month", f"({sql_literal_ts(end, tz)} - INTERVAL 1 MICROSECOND)")
        if end is not None
        else "(SELECT max(m) FROM monthly)"
    )
    n_months = f"({period_index_sql('month', first, last)} + 1)"
    # Zero months are never materialised: with n months, mean = S / n and var = S2 / n - mean², where S and
    # S2 sum over the months that do have demand. This keeps XYZ over a million clients cheap.
    sql = f"""
    WITH monthly AS (
        SELECT "{col}", {month} AS m, {value} AS q FROM v
        WHERE status = '{PURCHASE_STATUS}'{where}
        GROUP BY ALL
    ),
    n AS (SELECT {n_months} AS months),
    s AS (SELECT "{col}", sum(q) AS s1, sum(q * q) AS s2 FROM monthly GROUP BY 1)
    SELECT "{col}", n.months, s1 / n.months AS mean,
           sqrt(greatest(s2 / n.months - (s1 / n.months) ^ 2, 0)) AS std
    FROM s, n
    """
    out = query(rel, "v", sql).pl()
    cv = pl.when(pl.col("mean") > 0).then(pl.col("std") / pl.col("mean")).otherwise(None)
    return (
        out.with_columns(pl.col("months").cast(pl.Int64), pl.col("mean").cast(pl.Float64))
        .with_columns(cv.alias("cv"))
        .with_columns(
            pl.when(pl.col("cv") <= x_max)
            .then(pl.lit("X"))
            .when(pl.col("cv") <= y_max)
            .then(pl.lit("Y"))
            .otherwise(pl.lit("Z"))
            .alias("xyz_class")
        )
        .sort(col)
    )


def abc_xyz(
    visits: TableLike,
    *,
    by: str = "service",
    abc_thresholds: tuple[float, float] = (0.80, 0.95),
    xyz_thresholds: tuple[float, float] = (0.10, 0.25),
    measure: str = "visits",
    start: dt.datetime | dt.date | None = None,
    end: dt.datetime | dt.date | None = None,
    tz: str = "UTC",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-item ABC and XYZ classes and the 9-cell table (every cell present, empty cells as 0).

    Returns ``(items, cells)``: items has <id>, revenue, abc_class, cv, xyz_class; cells has abc_class,
    xyz_class, items, revenue, revenue_share.
    """
    col = _entity(by)
    abc = abc_analysis(visits, by=col, thresholds=abc_thresholds, start=start, end=end, tz=tz)
    xyz = xyz_analysis(visits, by=col, thresholds=xyz_thresholds, measure=measure, start=start, end=end, tz=tz)
    items = abc.select(col, "revenue", "abc_class").join(xyz.select(col, "cv", "xyz_class"), on=col, how="left")
    grid = pl.DataFrame(
        {"abc_class": [a for a in ABC_CLASSES for _ in XYZ_CLASSES], "xyz_class": list(XYZ_CLASSES) * 3}
    )
    total = float(items["revenue"].sum()) if items.height else 0.0
    cells = (
        grid.join(
            items.group_by("abc_class", "xyz_class").agg(
                pl.len().alias("items"), pl.col("revenue").sum().alias("revenue")
            ),
            on=["abc_class", "xyz_class"],
            how="left",
        )
        .with_columns(
            pl.col("items").fill_null(0).cast(pl.Int64),
            pl.col("revenue").fill_null(0.0).cast(pl.Float64),
        )
        .with_columns((pl.col("revenue") / total if total else pl.lit(0.0)).alias("revenue_share"))
    )
    return items, cells
