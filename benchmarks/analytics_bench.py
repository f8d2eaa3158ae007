"""Benchmark: the analytics library vs hand-written DuckDB SQL, polars and pandas on the same definitions.

    python benchmarks/analytics_bench.py                      # 10M visits / 1M clients / 3 years, all four columns
    python benchmarks/analytics_bench.py --rows 1000000       # quick run (clients default to rows / 10)
    python benchmarks/analytics_bench.py --rows 10000000,100000000 --impls lib,sql --repeat 1
                                                              # network scale: ratio per query, PASS/FAIL
    python benchmarks/analytics_bench.py --rows 10000000 --queries churn_grouped,churn_bitstring --impls lib
                                                              # the churn summary's two SQL plans (ADR 0032)

The synthetic warehouse is generated once per (size, seed) into var/bench/ (git-ignored) and reused. It is
written streaming: clients in chunks of 250k, each chunk's visits drawn with numpy and written as its own
Parquet part file, so 100M visits never sit in memory at once. Every (query, implementation, repeat) runs
in its own subprocess: peak RSS is that process's own high-water mark (VmHWM, what psutil would report;
``ru_maxrss`` of a child would also count the parent's image at fork time), and nothing is cached between
runs except the operating system's file cache, which all columns share. The library and the hand SQL run
with the same DuckDB settings (``--memory-limit``, a temp directory under var/bench/ so they spill instead
of failing, ``--threads``). Each worker reports the wall time and CPU seconds of read + compute (after
imports) and writes its answer to Parquet; the parent checks every column's answer against the library's.
Targets: the library's peak memory within 1.3x of the hand SQL's on every query; >= 3x faster than pandas;
with two sizes, time grows no worse than linearly and peak memory stays under 8 GB. The growth verdict reads
CPU time (user + system over all threads), not wall time: on a shared machine wall time grows with the
other processes' load; both are printed, with the load average each run saw.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

QUERIES = ("cohort", "abc_services", "abc_clients", "xyz", "rfm", "churn_summary")
# The churn summary with each plan forced (ADR 0032); not in the default set.
PLAN_QUERIES = tuple(f"churn{h}_{plan}" for h in ("", "_holdout") for plan in ("dense", "grouped", "bitstring"))
IMPLS = ("lib", "sql", "polars", "pandas")
IMPL_NAMES = {"lib": "library", "sql": "hand SQL", "polars": "polars", "pandas": "pandas"}
START = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
AS_OF = dt.datetime(2026, 1, 1)  # exclusive end of the 3-year window (naive = UTC)
AS_OF_SQL = "TIMESTAMPTZ '2026-01-01 00:00:00+00'"
LAST_MONTH_SQL = "DATE '2025-12-01'"  # the last month that started before AS_OF
OBSERVATION_END = dt.date(2025, 12, 31)
CHUNK_CLIENTS = 250_000
MEMORY_BUDGET_MB = 8 * 1024  # network scale: peak RSS of every worker under 8 GB


# ------------------------------------------------------------------------------------------------ the data


def data_dir(out: Path, rows: int, clients: int, seed: int) -> Path:
    return out / f"visits_{rows}_{clients}_s{seed}"


def _write_chunk(partial: Path, i: int, chunks: int, rows: int, clients: int, seed: int) -> None:
    """Chunk ``i`` of ``chunks``: its clients, its share of the visits, ids shifted to be globally unique."""
    import polars as pl

    from analytics.schema import validate_columns
    from analytics.synthetic import generate_visits

    c0, c1 = i * clients // chunks, (i + 1) * clients // chunks
    v0, v1 = i * rows // chunks, (i + 1) * rows // chunks
    visits, client_frame = generate_visits(
        clients=c1 - c0, visits=v1 - v0, start=START, years=3.0, seed=seed * 1_000 + i
    )
    visits = visits.drop("duration_minutes").with_columns(pl.col("visit_id") + v0, pl.col("client_id") + c0)
    client_frame = client_frame.with_columns(pl.col("client_id") + c0)
    validate_columns("visits", visits.columns)
    validate_columns("clients", client_frame.columns)
    visits.write_parquet(partial / "visits" / f"part-{i:04d}.parquet", row_group_size=1_000_000)
    client_frame.write_parquet(partial / "clients" / f"part-{i:04d}.parquet")


def ensure_data(out: Path, rows: int, clients: int, seed: int = 2026, jobs: int = 2) -> Path:
    """Generate the warehouse once per (size, seed), streaming: one Parquet part file per client chunk.

    Each chunk of at most 250k clients gets its share of the visits from ``generate_visits`` (numpy, a few
    hundred MB per chunk) and is written before the process draws its next one; ``jobs`` processes draw
    chunks in parallel. The folder appears only when complete (a ``.partial`` folder is renamed), so a
    killed run regenerates.
    """
    from concurrent.futures import ProcessPoolExecutor

    folder = data_dir(out, rows, clients, seed)
    if (folder / "visits").is_dir():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "visits").mkdir(parents=True)
    (partial / "clients").mkdir()
    t0 = time.perf_counter()
    chunks = max(1, -(-clients // CHUNK_CLIENTS))
    # "spawn": forking a parent that has run polars or DuckDB can deadlock on their thread pools' locks.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, chunks)), mp_context=ctx) as pool:
        for done in [pool.submit(_write_chunk, partial, i, chunks, rows, clients, seed) for i in range(chunks)]:
            done.result()
    partial.rename(folder)
    print(
        f"generated {rows:,} visits / {clients:,} clients in {chunks} part(s), "
        f"{time.perf_counter() - t0:.1f} s -> {folder}",
        flush=True,
    )
    return folder


def visits_glob(folder: Path) -> str:
    return str(folder / "visits" / "*.parquet")


def duckdb_settings(con: Any, threads: int | None, memory_limit: str | None, temp: Path | None) -> None:
    """The same knobs for the library's connection and the hand SQL's."""
    con.execute("SET TimeZone = 'UTC'")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if temp is not None:
        temp.mkdir(parents=True, exist_ok=True)
        con.execute("SET temp_directory = ?", [str(temp)])


# ----------------------------------------------------------------------------------------- library worker


def run_library(query: str, folder: Path, cfg: dict[str, Any]) -> Any:
    import analytics
    from analytics.abc import abc_analysis, xyz_analysis
    from analytics.cohorts import cohort_retention
    from analytics.rfm import rfm

    con = analytics.connect(
        folder, threads=cfg["threads"], memory_limit=cfg["memory_limit"], temp_directory=cfg["temp"]
    )
    visits = con.table("visits")
    if query in PLAN_QUERIES:
        # The churn summary with one SQL plan forced; "_holdout" adds a calibration end (two windows).
        holdout = "_holdout" in query
        return analytics.summarize(
            analytics.purchases(visits),
            "client_id",
            "started_at",
            "W",
            calibration_end=dt.date(2025, 9, 30) if holdout else None,
            observation_end=OBSERVATION_END,
            plan=query.rsplit("_", 1)[1],  # type: ignore[arg-type]
        )
    if query == "cohort":
        return cohort_retention(visits, as_of=AS_OF)
    if query == "abc_services":
        return abc_analysis(visits, by="service")
    if query == "abc_clients":
        return abc_analysis(visits, by="client")
    if query == "xyz":
        return xyz_analysis(visits, by="service")
    if query == "rfm":
        return rfm(visits, as_of=AS_OF)
    if query == "churn_summary":
        return analytics.summarize(
            analytics.purchases(visits), "client_id", "started_at", "W", observation_end=OBSERVATION_END
        )
    raise ValueError(query)


# ------------------------------------------------------------------------------------------ pandas worker
# Written the way an analyst would with pandas: read the needed columns, filter, groupby, merge.


def _pd_read(folder: Path, columns: list[str]) -> Any:
    import pandas as pd

    df = pd.read_parquet(folder / "visits", columns=[*columns, "status"])
    df = df[df["status"] == "completed"].drop(columns="status")
    if "started_at" in df:
        df["started_at"] = df["started_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    return df


def pd_cohort(folder: Path) -> Any:
    import numpy as np
    import pandas as pd

    df = _pd_read(folder, ["client_id", "started_at", "amount"])
    df = df[df["started_at"] < AS_OF]
    df["p"] = df["started_at"].dt.to_period("M")
    active = df.groupby(["client_id", "p"], as_index=False)["amount"].sum()
    first = active.groupby("client_id")["p"].min().rename("cohort")
    active = active.join(first, on="client_id")
    active["k"] = (active["p"].dt.year - active["cohort"].dt.year) * 12 + (
        active["p"].dt.month - active["cohort"].dt.month
    )
    cells = active.groupby(["cohort", "k"]).agg(active_clients=("client_id", "size"), revenue=("amount", "sum"))
    sizes = first.value_counts().rename("cohort_size")
    end = pd.Timestamp(AS_OF)
    grid = []
    for cohort, size in sizes.items():
        k = 0
        while (cohort + k).start_time < end:  # the period has started: it is in the table
            grid.append((cohort, k, size, (cohort + k + 1).start_time <= end))  # complete once it ended
            k += 1
    g = pd.DataFrame(grid, columns=["cohort", "period_index", "cohort_size", "complete"])
    g = g.merge(cells, left_on=["cohort", "period_index"], right_index=True, how="left")
    g0 = cells.xs(0, level="k")["revenue"].rename("revenue0")
    g = g.merge(g0, left_on="cohort", right_index=True, how="left")
    g["active_clients"] = g["active_clients"].fillna(0)
    g["revenue"] = g["revenue"].fillna(0.0)
    g["retention"] = g["active_clients"] / g["cohort_size"]
    g["revenue_per_client"] = g["revenue"] / g["cohort_size"]
    g["revenue_retention"] = g["revenue"] / g["revenue0"]
    for c in ("active_clients", "retention", "revenue", "revenue_per_client", "revenue_retention"):
        g[c] = g[c].where(g["complete"], np.nan)
    g["cohort"] = g["cohort"].dt.start_time.dt.date
    return g.drop(columns="complete").sort_values(["cohort", "period_index"])


def pd_abc(folder: Path, col: str) -> Any:
    import numpy as np

    df = _pd_read(folder, [col, "amount"])
    r = df.groupby(col, as_index=False)["amount"].sum().rename(columns={"amount": "revenue"})
    r["revenue"] = r["revenue"].round(2)
    r = r.sort_values(["revenue", col], ascending=[False, True]).reset_index(drop=True)
    total = r["revenue"].sum()
    cum = r["revenue"].cumsum()
    r["share"] = r["revenue"] / total
    r["cumulative_share"] = cum / total
    r["rank"] = np.arange(1, len(r) + 1)
    before = (cum - r["revenue"]) / total
    r["abc_class"] = np.select([before < 0.80, before < 0.95], ["A", "B"], "C")
    return r


def pd_xyz(folder: Path) -> Any:
    import numpy as np
    import pandas as pd

    df = _pd_read(folder, ["service_id", "started_at"])
    df["m"] = df["started_at"].dt.to_period("M")
    monthly = df.groupby(["service_id", "m"]).size().unstack(fill_value=0)
    months = pd.period_range(df["m"].min(), df["m"].max(), freq="M")
    monthly = monthly.reindex(columns=months, fill_value=0).astype(float)
    out = pd.DataFrame(
        {
            "service_id": monthly.index,
            "months": len(months),
            "mean": monthly.mean(axis=1).to_numpy(),
            "std": monthly.std(axis=1, ddof=0).to_numpy(),
        }
    )
    out["cv"] = np.where(out["mean"] > 0, out["std"] / out["mean"], np.nan)
    out["xyz_class"] = np.select([out["cv"] <= 0.10, out["cv"] <= 0.25], ["X", "Y"], "Z")
    return out


def pd_rfm(folder: Path) -> Any:
    import numpy as np
    import pandas as pd

    df = _pd_read(folder, ["client_id", "started_at", "amount"])
    df = df[df["started_at"] < AS_OF]
    g = df.groupby("client_id").agg(
        last=("started_at", "max"), frequency=("amount", "size"), monetary=("amount", "sum")
    )
    g["recency_days"] = (pd.Timestamp(AS_OF.date()) - g["last"].dt.normalize()).dt.days
    g["monetary"] = g["monetary"].round(2)
    n = len(g)

    def quint(s: pd.Series, ascending: bool) -> pd.Series:
        worse = s.rank(method="min", ascending=ascending) - 1
        return (1 + (5 * worse) // n).astype(int)

    def fixed(s: pd.Series, cuts: tuple[int, ...], higher: bool) -> pd.Series:
        if higher:
            return 1 + sum((s >= c).astype(int) for c in cuts)
        return 5 - sum((s > c).astype(int) for c in cuts)

    r = quint(g["recency_days"], ascending=False)
    g["r_score"] = r if r.nunique() == 5 else fixed(g["recency_days"], (30, 90, 180, 365), False)
    f = quint(g["frequency"], ascending=True)
    g["f_score"] = f if f.nunique() == 5 else fixed(g["frequency"], (2, 3, 5, 10), True)
    g["m_score"] = quint(g["monetary"], ascending=True)
    R, F, M = g["r_score"], g["f_score"], g["m_score"]
    conds = [
        (R >= 4) & (F >= 4) & (M >= 4),
        (R >= 3) & (F >= 4),
        (R >= 4) & F.between(2, 3),
        (R >= 4) & (F == 1),
        (R == 3) & F.between(2, 3),
        (R == 3) & (F == 1),
        (R <= 2) & (F >= 3),
        (R == 2) & (F <= 2),
        (R == 1) & (F <= 2),
    ]
    names = [
        "champions",
        "loyal",
        "potential_loyalists",
        "new",
        "need_attention",
        "about_to_sleep",
        "at_risk",
    ]
    g["segment"] = np.select(conds, [*names, "hibernating", "lost"], None)
    return g.reset_index()[
        ["client_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "segment"]
    ]


def pd_churn_summary(folder: Path) -> Any:
    import pandas as pd

    df = _pd_read(folder, ["client_id", "started_at"])
    df["day"] = df["started_at"].dt.normalize()
    end = pd.Timestamp(OBSERVATION_END)
    days = df.loc[df["day"] <= end, ["client_id", "day"]].drop_duplicates()
    g = days.groupby("client_id")["day"].agg(["count", "min", "max"])
    return pd.DataFrame(
        {
            "client_id": g.index,
            "frequency": g["count"].to_numpy() - 1,
            "recency": (g["max"] - g["min"]).dt.days.to_numpy() / 7,
            "T": (end - g["min"]).dt.days.to_numpy() / 7,
        }
    )


def run_pandas(query: str, folder: Path) -> Any:
    if query == "cohort":
        return pd_cohort(folder)
    if query == "abc_services":
        return pd_abc(folder, "service_id")
    if query == "abc_clients":
        return pd_abc(folder, "client_id")
    if query == "xyz":
        return pd_xyz(folder)
    if query == "rfm":
        return pd_rfm(folder)
    if query == "churn_summary":
        return pd_churn_summary(folder)
    raise ValueError(query)


# --------------------------------------------------------------------------------------- hand SQL worker
# Plain DuckDB SQL over the Parquet files, written the way an analyst who knows SQL would: no library.

SQL_RFM_SEGMENTS = """
    CASE WHEN r_score >= 4 AND f_score >= 4 AND m_score >= 4 THEN 'champions'
         WHEN r_score >= 3 AND f_score >= 4 THEN 'loyal'
         WHEN r_score >= 4 AND f_score BETWEEN 2 AND 3 THEN 'potential_loyalists'
         WHEN r_score >= 4 AND f_score = 1 THEN 'new'
         WHEN r_score = 3 AND f_score BETWEEN 2 AND 3 THEN 'need_attention'
         WHEN r_score = 3 AND f_score = 1 THEN 'about_to_sleep'
         WHEN r_score <= 2 AND f_score >= 3 THEN 'at_risk'
         WHEN r_score = 2 AND f_score <= 2 THEN 'hibernating'
         WHEN r_score = 1 AND f_score <= 2 THEN 'lost' END"""


def hand_sql(query: str) -> str:
    done = "status = 'completed'"
    if query == "cohort":
        return f"""
        WITH active AS (
            SELECT client_id, CAST(date_trunc('month', started_at) AS DATE) AS m, sum(amount) AS revenue
            FROM visits WHERE {done} AND started_at < {AS_OF_SQL} GROUP BY ALL
        ),
        firsts AS (SELECT client_id, min(m) AS cohort FROM active GROUP BY client_id),
        cells AS (
            SELECT cohort, datediff('month', cohort, m) AS k, count(*) AS active, sum(revenue) AS revenue
            FROM active JOIN firsts USING (client_id) GROUP BY ALL
        ),
        grid AS (
            SELECT cohort, active AS cohort_size, revenue AS revenue0,
                   unnest(range(0, datediff('month', cohort, {LAST_MONTH_SQL}) + 1)) AS k
            FROM cells WHERE k = 0
        )
        SELECT g.cohort, CAST(g.k AS INTEGER) AS period_index, g.cohort_size,
               coalesce(c.active, 0) AS active_clients, coalesce(c.active, 0) / g.cohort_size AS retention,
               coalesce(c.revenue, 0) AS revenue, coalesce(c.revenue, 0) / g.cohort_size AS revenue_per_client,
               CASE WHEN g.revenue0 <> 0 THEN coalesce(c.revenue, 0) / g.revenue0 END AS revenue_retention
        FROM grid g LEFT JOIN cells c USING (cohort, k) ORDER BY 1, 2
        """
    if query in ("abc_services", "abc_clients"):
        col = "service_id" if query == "abc_services" else "client_id"
        return f"""
        WITH r AS (SELECT {col}, round(sum(amount), 2) AS revenue FROM visits WHERE {done} GROUP BY 1),
        w AS (
            SELECT *, sum(revenue) OVER (ORDER BY revenue DESC, {col} ROWS UNBOUNDED PRECEDING) AS cum,
                   sum(revenue) OVER () AS total, row_number() OVER (ORDER BY revenue DESC, {col}) AS rank
            FROM r
        )
        SELECT {col}, revenue, revenue / total AS share, cum / total AS cumulative_share, rank,
               CASE WHEN (cum - revenue) / total < 0.80 THEN 'A'
                    WHEN (cum - revenue) / total < 0.95 THEN 'B' ELSE 'C' END AS abc_class
        FROM w ORDER BY rank
        """
    if query == "xyz":
        return f"""
        WITH monthly AS (
            SELECT service_id, date_trunc('month', started_at) AS m, CAST(count(*) AS DOUBLE) AS q
            FROM visits WHERE {done} GROUP BY ALL
        ),
        n AS (SELECT datediff('month', min(m), max(m)) + 1 AS months FROM monthly),
        s AS (SELECT service_id, sum(q) AS s1, sum(q * q) AS s2 FROM monthly GROUP BY 1),
        st AS (
            SELECT service_id, months, s1 / months AS mean,
                   sqrt(greatest(s2 / months - (s1 / months) ^ 2, 0)) AS std FROM s, n
        )
        SELECT *, CASE WHEN mean > 0 THEN std / mean END AS cv,
               CASE WHEN std / mean <= 0.10 THEN 'X' WHEN std / mean <= 0.25 THEN 'Y' ELSE 'Z' END AS xyz_class
        FROM st ORDER BY service_id
        """
    if query == "rfm":
        return f"""
        WITH m AS (
            SELECT client_id, datediff('day', CAST(max(started_at) AS DATE), DATE '{AS_OF.date()}') AS recency_days,
                   count(*) AS frequency, round(sum(amount), 2) AS monetary
            FROM visits WHERE {done} AND started_at < {AS_OF_SQL} GROUP BY client_id
        ),
        q AS (
            SELECT *, 1 + (5 * (rank() OVER (ORDER BY recency_days DESC) - 1)) // count(*) OVER () AS rq,
                      1 + (5 * (rank() OVER (ORDER BY frequency) - 1)) // count(*) OVER () AS fq,
                      1 + (5 * (rank() OVER (ORDER BY monetary) - 1)) // count(*) OVER () AS m_score
            FROM m
        ),
        d AS (SELECT count(DISTINCT rq) AS nr, count(DISTINCT fq) AS nf FROM q),
        s AS (
            SELECT client_id, recency_days, frequency, monetary,
                   CASE WHEN nr = 5 THEN rq ELSE 5 - CAST(recency_days > 30 AS INT) - CAST(recency_days > 90 AS INT)
                        - CAST(recency_days > 180 AS INT) - CAST(recency_days > 365 AS INT) END AS r_score,
                   CASE WHEN nf = 5 THEN fq ELSE 1 + CAST(frequency >= 2 AS INT) + CAST(frequency >= 3 AS INT)
                        + CAST(frequency >= 5 AS INT) + CAST(frequency >= 10 AS INT) END AS f_score,
                   m_score
            FROM q, d
        )
        SELECT *, {SQL_RFM_SEGMENTS} AS segment FROM s
        """
    if query == "churn_summary":
        end = f"DATE '{OBSERVATION_END}'"
        return f"""
        WITH days AS (
            SELECT DISTINCT client_id, CAST(started_at AS DATE) AS day
            FROM visits WHERE {done} AND started_at < {AS_OF_SQL}
        )
        SELECT client_id, count(*) - 1 AS frequency, datediff('day', min(day), max(day)) / 7 AS recency,
               datediff('day', min(day), {end}) / 7 AS T
        FROM days GROUP BY client_id
        """
    raise ValueError(query)


def run_sql(query: str, folder: Path, cfg: dict[str, Any]) -> Any:
    import duckdb

    con = duckdb.connect()
    duckdb_settings(con, cfg["threads"], cfg["memory_limit"], cfg["temp"])
    con.execute(f"CREATE VIEW visits AS SELECT * FROM read_parquet('{visits_glob(folder)}')")
    return con.sql(hand_sql(query)).pl()


# ------------------------------------------------------------------------------------------ polars worker
# Lazy polars over the Parquet files, collected with the streaming engine.


def _pl_scan(folder: Path) -> Any:
    import polars as pl

    return pl.scan_parquet(visits_glob(folder)).filter(pl.col("status") == "completed")


def _pl_before_as_of() -> Any:
    import polars as pl

    return pl.col("started_at") < pl.lit(AS_OF.replace(tzinfo=dt.UTC))


def _collect(lf: Any) -> Any:
    return lf.collect(engine="streaming")


def pl_cohort(folder: Path) -> Any:
    import polars as pl

    month = pl.col("started_at").dt.year().cast(pl.Int64) * 12 + pl.col("started_at").dt.month() - 1
    active = (
        _pl_scan(folder)
        .filter(_pl_before_as_of())
        .group_by("client_id", month.alias("p"))
        .agg(pl.col("amount").sum().alias("revenue"))
    )
    firsts = active.group_by("client_id").agg(pl.col("p").min().alias("cohort"))
    cells = _collect(
        active.join(firsts, on="client_id")
        .group_by("cohort", (pl.col("p") - pl.col("cohort")).alias("k"))
        .agg(pl.len().alias("active"), pl.col("revenue").sum())
    )
    last = AS_OF.year * 12 + AS_OF.month - 2  # the last month that started before AS_OF
    sizes = cells.filter(pl.col("k") == 0).select(
        "cohort", pl.col("active").alias("cohort_size"), pl.col("revenue").alias("revenue0")
    )
    grid = sizes.with_columns(pl.int_ranges(0, last - pl.col("cohort") + 1).alias("k")).explode("k")
    out = grid.join(cells, on=["cohort", "k"], how="left").with_columns(
        pl.col("active").fill_null(0), pl.col("revenue").fill_null(0.0)
    )
    size = pl.col("cohort_size")
    return out.select(
        pl.date(pl.col("cohort") // 12, pl.col("cohort") % 12 + 1, 1).alias("cohort"),
        pl.col("k").cast(pl.Int32).alias("period_index"),
        size,
        pl.col("active").alias("active_clients"),
        (pl.col("active") / size).alias("retention"),
        "revenue",
        (pl.col("revenue") / size).alias("revenue_per_client"),
        pl.when(pl.col("revenue0") != 0).then(pl.col("revenue") / pl.col("revenue0")).alias("revenue_retention"),
    ).sort("cohort", "period_index")


def pl_abc(folder: Path, col: str) -> Any:
    import polars as pl

    r = _collect(_pl_scan(folder).group_by(col).agg(pl.col("amount").sum().round(2).alias("revenue"))).sort(
        ["revenue", col], descending=[True, False]
    )
    total = r["revenue"].sum()
    cum = pl.col("revenue").cum_sum()
    before = (cum - pl.col("revenue")) / total
    return r.with_columns(
        (pl.col("revenue") / total).alias("share"),
        (cum / total).alias("cumulative_share"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("rank"),
        pl.when(before < 0.80)
        .then(pl.lit("A"))
        .when(before < 0.95)
        .then(pl.lit("B"))
        .otherwise(pl.lit("C"))
        .alias("abc_class"),
    )


def pl_xyz(folder: Path) -> Any:
    import polars as pl

    month = pl.col("started_at").dt.year().cast(pl.Int64) * 12 + pl.col("started_at").dt.month() - 1
    monthly = _collect(
        _pl_scan(folder).group_by("service_id", month.alias("m")).agg(pl.len().cast(pl.Float64).alias("q"))
    )
    months = int(monthly["m"].max() - monthly["m"].min() + 1)
    s = monthly.group_by("service_id").agg(pl.col("q").sum().alias("s1"), (pl.col("q") ** 2).sum().alias("s2"))
    mean = pl.col("s1") / months
    out = s.select(
        "service_id",
        pl.lit(months, dtype=pl.Int64).alias("months"),
        mean.alias("mean"),
        (pl.col("s2") / months - mean**2).clip(0.0, None).sqrt().alias("std"),
    ).with_columns(pl.when(pl.col("mean") > 0).then(pl.col("std") / pl.col("mean")).alias("cv"))
    cv = pl.col("cv")
    return out.with_columns(
        pl.when(cv <= 0.10)
        .then(pl.lit("X"))
        .when(cv <= 0.25)
        .then(pl.lit("Y"))
        .otherwise(pl.lit("Z"))
        .alias("xyz_class")
    ).sort("service_id")


def pl_rfm(folder: Path) -> Any:
    import polars as pl

    g = _collect(
        _pl_scan(folder)
        .filter(_pl_before_as_of())
        .group_by("client_id")
        .agg(
            pl.col("started_at").max().alias("last"),
            pl.len().cast(pl.Int64).alias("frequency"),
            pl.col("amount").sum().round(2).alias("monetary"),
        )
    )
    n = g.height
    g = g.with_columns((pl.lit(AS_OF.date()) - pl.col("last").dt.date()).dt.total_days().alias("recency_days"))

    def quint(c: str, descending: bool) -> Any:
        return (1 + (5 * (pl.col(c).rank("min", descending=descending) - 1)) // n).cast(pl.Int64)

    def fixed(c: str, cuts: tuple[int, ...], higher: bool) -> Any:
        if higher:
            return 1 + pl.sum_horizontal([(pl.col(c) >= t).cast(pl.Int64) for t in cuts])
        return 5 - pl.sum_horizontal([(pl.col(c) > t).cast(pl.Int64) for t in cuts])

    g = g.with_columns(
        quint("recency_days", True).alias("rq"),
        quint("frequency", False).alias("fq"),
        quint("monetary", False).alias("m_score"),
    )
    r = quint("recency_days", True) if g["rq"].n_unique() == 5 else fixed("recency_days", (30, 90, 180, 365), False)
    f = quint("frequency", False) if g["fq"].n_unique() == 5 else fixed("frequency", (2, 3, 5, 10), True)
    g = g.with_columns(r.alias("r_score"), f.alias("f_score"))
    R, F, M = pl.col("r_score"), pl.col("f_score"), pl.col("m_score")
    rules = [
        ((R >= 4) & (F >= 4) & (M >= 4), "champions"),
        ((R >= 3) & (F >= 4), "loyal"),
        ((R >= 4) & F.is_between(2, 3), "potential_loyalists"),
        ((R >= 4) & (F == 1), "new"),
        ((R == 3) & F.is_between(2, 3), "need_attention"),
        ((R == 3) & (F == 1), "about_to_sleep"),
        ((R <= 2) & (F >= 3), "at_risk"),
        ((R == 2) & (F <= 2), "hibernating"),
        ((R == 1) & (F <= 2), "lost"),
    ]
    seg: Any = pl.lit(None, dtype=pl.String)
    for cond, name in reversed(rules):
        seg = pl.when(cond).then(pl.lit(name)).otherwise(seg)
    return g.select(
        "client_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", seg.alias("segment")
    )


def pl_churn_summary(folder: Path) -> Any:
    import polars as pl

    end = OBSERVATION_END
    day = pl.col("started_at").dt.date()
    days = _pl_scan(folder).select("client_id", day.alias("day")).filter(pl.col("day") <= end).unique()
    return _collect(
        days.group_by("client_id").agg(
            (pl.len() - 1).cast(pl.Int64).alias("frequency"),
            ((pl.col("day").max() - pl.col("day").min()).dt.total_days() / 7).alias("recency"),
            ((pl.lit(end) - pl.col("day").min()).dt.total_days() / 7).alias("T"),
        )
    )


def run_polars(query: str, folder: Path) -> Any:
    if query == "cohort":
        return pl_cohort(folder)
    if query == "abc_services":
        return pl_abc(folder, "service_id")
    if query == "abc_clients":
        return pl_abc(folder, "client_id")
    if query == "xyz":
        return pl_xyz(folder)
    if query == "rfm":
        return pl_rfm(folder)
    if query == "churn_summary":
        return pl_churn_summary(folder)
    raise ValueError(query)


# ------------------------------------------------------------------------------------------------ workers


def peak_rss_mb() -> float:
    """VmHWM: this process's own peak RSS. ru_maxrss would also count the parent's RSS at fork time."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(impl: str, query: str, folder: Path, result: Path, cfg: dict[str, Any]) -> None:
    """Import first (not timed), then time read + compute; write the answer and the measurements."""
    if impl == "lib":
        import analytics  # noqa: F401
    elif impl == "sql":  # plain DuckDB: the library is not even imported
        import duckdb  # noqa: F401
    elif impl == "pandas":
        import pandas  # noqa: F401
    import polars  # noqa: F401

    rss_after_import = peak_rss_mb()
    load0 = os.getloadavg()[0]
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if impl == "lib":
        answer = run_library(query, folder, cfg)
    elif impl == "sql":
        answer = run_sql(query, folder, cfg)
    elif impl == "polars":
        answer = run_polars(query, folder)
    else:
        answer = run_pandas(query, folder)
    wall = time.perf_counter() - t0
    # RUSAGE_SELF sums user + system time over every thread of this process (DuckDB's and polars' pools
    # included), so it is the CPU the query consumed whatever else ran on the machine.
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    peak = peak_rss_mb()
    load = max(load0, os.getloadavg()[0])
    if impl == "pandas":
        answer.to_parquet(result, index=False)
    else:
        answer.write_parquet(result)
    out = {"wall": wall, "cpu": cpu, "peak_mb": peak, "import_mb": rss_after_import, "load": load}
    print(json.dumps({**out, "rows": len(answer)}))


