"""Reliability benchmark: the decayed Beta posterior (the staffing app's reliability score) against the raw
show ratio on simulated pools, per half-life, with the calibration table per decile.

    python benchmarks/reliability_bench.py               # 20,000 workers, seeds 1-5
    python benchmarks/reliability_bench.py --workers 5000 --seeds 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from scheduling_solver.reliability_study import (
    brier_score,
    calibration_table,
    format_calibration,
    predict_posterior,
    predict_raw_ratio,
    simulate_pool,
)

HALF_LIVES = (30.0, 90.0, 180.0, 365.0, float("inf"))


def main() -> None:
    """Print Brier scores per seed and half-life, then the calibration tables of the default setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--half-life", type=float, default=180.0, help="the setting whose tables are printed")
    args = parser.parse_args()
    header = "seed  oracle  raw_ratio  " + "  ".join(f"hl={h:g}d".rjust(9) for h in HALF_LIVES)
    print(f"Brier score on each worker's next call ({args.workers} workers; lower is better)")
    print(header)
    totals: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    for seed in range(1, args.seeds + 1):
        pool = simulate_pool(args.workers, seed)
        figures = {
            "oracle": brier_score(pool.true_rate, pool.next_came),
            "raw": brier_score(predict_raw_ratio(pool), pool.next_came),
        }
        for h in HALF_LIVES:
            # An infinite half-life is "no decay": every call counts alike.
            predicted, _ = predict_posterior(pool, h if np.isfinite(h) else 1e12)
            figures[f"{h:g}"] = brier_score(predicted, pool.next_came)
        for key, value in figures.items():
            totals.setdefault(key, []).append(value)
        cells = "  ".join(f"{figures[f'{h:g}']:>9.4f}" for h in HALF_LIVES)
        print(f"{seed:>4}  {figures['oracle']:.4f}  {figures['raw']:>9.4f}  {cells}")
    mean = {k: float(np.mean(v)) for k, v in totals.items()}
    cells = "  ".join(f"{mean[f'{h:g}']:>9.4f}" for h in HALF_LIVES)
    print(f"mean  {mean['oracle']:.4f}  {mean['raw']:>9.4f}  {cells}")
    best = mean[f"{args.half_life:g}"]
    print(
        f"\nposterior (half-life {args.half_life:g} d) vs raw ratio: {best:.4f} vs {mean['raw']:.4f} "
        f"({(mean['raw'] - best) / mean['raw']:.1%} lower); the oracle (true rates) scores {mean['oracle']:.4f}"
    )

    pool = simulate_pool(args.workers, 1)
    predicted, prior = predict_posterior(pool, args.half_life)
    rows = calibration_table(predicted, pool.next_came)
    print(f"\nCalibration, posterior, half-life {args.half_life:g} d, seed 1, fitted prior Beta{prior}:")
    print(format_calibration(rows))
    print(f"largest gap {max(abs(r.observed - r.predicted) for r in rows):.3f}")
    raw_rows = calibration_table(predict_raw_ratio(pool), pool.next_came)
    print("\nCalibration, raw show ratio (baseline), seed 1:")
    print(format_calibration(raw_rows))
    print(f"largest gap {max(abs(r.observed - r.predicted) for r in raw_rows):.3f}")
    print(f"\n(whole benchmark: {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
