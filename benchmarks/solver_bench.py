"""Solver benchmark: plans generated city days with the solver and with flat "call r x headcount" rules
(r = 1.2, 1.5, 2.0) in the same run, simulates attendance with the hidden true show rates, and prints
the figures, the cost-ratio sweep, the re-plan time and the target checks.

    python benchmarks/solver_bench.py                 # 10,000 x 1,000 with sweep, then 50,000 x 5,000
    python benchmarks/solver_bench.py --quick         # 2,000 x 200 only
    python benchmarks/solver_bench.py --replan        # replan_one: 1,000 random events on 10,000 x 1,000
"""

from __future__ import annotations

import argparse
import time

from scheduling_solver.bench import format_report, run


def main() -> None:
    """Run the benchmark sizes and print each report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small day only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--replan", action="store_true", help="only the event-driven re-plan (replan_one) bench")
    args = parser.parse_args()
    if args.replan:
        from scheduling_solver.bench_replan import format_replan_report, run_replan_bench

        workers, shifts, events = (2_000, 200, 300) if args.quick else (10_000, 1_000, 1_000)
        print(format_replan_report(run_replan_bench(workers, shifts, events, args.seed)))
        return
    sizes = [(2_000, 200, 2.0, True)] if args.quick else [(10_000, 1_000, 10.0, True), (50_000, 5_000, 80.0, False)]
    for workers, shifts, limit, sweep in sizes:
        t0 = time.perf_counter()
        rep = run(workers, shifts, args.seed, draws=args.draws, time_limit_s=limit, sweep=sweep)
        print(format_report(rep))
        print(f"(whole benchmark for this size: {time.perf_counter() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