def spawn(impl: str, query: str, folder: Path, result: Path, cfg: dict[str, Any]) -> dict[str, float] | None:
    """One measurement in a fresh process; None when the worker failed (out of memory, an error)."""
    cmd = [sys.executable, __file__, "--worker", impl, "--query", query, "--data", str(folder)]
    cmd += ["--result", str(result), "--memory-limit", cfg["memory_limit"] or ""]
    if cfg["threads"] is not None:
        cmd += ["--threads", str(cfg["threads"])]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"  {impl} {query} failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------- comparison

KEYS = {
    "cohort": ["cohort", "period_index"],
    "abc_services": ["service_id"],
    "abc_clients": ["client_id"],
    "xyz": ["service_id"],
    "rfm": ["client_id"],
    "churn_summary": ["client_id"],
    **{q: ["client_id"] for q in PLAN_QUERIES},
}


def compare(query: str, lib_path: Path, pd_path: Path) -> str:
    """'ok' when both answers have the same keys and equal values (floats to 1e-9 relative)."""
    if not lib_path.exists() or not pd_path.exists():
        return "no answer"
    import polars as pl

    lib = pl.read_parquet(lib_path)
    ref = pl.read_parquet(pd_path)
    keys = KEYS[query]
    cols = [c for c in lib.columns if c in ref.columns and c not in keys]
    lib = lib.select(keys + cols).sort(keys)
    ref = ref.select(keys + cols).sort(keys)
    if lib.height != ref.height:
        return f"row count {lib.height} vs {ref.height}"
    problems = []
    for k in keys:
        if not (lib[k].cast(pl.String) == ref[k].cast(pl.String)).all():
            problems.append(f"key {k}")
    for c in cols:
        a, b = lib[c], ref[c]
        if a.dtype.is_numeric() and b.dtype.is_numeric():
            a, b = a.cast(pl.Float64), b.cast(pl.Float64)
            same_null = (a.is_null() | a.is_nan()) == (b.is_null() | b.is_nan())
            close = ((a - b).abs() <= 1e-9 * b.abs().clip(1.0, None)).fill_null(True) | (a.is_nan() & b.is_nan())
            bad = int((~(same_null & close)).sum())
        else:
            bad = int((a.cast(pl.String).fill_null("<null>") != b.cast(pl.String).fill_null("<null>")).sum())
        if bad:
            problems.append(f"{c}: {bad} rows differ")
    return "ok" if not problems else "; ".join(problems)


