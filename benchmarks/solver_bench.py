"""Solver benchmark: plans generated city days with the solver and with flat "call r x headcount" rules
(r = 1.2, 1.5, 2.0) in the same run, simulates attendance with the hidden true show rates, and prints
the figures, each solver phase's time and the objective it removed, and the target checks.

    python benchmarks/solver_bench.py                   # service-level tables, then the first solver's report
    python benchmarks/solver_bench.py --quick           # small days only (CI smoke)
    python benchmarks/solver_bench.py --only service    # short day and slack day, spread and full_first
    python benchmarks/solver_bench.py --only v1         # 10,000 x 1,000 with the cost sweep, then 50,000 x 5,000
    python benchmarks/solver_bench.py --partitioned     # parts in parallel (scheduling_solver.bench_partition)
    python benchmarks/solver_bench.py --replan          # replan_one: 1,000 random events on 10,000 x 1,000

Timings are noisy on a shared machine: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import time

from scheduling_solver.bench import (
    DAY_TYPES,
    QUICK_DAY_TYPES,
    format_report,
    format_service_table,
    idle_phases,
    run,
    service_table,
)


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unavailable"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def service_level_tables(args: argparse.Namespace) -> None:
    """Issue 10 items 2 and 5: short and slack day, both policies, solver and greedy-only beside the
    flat rules, with per-phase time and objective removed and the pass/fail of the targets."""
    tables = []
    for day in QUICK_DAY_TYPES if args.quick else DAY_TYPES:
        for service in ("spread", "full_first"):
            t0 = time.perf_counter()
            table = service_table(day, service, args.seed, draws=args.draws)
            tables.append(table)
            print(format_service_table(table))
            print(f"(table: {time.perf_counter() - t0:.0f} s; {_load()})\n", flush=True)
    idle = idle_phases(tables)
    print(
        "phases that removed nothing on any day type: "
        + (", ".join(idle) + " (see docs/decisions/0014)" if idle else "none")
        + "\n",
        flush=True,
    )


def first_solver_report(args: argparse.Namespace) -> None:
    """The first solver's report: ordinary days against the flat rules, cost sweep and batch re-plan."""
    sizes = [(2_000, 200, 2.0, True)] if args.quick else [(10_000, 1_000, 10.0, True), (50_000, 5_000, 80.0, False)]
    for workers, shifts, limit, sweep in sizes:
        t0 = time.perf_counter()
        rep = run(workers, shifts, args.seed, draws=args.draws, time_limit_s=limit, sweep=sweep)
        print(format_report(rep))
        print(f"(whole benchmark for this size: {time.perf_counter() - t0:.0f} s; {_load()})\n", flush=True)


def partitioned(args: argparse.Namespace) -> None:
    """Issue 10 item 4: the day in parallel parts against the unpartitioned solve, then the whole pool."""
    from scheduling_solver.bench_partition import section

    print(section(args.seed, quick=args.quick), flush=True)


def replan_report(args: argparse.Namespace) -> None:
    """Issue 10 item 3: replan_one over random events, per-event times and the gap to a fresh solve."""
    from scheduling_solver.bench_replan import format_replan_report, run_replan_bench

    workers, shifts, events = (2_000, 200, 300) if args.quick else (10_000, 1_000, 1_000)
    t0 = time.perf_counter()
    print(format_replan_report(run_replan_bench(workers, shifts, events, args.seed)))
    print(f"(re-plan benchmark: {time.perf_counter() - t0:.0f} s; {_load()})\n", flush=True)


SECTIONS = {
    "service": service_level_tables,
    "v1": first_solver_report,
    "replan": replan_report,
    "partitioned": partitioned,
}
# The partitioned section (several minutes, 100,000 workers) runs only when asked for.
DEFAULT_SECTIONS = ("service", "v1", "replan")


def main() -> None:
    """Run the chosen sections and print each report."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small days only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these sections")
    parser.add_argument("--partitioned", action="store_true", help="same as --only partitioned")
    parser.add_argument("--replan", action="store_true", help="same as --only replan")
    args = parser.parse_args()
    extra = [name for name in ("partitioned", "replan") if getattr(args, name)]
    if extra:
        args.only = [*(args.only or []), *extra]
    for name in args.only or DEFAULT_SECTIONS:
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
