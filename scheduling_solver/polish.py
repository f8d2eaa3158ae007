"""CP-SAT pieces: the exact subset model of tiny days, and the cost curve the selection prices with.

The exact expected cost of a shift is not linear in the call decisions. On tiny days every shift's
call set is one of its enumerated subsets, each priced by the exact Poisson-binomial cost, so CP-SAT's
optimum is the true optimum (:func:`solve_exactly`). On larger days the selection
(:mod:`scheduling_solver.select`) prices a shift by chords of :func:`cost_curve`, the exact cost of
calling its first k candidates, k = 0, 1, 2, ...: the points' slopes rise (each extra person is worth
less), so the cost variable lying above every chord is a convex piecewise-linear stand-in.

This module once also polished the greedy plan with one CP-SAT model over the whole day. Measured per
phase (issue 10), it removed nothing on any day type once the exact local search ran after it, so it
was removed; see docs/decisions/0014-solver-phases-account-for-themselves.md.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

from scheduling_solver.greedy import PlanState
from scheduling_solver.problem import Problem

# At most this many chords per shift; a subset of points of a convex curve is still convex.
MAX_SEGMENTS = 24
_SCALE = 1000


@dataclass(frozen=True)
class PolishResult:
    """CP-SAT's plan (None if it found nothing), and whether it proved the surrogate optimal unpruned."""

    assignment: list[list[int]] | None
    proven_optimal: bool
    status_name: str


def cost_curve(
    ps: list[float], headcount: int, cost_unfilled: float, cost_idle: float, upto: int, penalty: float = 0.0
) -> list[tuple[float, float]]:
    """(expected attendance, exact expected cost) after calling the first k of ``ps``, k = 0..upto.

    With a full_first ``penalty`` the curve is no longer convex (the penalty falls steepest near the
    headcount), so the chords are a surrogate only; the exact measure decides whether a plan is kept.
    """
    pmf = np.zeros(headcount + 1)
    pmf[0] = 1.0
    weights = headcount - np.arange(headcount)
    points = [(0.0, cost_unfilled * headcount + penalty)]
    mu = 0.0
    for p in ps[:upto]:
        top = pmf[headcount] + pmf[headcount - 1] * p
        pmf[1:headcount] = pmf[1:headcount] * (1.0 - p) + pmf[0 : headcount - 1] * p
        pmf[0] *= 1.0 - p
        pmf[headcount] = top
        mu += p
        shortfall = float(np.dot(pmf[:headcount], weights))
        below = max(0.0, 1.0 - float(pmf[headcount]))
        points.append((mu, cost_unfilled * shortfall + cost_idle * (mu - headcount + shortfall) + penalty * below))
    return points


def chords(points: list[tuple[float, float]], keep_near: int) -> list[tuple[int, int]]:
    """Integer lines (A, B) with 1000 * C >= A * M + B, M = 1000 * attendance, C = 1000 * cost."""
    n = len(points)
    if n > MAX_SEGMENTS + 1:
        idx = set(np.linspace(0, n - 1, MAX_SEGMENTS + 1).round().astype(int).tolist())
        idx.update(i for i in (keep_near - 1, keep_near, keep_near + 1) if 0 <= i < n)
        chosen = [points[i] for i in sorted(idx)]
    else:
        chosen = points
    lines: list[tuple[int, int]] = []
    for (m0, c0), (m1, c1) in itertools.pairwise(chosen):
        if m1 - m0 < 1e-9:
            continue
        slope = (c1 - c0) / (m1 - m0)
        a = round(_SCALE * slope)
        b = round(_SCALE * _SCALE * c0 - a * _SCALE * m0)
        lines.append((a, b))
    if not lines:
        lines.append((0, round(_SCALE * _SCALE * points[0][1])))
    return lines


# Instances this small are solved exactly: every shift's call set is one of its enumerated subsets,
# each priced by the exact Poisson-binomial cost, so CP-SAT's optimum is the true optimum.
EXACT_MAX_CANDIDATES = 10
EXACT_MAX_SUBSETS = 20_000
_EXACT_SCALE = 1_000_000