# ------------------------------------------------------------------------------------------------- driver


def validate_churn(folder: Path) -> None:
    """The churn holdout test at benchmark scale (the unit test runs it on three small worlds)."""
    import polars as pl

    import analytics

    con = analytics.connect(folder)
    t0 = time.perf_counter()
    table = analytics.validate_churn_methods(
        analytics.purchases(con.table("visits")),
        "client_id",
        "started_at",
        calibration_end=dt.date(2025, 9, 30),
        observation_end=OBSERVATION_END,
    )
    with pl.Config(tbl_width_chars=200, tbl_cols=20, tbl_hide_dataframe_shape=True):
        print(table)
    print(f"library default: {analytics.DEFAULT_CHURN_METHOD}; winner here: {table['method'][0]}")
    print(f"{time.perf_counter() - t0:.1f} s")


def measure_size(
    args: argparse.Namespace, rows: int, queries: list[str], impls: list[str]
) -> dict[str, dict[str, dict[str, float] | None]]:
    """Run every (query, impl) ``repeat`` times at one size; print the table; return the medians."""
    clients = args.clients or max(rows // 10, 1)
    folder = ensure_data(args.out, rows, clients, args.seed, args.gen_jobs)
    results = args.out / "results" / folder.name
    results.mkdir(parents=True, exist_ok=True)
    cfg = {"threads": args.threads, "memory_limit": args.memory_limit, "temp": None}
    print(
        f"\n{rows:,} visits, {clients:,} clients, {os.cpu_count()} CPUs, DuckDB threads "
        f"{args.threads or os.cpu_count()}, memory_limit {args.memory_limit or 'default'}, median of "
        f"{args.repeat} run(s), load average {os.getloadavg()[0]:.1f} at start"
    )
    cols = "".join(f" {IMPL_NAMES[i] + ' s':>11} {'cpu s':>7} {'MB':>6}" for i in impls)
    header = f"{'query':<24}{cols}  {'lib/sql MB':>10} {'load':>5}  check"
    print(header)
    print("-" * len(header))
    medians: dict[str, dict[str, dict[str, float] | None]] = {}
    for q in queries:
        runs: dict[str, list[dict[str, float]]] = {i: [] for i in impls}
        for _ in range(args.repeat):
            # Alternate the implementations so background load hits all alike.
            for impl in impls:
                out = spawn(impl, q, folder, results / f"{q}_{impl}.parquet", cfg)
                if out is not None:
                    runs[impl].append(out)
                else:
                    (results / f"{q}_{impl}.parquet").unlink(missing_ok=True)
        med: dict[str, dict[str, float] | None] = {}
        for impl, rs in runs.items():
            med[impl] = (
                {m: statistics.median(r[m] for r in rs) for m in ("wall", "cpu", "peak_mb", "import_mb", "load")}
                if rs
                else None
            )
        medians[q] = med
        base = "lib" if "lib" in impls else impls[0]
        checks = []
        for impl in impls:
            if impl != base:
                verdict = compare(
                    q,
                    results / f"{q}_{base}.parquet",
                    results / f"{q}_{impl}.parquet",
                )
                checks.append(f"{impl} {verdict}")
        cells = "".join(
            f" {m['wall']:>10.2f}s {m['cpu']:>6.2f}s {m['peak_mb']:>6.0f}"
            if m
            else f" {'FAILED':>11} {'-':>7} {'-':>6}"
            for m in (med[i] for i in impls)
        )
        lib, sql = med.get("lib"), med.get("sql")
        ratio = f"{lib['peak_mb'] / sql['peak_mb']:>9.2f}x" if lib and sql else f"{'-':>10}"
        load = max((m["load"] for m in med.values() if m), default=0.0)
        print(f"{q:<24}{cells}  {ratio} {load:>5.1f}  {'; '.join(checks) or '-'}")
    for q in queries:
        if q.endswith("_bitstring") and q.replace("_bitstring", "_grouped") in queries and "lib" in impls:
            g = q.replace("_bitstring", "_grouped")
            print(f"{g} vs {q}: {compare(q, results / f'{g}_lib.parquet', results / f'{q}_lib.parquet')}")
    print("-" * len(header))
    totals = "".join(
        f" {sum(r['wall'] for q in queries if (r := medians[q][i]) is not None):>10.2f}s {'':>6}" for i in impls
    )
    print(f"{'total':<24}{totals}")
    if "lib" in impls and "sql" in impls:
        print("library peak memory within 1.3x of the hand SQL's:")
        for q in queries:
            lib, sql = medians[q]["lib"], medians[q]["sql"]
            if lib and sql:
                r = lib["peak_mb"] / sql["peak_mb"]
                print(f"  {q:<24} {r:.2f}x  {'PASS' if r <= 1.3 else 'FAIL'}")
    if "lib" in impls and "pandas" in impls:
        print("library >= 3x faster than pandas, with less memory:")
        for q in queries:
            lib, pd_ = medians[q]["lib"], medians[q]["pandas"]
            if lib and pd_:
                sp, mem = pd_["wall"] / lib["wall"], pd_["peak_mb"] / lib["peak_mb"]
                print(
                    f"  {q:<24} {sp:.1f}x faster, {mem:.1f}x less memory  {'PASS' if sp >= 3 and mem > 1 else 'FAIL'}"
                )
    imports = ", ".join(
        f"{IMPL_NAMES[i]} {max((medians[q][i] or {}).get('import_mb', 0.0) for q in queries):.0f} MB" for i in impls
    )
    print(f"MB = the worker's own peak RSS (VmHWM) including imports; after imports alone: {imports}.")
    print(
        "s = median wall time of read + compute after imports; cpu s = its user + system CPU over all threads; "
        "load = the highest 1-minute load average seen at a run's start or end."
    )
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--rows",
        default="10000000",
        help="visits to generate (default 10M); two comma-separated sizes also check the growth between them",
    )
    parser.add_argument("--clients", type=int, default=None, help="clients (default rows / 10)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the generated world (part of the cache key)")
    parser.add_argument("--gen-jobs", type=int, default=2, help="processes generating data chunks (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per query and implementation (median)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="DuckDB threads for the library and the hand SQL (default: all cores)",
    )
    parser.add_argument(
        "--memory-limit",
        default="6GB",
        help="DuckDB memory_limit for the library and the hand SQL (default 6GB); they spill to var/bench/ above it",
    )
    parser.add_argument(
        "--queries",
        default=",".join(QUERIES),
        help="comma-separated subset (also: churn[_holdout]_dense, _grouped, _bitstring)",
    )
    parser.add_argument(
        "--impls",
        default=None,
        help="comma-separated columns among lib,sql,polars,pandas (default: all four up to 20M visits, "
        "lib,sql above: pandas and eager polars do not fit 100M visits in 8 GB)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument(
        "--validate-churn",
        action="store_true",
        help="instead of timing, score the churn methods on this world (calibration to 2025-09-30, "
        "holdout to 2025-12-31) and print the table",
    )
    parser.add_argument("--worker", choices=list(IMPLS), help=argparse.SUPPRESS)
    parser.add_argument("--query", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress shows in a log
    if args.worker:
        temp = args.data.parent / "duckdb_tmp" / f"{args.worker}-{os.getpid()}"
        cfg = {"threads": args.threads, "memory_limit": args.memory_limit or None, "temp": temp}
        try:
            worker(args.worker, args.query, args.data, args.result, cfg)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        return

    sizes = [int(r) for r in args.rows.split(",") if r]
    if args.validate_churn:
        clients = args.clients or max(sizes[0] // 10, 1)
        validate_churn(ensure_data(args.out, sizes[0], clients, args.seed, args.gen_jobs))
        return
    queries = [q for q in args.queries.split(",") if q]
    by_size = {}
    for rows in sizes:
        impls = args.impls.split(",") if args.impls else (list(IMPLS) if rows <= 20_000_000 else ["lib", "sql"])
        by_size[rows] = (impls, measure_size(args, rows, queries, impls))
    if len(sizes) < 2:
        return
    small, big = sizes[0], sizes[-1]
    grow = big / small
    (impls_s, med_s), (impls_b, med_b) = by_size[small], by_size[big]
    print(
        f"\ngrowth from {small:,} to {big:,} visits ({grow:.0f}x the rows): CPU and wall time ratio per query, "
        f"the verdict on CPU time (PASS when <= {grow:.0f}x), and peak memory at {big:,} (PASS under "
        f"{MEMORY_BUDGET_MB} MB)"
    )
    print(
        "  The growth verdict reads CPU time because the machine may be shared: wall time also counts the time a\n"
        "  runnable query waits for a core, which grows with the other processes' load, not with the rows. CPU\n"
        "  time leaves out time blocked on I/O (spilling, a cold file cache), so wall time is printed beside it:\n"
        "  a wall ratio far above the CPU ratio on a quiet machine would point at I/O."
    )
    for impl in [i for i in impls_b if i in impls_s]:
        for q in queries:
            s_, b_ = med_s[q][impl], med_b[q][impl]
            if not b_:
                print(f"  {IMPL_NAMES[impl]:<9} {q:<24} did not finish  FAIL")
                continue
            if not s_:
                print(f"  {IMPL_NAMES[impl]:<9} {q:<24} no baseline at {small:,}")
                continue
            cpu_ratio = b_["cpu"] / s_["cpu"]
            wall_ratio = b_["wall"] / s_["wall"]
            mem_ok = b_["peak_mb"] < MEMORY_BUDGET_MB
            print(
                f"  {IMPL_NAMES[impl]:<9} {q:<24} cpu {s_['cpu']:>7.2f}s -> {b_['cpu']:>7.2f}s = {cpu_ratio:>5.1f}x "
                f"{'PASS' if cpu_ratio <= grow else 'FAIL'} | wall {s_['wall']:>7.2f}s -> {b_['wall']:>7.2f}s = "
                f"{wall_ratio:>5.1f}x (load {s_['load']:.1f} -> {b_['load']:.1f}) | peak {b_['peak_mb']:>6.0f} MB "
                f"{'PASS' if mem_ok else 'FAIL'}"
            )


if __name__ == "__main__":
    main()
