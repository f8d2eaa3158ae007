"""CP-SAT polishing of the greedy plan.

The exact expected cost of a shift is not linear in the call decisions, so the model uses a convex
piecewise-linear cost in the shift's expected attendance: the exact cost of calling its k likeliest
candidates, k = 0, 1, 2, ..., gives points whose slopes rise (each extra person is worth less), and
the cost variable lies above every chord. The exact figures are recomputed afterwards and the CP-SAT
plan is kept only if it is better by the exact measure.

Cold, CP-SAT loses to the greedy on this problem; with a complete hint and presolve off it starts at
the greedy plan and only improves it. The hint must be complete (every variable, including the cost
variables), or CP-SAT ignores it. Candidate pairs are pruned to the greedy's picks plus the best
eligible by priority and the best eligible idle workers, because pruning by priority alone gives
every shift the same few workers.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from scheduling_solver.greedy import PlanState
from scheduling_solver.problem import Problem

# Extra candidates per shift beyond the greedy's picks.
EXTRA_BY_PRIORITY = 6
EXTRA_IDLE = 6
# A worker appears as an extra in at most this many shifts: the best workers are everybody's extras,
# and their pairwise conflict constraints would otherwise grow quadratically.
MAX_APPEARANCES = 4
# At most this many chords per shift; a subset of points of a convex curve is still convex.
MAX_SEGMENTS = 24
_SCALE = 1000
# CP-SAT's deterministic time on this model runs at about this many units per wall second (measured on
# 10,000 x 1,000 with presolve off: 0.12 units in 5.9 s).
DETERMINISTIC_PER_SECOND = 0.02


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


def _chords(points: list[tuple[float, float]], keep_near: int) -> list[tuple[int, int]]:
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


def polish(problem: Problem, state: PlanState, *, deadline: float, seed: int, budget_s: float) -> PolishResult:
    """Improve the plan in ``state`` with CP-SAT until ``deadline`` (a ``time.perf_counter()`` value).

    ``budget_s`` sets the deterministic-time limit, which is what makes a seed reproduce the plan; the
    wall-clock deadline is only a safety net on a slow or busy machine.
    """
    pol = problem.instance.policy
    terms = [problem.instance.service_terms(sh) for sh in problem.instance.shifts]
    model = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    hint: dict[tuple[int, int], int] = {}
    pruned = False
    fixed = set(problem.fixed)
    idle_flags = [not ws for ws in state.worker_shifts]

    by_shift: list[list[int]] = []
    appearances: dict[int, int] = {}
    for s in range(problem.n_shifts):
        if s % 256 == 0 and time.perf_counter() > deadline:
            # Building the model alone can outlast a small budget on a huge day: give up cleanly.
            return PolishResult(None, False, "NO_TIME")
        chosen = list(state.called[s])
        seen = set(chosen)
        cand, _ = problem.candidates[s], None
        n_rank = n_idle = 0
        for w in cand.tolist():
            if n_rank >= EXTRA_BY_PRIORITY and n_idle >= EXTRA_IDLE:
                pruned = True
                break
            if w in seen or (w, s) in problem.excluded or appearances.get(w, 0) >= MAX_APPEARANCES:
                continue
            if n_rank < EXTRA_BY_PRIORITY:
                chosen.append(w)
                seen.add(w)
                n_rank += 1
            elif idle_flags[w] and n_idle < EXTRA_IDLE:
                chosen.append(w)
                seen.add(w)
                n_idle += 1
        if problem.truncated[s]:
            pruned = True
        by_shift.append(chosen)
        for w in chosen:
            appearances[w] = appearances.get(w, 0) + 1
            x[(w, s)] = model.new_bool_var(f"x_{w}_{s}")
            hint[(w, s)] = 1 if w in state.called_set[s] else 0

    objective_terms: list[cp_model.LinearExprT] = []
    km_of: dict[tuple[int, int], float] = {}
    for s in range(problem.n_shifts):
        cand, km = problem.candidates[s], problem.candidate_km[s]
        lookup = dict(zip(cand.tolist(), km.tolist(), strict=True))
        for w in by_shift[s]:
            km_of[(w, s)] = lookup.get(w, 0.0)

    if time.perf_counter() > deadline:
        return PolishResult(None, False, "NO_TIME")
    p_int = [round(_SCALE * p) for p in problem.p.tolist()]
    cost_hints: list[tuple[cp_model.IntVar, int]] = []
    for s in range(problem.n_shifts):
        chosen = by_shift[s]
        if not chosen:
            continue
        h = int(problem.headcount[s])
        cap = int(problem.cap[s])
        xs = [x[(w, s)] for w in chosen]
        if len(xs) > cap:
            model.add(sum(xs) <= cap)
        # Curve through the greedy's own picks first, so it is exact at the hint and its local slope is
        # the true marginal value there; the extras continue it. Slopes still rise: P(X >= h) only grows.
        key = lambda w: (-problem.p[w], int(problem.priority[w]))  # noqa: E731
        ordered = sorted(state.called[s], key=key) + sorted(chosen[len(state.called[s]) :], key=key)
        cu, pen = terms[s]
        points = cost_curve(
            [float(problem.p[w]) for w in ordered],
            h,
            cu,
            pol.cost_idle,
            min(cap, len(ordered)),
            pen,
        )
        lines = _chords(points, len(state.called[s]))
        upper = _SCALE * math.ceil(cu * h + pen + pol.cost_idle * cap + 1)
        cost = model.new_int_var(0, upper, f"cost_{s}")
        attendance = sum(p_int[w] * x[(w, s)] for w in chosen)
        for a, b in lines:
            model.add(_SCALE * cost >= a * attendance + b)
        m_hint = sum(p_int[w] for w in state.called[s])
        c_hint = max(0, max(-((-(a * m_hint + b)) // _SCALE) for a, b in lines))
        cost_hints.append((cost, min(c_hint, upper)))
        objective_terms.append(cost)
        for w in chosen:
            pen = round(_SCALE * problem.pair_penalty(w, km_of[(w, s)]))
            if pen:
                objective_terms.append(pen * x[(w, s)])
        for w in chosen:
            if (w, s) in fixed:
                model.add(x[(w, s)] == 1)

    # Worker rules: daily limit, and no two shifts that overlap or leave too little rest.
    per_worker: dict[int, list[int]] = {}
    for w, s in x:
        per_worker.setdefault(w, []).append(s)
    for w, shifts in per_worker.items():
        if len(shifts) < 2:
            continue
        limit = int(problem.max_day[w])
        by_day: dict[int, list[int]] = {}
        for s in shifts:
            by_day.setdefault(int(problem.day[s]), []).append(s)
        for day_shifts in by_day.values():
            if len(day_shifts) > limit:
                model.add(sum(x[(w, s)] for s in day_shifts) <= limit)
        for i, s in enumerate(shifts):
            for t in shifts[i + 1 :]:
                if limit == 1 and problem.day[s] == problem.day[t]:
                    continue  # already covered by the daily sum
                if problem.conflicts(s, t):
                    model.add_at_most_one([x[(w, s)], x[(w, t)]])

    if time.perf_counter() > deadline:
        return PolishResult(None, False, "NO_TIME")
    model.minimize(sum(objective_terms))
    for pair, var in x.items():
        model.add_hint(var, hint[pair])
    for var, value in cost_hints:
        model.add_hint(var, value)

    time_limit_s = deadline - time.perf_counter()
    if time_limit_s < 0.05:
        return PolishResult(None, False, "NO_TIME")
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.max_time_in_seconds = max(0.01, time_limit_s)
    # Deterministic: one worker and a deterministic-time limit, so a seed reproduces the plan; the
    # wall-clock limit above is only a safety net on a slow or busy machine.
    params.num_workers = 1
    params.max_deterministic_time = DETERMINISTIC_PER_SECOND * max(0.01, budget_s)
    params.random_seed = seed
    params.cp_model_presolve = False
    params.log_search_progress = False
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return PolishResult(None, False, solver.status_name(status))
    assignment: list[list[int]] = [[] for _ in range(problem.n_shifts)]
    for (w, s), var in x.items():
        if solver.boolean_value(var):
            assignment[s].append(w)
    return PolishResult(assignment, status == cp_model.OPTIMAL and not pruned, solver.status_name(status))


# Instances this small are solved exactly: every shift's call set is one of its enumerated subsets,
# each priced by the exact Poisson-binomial cost, so CP-SAT's optimum is the true optimum.
EXACT_MAX_CANDIDATES = 10
EXACT_MAX_SUBSETS = 20_000
_EXACT_SCALE = 1_000_000


def solve_exactly(problem: Problem, state: PlanState, *, deadline: float, seed: int) -> PolishResult | None:
    """Exact optimum by subset enumeration for tiny instances; None when the instance is too large."""
    from itertools import combinations

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
