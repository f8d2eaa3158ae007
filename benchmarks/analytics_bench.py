"""Benchmark: the analytics library vs a straightforward pandas implementation of the same definitions.

    python benchmarks/analytics_bench.py                    # 10M visits / 1M clients / 3 years
    python benchmarks/analytics_bench.py --rows 200000      # quick run (clients default to rows / 10)

The synthetic warehouse is generated once into benchmarks/out/ (git-ignored) and reused. Every (query,
implementation, repeat) runs in its own subprocess, so peak RSS is per method and nothing is cached between
runs except the operating system's file cache, which both sides share. Each worker reports the wall time
and CPU seconds of read + compute (after imports) and its peak RSS, and writes its answer to Parquet; the
parent checks that both answers agree before printing the table. Targets: every query >= 3x faster than
pandas with less peak memory, and the library's whole set under 15 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

QUERIES = ("cohort", "abc_services", "abc_clients", "xyz", "rfm", "churn_summary")
START = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
AS_OF = dt.datetime(2026, 1, 1)  # exclusive end of the 3-year window (naive = UTC)
OBSERVATION_END = dt.date(2025, 12, 31)


# ------------------------------------------------------------------------------------------------ the data


def data_dir(out: Path, rows: int, clients: int) -> Path:
    return out / f"visits_{rows}_{clients}"


def ensure_data(out: Path, rows: int, clients: int) -> Path:
    """Generate the warehouse once; later runs reuse it."""
    folder = data_dir(out, rows, clients)
    if (folder / "visits.parquet").exists():
        return folder
    from analytics.schema import write_warehouse
    from analytics.synthetic import generate_visits

    t0 = time.perf_counter()
    visits, client_frame = generate_visits(clients=clients, visits=rows, start=START, years=3.0, seed=2026)
    write_warehouse(folder, visits=visits.drop("duration_minutes"), clients=client_frame)
    print(f"generated {rows:,} visits / {clients:,} clients in {time.perf_counter() - t0:.1f} s -> {folder}")
    return folder


# ----------------------------------------------------------------------------------------- library worker


def run_library(query: str, folder: Path, threads: int | None = None) -> Any:
    import analytics
    from analytics.abc import abc_analysis, xyz_analysis
    from analytics.cohorts import cohort_retention
    from analytics.rfm import rfm

    con = analytics.connect(folder, threads=threads)
    visits = con.table("visits")
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

    df = pd.read_parquet(folder / "visits.parquet", columns=[*columns, "status"])
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
    cells = active.groupby(["cohort", "k"]).agg(
        active_clients=("client_id", "size"), revenue=("amount", "sum")
    )
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


# ------------------------------------------------------------------------------------------------ workers


def peak_rss_mb() -> float:
    """VmHWM: this process's own peak RSS. ru_maxrss would also count the parent's RSS at fork time."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(impl: str, query: str, folder: Path, result: Path, threads: int | None = None) -> None:
    """Import first (not timed), then time read + compute; write the answer and the measurements."""
    if impl == "lib":
        import analytics  # noqa: F401
    else:
        import pandas  # noqa: F401
    rss_after_import = peak_rss_mb()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    answer = run_library(query, folder, threads) if impl == "lib" else run_pandas(query, folder)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    peak = peak_rss_mb()
    if impl == "lib":
        answer.write_parquet(result)
    else:
        answer.to_parquet(result, index=False)
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "peak_mb": peak,
                "import_mb": rss_after_import,
                "rows": len(answer),
            }
        )
    )


def spawn(impl: str, query: str, folder: Path, result: Path, threads: int | None = None) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        impl,
        "--query",
        query,
        "--data",
        str(folder),
        "--result",
        str(result),
    ]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{impl} {query} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------- comparison

KEYS = {
    "cohort": ["cohort", "period_index"],
    "abc_services": ["service_id"],
    "abc_clients": ["client_id"],
    "xyz": ["service_id"],
    "rfm": ["client_id"],
    "churn_summary": ["client_id"],
}