def solve_exactly(problem: Problem, state: PlanState, *, deadline: float, seed: int) -> PolishResult | None:
    """Exact optimum by subset enumeration for tiny instances; None when the instance is too large."""
    from itertools import combinations

    # OR-Tools (and the pandas it imports) loads on the first CP-SAT use, not with the package: every Django
    # process imports the solver adapter through its URLs, and most never solve (ADR 0034 addendum).
    from ortools.sat.python import cp_model

    from scheduling_solver.probability import shift_outcome

    pol = problem.instance.policy
    fixed = set(problem.fixed)
    options: list[list[tuple[int, ...]]] = []
    total = 0
    for s in range(problem.n_shifts):
        cand, km = problem.full_candidates(s)
        eligible = [w for w in cand.tolist() if (w, s) not in problem.excluded]
        if len(eligible) > EXACT_MAX_CANDIDATES:
            return None
        must = {w for w, t in fixed if t == s}
        need = problem.instance.shifts[s].min_fill
        # min_fill is exact here: a call set below it is simply not an option.
        subsets = [
            combo
            for k in range(min(int(problem.cap[s]), len(eligible)) + 1)
            for combo in combinations(eligible, k)
            if must <= set(combo) and (need <= 0.0 or float(sum(float(problem.p[w]) for w in combo)) >= need)
        ]
        total += len(subsets)
        if total > EXACT_MAX_SUBSETS:
            return None
        options.append(subsets)

    model = cp_model.CpModel()
    x_terms: dict[tuple[int, int], list[cp_model.IntVar]] = {}
    objective: list[cp_model.LinearExprT] = []
    hints: list[tuple[cp_model.IntVar, int]] = []
    for s, subsets in enumerate(options):
        cand, km = problem.full_candidates(s)
        km_of = dict(zip(cand.tolist(), km.tolist(), strict=True))
        current = set(state.called[s])
        ys: list[cp_model.IntVar] = []
        for combo in subsets:
            y = model.new_bool_var(f"y_{s}_{len(ys)}")
            ys.append(y)
            cu, pen = problem.instance.service_terms(problem.instance.shifts[s])
            out = shift_outcome(problem.p[list(combo)], int(problem.headcount[s]), cu, pol.cost_idle, pen)
            cost = out.expected_cost + sum(problem.pair_penalty(w, km_of[w]) for w in combo)
            objective.append(round(_EXACT_SCALE * cost) * y)
            hints.append((y, int(set(combo) == current)))
            for w in combo:
                x_terms.setdefault((w, s), []).append(y)
        model.add_exactly_one(ys)
    per_worker: dict[int, list[int]] = {}
    for w, s in x_terms:
        per_worker.setdefault(w, []).append(s)
    for w, shifts in per_worker.items():
        by_day: dict[int, list[int]] = {}
        for s in shifts:
            by_day.setdefault(int(problem.day[s]), []).append(s)
        for day_shifts in by_day.values():
            if len(day_shifts) > int(problem.max_day[w]):
                model.add(sum(y for s in day_shifts for y in x_terms[(w, s)]) <= int(problem.max_day[w]))
        for i, s in enumerate(shifts):
            for t in shifts[i + 1 :]:
                if problem.conflicts(s, t):
                    model.add(sum(x_terms[(w, s)]) + sum(x_terms[(w, t)]) <= 1)
    model.minimize(sum(objective))
    for y, v in hints:
        model.add_hint(y, v)
    solver = cp_model.CpSolver()
    limit = max(0.05, deadline - time.perf_counter())
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.max_deterministic_time = limit
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return PolishResult(None, False, solver.status_name(status))
    assignment: list[list[int]] = [[] for _ in range(problem.n_shifts)]
    for (w, s), ys in x_terms.items():
        if any(solver.boolean_value(y) for y in ys):
            assignment[s].append(w)
    return PolishResult(assignment, status == cp_model.OPTIMAL, solver.status_name(status))
