"""The call-up solver's frontier against the flat "call r × headcount" rule, as one frame for a notebook.

:func:`solver_vs_flat` generates a city day with :mod:`scheduling_solver` (a pure package: no Django), plans it
with the solver at a sweep of shortfall-to-idle cost ratios and with the flat rule at a sweep of ratios, and
simulates attendance with the day's hidden *true* show rates (never the estimates the plans were made with).
Each plan is one point: the share of shifts fully staffed against the people who came and were not needed, per
100 requested. The solver's points trace its frontier; a flat rule below it wastes more call-ups for the same
staffing. ``scheduling_solver`` (OR-Tools) is imported on the first call, not with :mod:`analytics`.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

FLAT_SWEEP = (1.0, 1.2, 1.5, 2.0, 3.0)
SOLVER_SWEEP = (1.0, 2.0, 4.0, 6.0, 10.0, 20.0)


def solver_vs_flat(
    *,
    workers: int = 400,
    shifts: int = 40,
    seed: int = 1,
    draws: int = 400,
    flat_ratios: Sequence[float] = FLAT_SWEEP,
    solver_ratios: Sequence[float] = SOLVER_SWEEP,
    time_limit_s: float = 1.0,
) -> pl.DataFrame:
    """Rows (plan, parameter, fully_staffed, slots_filled, wasted_per_100, calls_per_requested), one per plan.

    ``plan`` is ``"solver"`` (``parameter`` = cost_unfilled / cost_idle) or ``"flat"`` (``parameter`` = the
    call-up ratio r: ceil(r × headcount) best-ranked workers per shift). The day is
    :func:`scheduling_solver.generator.generate_day` (``workers`` × ``shifts``, ``seed``); every plan is scored
    on the same ``draws`` attendance draws.
    """
    from scheduling_solver.bench import assignment_of, flat_plan, simulate
    from scheduling_solver.generator import generate_day
    from scheduling_solver.probability import fit_prior
    from scheduling_solver.solve import solve_with_context

    day = generate_day(workers, shifts, seed)
    prior = fit_prior(((w.shows, w.no_shows) for w in day.instance.workers), day.instance.policy.prior)
    base = day.instance.with_policy(time_limit_s=time_limit_s, seed=seed, prior=prior)
    rows = []
    for ratio in solver_ratios:
        inst = base.with_policy(cost_unfilled=float(ratio), cost_idle=1.0)
        solution, _ = solve_with_context(inst)
        res = simulate(
            inst, assignment_of(inst, solution), day.true_rates, draws=draws, seed=seed + 1, method="solver", wall_s=0
        )
        rows.append(("solver", float(ratio), res))
    for ratio in flat_ratios:
        plan, _ = flat_plan(base, float(ratio))
        res = simulate(base, plan, day.true_rates, draws=draws, seed=seed + 1, method="flat", wall_s=0)
        rows.append(("flat", float(ratio), res))
    return pl.DataFrame(
        {
            "plan": [r[0] for r in rows],
            "parameter": [r[1] for r in rows],
            "fully_staffed": [r[2].fully_staffed for r in rows],
            "slots_filled": [r[2].slots_filled for r in rows],
            "wasted_per_100": [r[2].wasted_per_100 for r in rows],
            "calls_per_requested": [r[2].calls_per_requested for r in rows],
        }
    )