def compare(query: str, lib_path: Path, pd_path: Path) -> str:
    """'ok' when both answers have the same keys and equal values (floats to 1e-9 relative)."""
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
            close = ((a - b).abs() <= 1e-9 * b.abs().clip(1.0, None)).fill_null(True) | (
                a.is_nan() & b.is_nan()
            )
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="visits to generate (default 10M)")
    parser.add_argument("--clients", type=int, default=None, help="clients (default rows / 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per query and implementation (median)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="DuckDB threads for the library (default: all cores); 1 can win on a machine others load",
    )
    parser.add_argument("--queries", default=",".join(QUERIES), help="comma-separated subset")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument(
        "--validate-churn",
        action="store_true",
        help="instead of timing, score the churn methods on this world (calibration to 2025-09-30, "
        "holdout to 2025-12-31) and print the table",
    )
    parser.add_argument("--worker", choices=["lib", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--query", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.query, args.data, args.result, args.threads)
        return

    clients = args.clients or max(args.rows // 10, 1)
    folder = ensure_data(args.out, args.rows, clients)
    if args.validate_churn:
        validate_churn(folder)
        return
    results = args.out / "results"
    results.mkdir(parents=True, exist_ok=True)
    queries = [q for q in args.queries.split(",") if q]
    threads = args.threads or os.cpu_count()
    print(
        f"{args.rows:,} visits, {clients:,} clients, {os.cpu_count()} CPUs, library on {threads} DuckDB "
        f"thread(s), median of {args.repeat} runs each, load average {os.getloadavg()[0]:.1f} at start"
    )
    header = (
        f"{'query':<14} {'lib wall':>9} {'pd wall':>9} {'speedup':>8} {'lib cpu':>8} {'pd cpu':>8} "
        f"{'lib MB':>8} {'pd MB':>8} {'mem ratio':>9}  check"
    )
    print(header)
    print("-" * len(header))
    totals = {"lib": 0.0, "pandas": 0.0}
    import_mb = {"lib": 0.0, "pandas": 0.0}
    verdicts = []
    for q in queries:
        runs: dict[str, list[dict[str, float]]] = {"lib": [], "pandas": []}
        # Alternate the implementations so background load hits both alike.
        for _ in range(args.repeat):
            for impl in ("lib", "pandas"):
                runs[impl].append(spawn(impl, q, folder, results / f"{q}_{impl}.parquet", args.threads))
        med = {
            impl: {m: statistics.median(r[m] for r in rs) for m in ("wall", "cpu", "peak_mb")}
            for impl, rs in runs.items()
        }
        for impl, rs in runs.items():
            import_mb[impl] = max(import_mb[impl], max(r["import_mb"] for r in rs))
        check = compare(q, results / f"{q}_lib.parquet", results / f"{q}_pandas.parquet")
        speedup = med["pandas"]["wall"] / med["lib"]["wall"]
        mem_ratio = med["pandas"]["peak_mb"] / med["lib"]["peak_mb"]
        totals["lib"] += med["lib"]["wall"]
        totals["pandas"] += med["pandas"]["wall"]
        verdicts.append((q, speedup >= 3, mem_ratio > 1, check == "ok"))
        print(
            f"{q:<14} {med['lib']['wall']:>8.2f}s {med['pandas']['wall']:>8.2f}s {speedup:>7.1f}x "
            f"{med['lib']['cpu']:>7.2f}s {med['pandas']['cpu']:>7.2f}s {med['lib']['peak_mb']:>8.0f} "
            f"{med['pandas']['peak_mb']:>8.0f} {mem_ratio:>8.1f}x  {check}"
        )
    print("-" * len(header))
    print(
        f"{'total':<14} {totals['lib']:>8.2f}s {totals['pandas']:>8.2f}s {totals['pandas'] / totals['lib']:>7.1f}x"
    )
    print()
    print("targets: >=3x faster | less memory | same answer")
    for q, fast, lean, same in verdicts:
        print(
            f"  {q:<14} {'yes' if fast else 'NO':>4} | {'yes' if lean else 'NO':>4} | {'yes' if same else 'NO':>4}"
        )
    print(f"  whole library set under 15 s: {'yes' if totals['lib'] < 15 else 'NO'} ({totals['lib']:.2f} s)")
    print(
        "peak MB = the worker's own peak RSS (VmHWM) including imports; after imports alone: "
        f"library {import_mb['lib']:.0f} MB, pandas {import_mb['pandas']:.0f} MB."
    )
    print("wall / cpu = read + compute after imports; cpu = user + system seconds of all threads.")


if __name__ == "__main__":
    main()
