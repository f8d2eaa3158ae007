"""CP-SAT selection of the shifts to staff fully on short days.

A ``full_first`` shift is charged its penalty times P(X < headcount). That term falls steeply only
near the headcount, so a marginal-gain greedy, the convex surrogate of the polish and one-worker
local-search moves all leave shifts a little short of full: completing one shift means taking
several workers from others at once. Deciding which shifts to complete and which to leave short is a
combinatorial selection, which is where CP-SAT earns its place, on models small enough to solve.

So the day is cut into neighbourhoods: groups of shifts that compete for the same workers (same
required skills, nearby start times). For each, the calls of its shifts are freed and CP-SAT
re-chooses them over the group's current workers plus the next eligible workers by priority, with
everything outside the group held as it is (a worker's other calls count against their daily limit
and rest). Each shift is priced in two parts:

* the convex part (``cost_unfilled`` per expected empty place, ``cost_idle`` per idle worker) as chords
  of the exact cost curve in expected attendance, as in :mod:`scheduling_solver.polish`;
* for ``full_first`` shifts, the penalty as a staircase: Boolean levels ``z_l`` (``z_l`` implies
  ``z_{l-1}``), each enforcing an expected-attendance target (that of the shift's ``k_l`` likeliest
  candidates) and each earning back ``penalty x (q_l - q_{l-1})``, ``q_l`` the exact fill probability of
  those ``k_l`` workers. ``z_1`` is the "staff fully" decision.

The current calls are a complete hint. A neighbourhood's new calls are kept only when they lower the
exact expected cost (plus rank and distance terms) of its shifts, so the plan never gets worse.
Work is bounded by a count of neighbourhoods and CP-SAT deterministic time (a seed reproduces the
plan), with the wall deadline as a safety net.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scheduling_solver.greedy import PlanState
from scheduling_solver.polish import chords, cost_curve
from scheduling_solver.probability import shift_outcome
from scheduling_solver.problem import Problem

# Shifts per neighbourhood; a second pass uses groups shifted by half, so neighbours meet twice.
GROUP_SIZE = 10
# Candidates per shift beyond its current calls: the next eligible workers by priority, busy or not.
EXTRA_CANDIDATES = 4
# Staircase levels per full_first shift (call counts from the headcount up to the cap).
MAX_LEVELS = 5
# CP-SAT deterministic time per neighbourhood.
DETERMINISTIC_PER_GROUP = 0.2
# Neighbourhoods solved per second of ``policy.time_limit_s`` given to this phase (on one core).
GROUPS_PER_SECOND = 20
# A group whose expected full_first penalty is below this is left alone.
MIN_POTENTIAL = 1e-3
_SCALE = 1000
_EPS = 1e-9


@dataclass(frozen=True)
class SelectionStats:
    """What the selection did: neighbourhoods solved, of which improved, and shifts now likelier full."""

    groups: int
    improved: int


def wants_selection(problem: Problem) -> bool:
    """True when some shift is ``full_first`` with a positive penalty: otherwise there is nothing to
    select and the phase is skipped."""
    inst = problem.instance
    return any(sh.policy == "full_first" and inst.service_terms(sh)[1] > 0.0 for sh in inst.shifts)


def levels(ps: Sequence[float], headcount: int, cap: int, keep: int) -> list[tuple[int, float]]:
    """(call count k, exact fill probability of the first k of ``ps``) for up to MAX_LEVELS counts
    from ``headcount`` to ``min(cap, len(ps))``, always including ``keep - 1 .. keep + 1`` (the current
    call count), so the staircase is exact at the current plan."""
    top = min(cap, len(ps))
    if top < headcount:
        return []
    ks = set(range(headcount, top + 1))
    if len(ks) > MAX_LEVELS:
        ks = set(np.linspace(headcount, top, MAX_LEVELS).round().astype(int).tolist())
        ks.update(k for k in (keep - 1, keep, keep + 1) if headcount <= k <= top)
    pmf = np.zeros(headcount + 1)
    pmf[0] = 1.0
    fills: list[float] = []
    for p in ps[:top]:
        tail = pmf[headcount] + pmf[headcount - 1] * p
        pmf[1:headcount] = pmf[1:headcount] * (1.0 - p) + pmf[0 : headcount - 1] * p
        pmf[0] *= 1.0 - p
        pmf[headcount] = tail
        fills.append(float(tail))
    return [(k, fills[k - 1]) for k in sorted(ks)]


def neighbourhoods(problem: Problem) -> list[list[int]]:
    """Groups of shifts that compete for the same workers: sorted by required skills then start, cut
    into runs of GROUP_SIZE, then the same runs shifted by half a group."""
    shifts = problem.instance.shifts
    order = sorted(range(problem.n_shifts), key=lambda s: (tuple(sorted(shifts[s].skills)), problem.start[s], s))
    first = [order[i : i + GROUP_SIZE] for i in range(0, len(order), GROUP_SIZE)]
    half = GROUP_SIZE // 2
    second = [order[i : i + GROUP_SIZE] for i in range(half, len(order), GROUP_SIZE)] if half else []
    return [g for g in first + second if g]


def exact_cost(problem: Problem, s: int, ws: Sequence[int], pair: dict[tuple[int, int], float]) -> float:
    """Exact expected cost of calling ``ws`` for shift ``s``, plus their rank and distance terms."""
    inst = problem.instance
    cu, pen = inst.service_terms(inst.shifts[s])
    out = shift_outcome(problem.p[list(ws)], int(problem.headcount[s]), cu, inst.policy.cost_idle, pen)
    return out.expected_cost + sum(pair[(w, s)] for w in ws)


def select(state: PlanState, *, max_groups: int, deadline: float, seed: int) -> SelectionStats:
    """Re-choose the calls of each neighbourhood with CP-SAT, keeping what lowers the exact cost.

    Changes ``state`` in place; at most ``max_groups`` neighbourhoods, stopping at ``deadline`` (a
    ``time.perf_counter()`` value) if the machine is slow.
    """
    problem = state.problem
    # Where the penalty is, first: a group whose full_first shifts are all sure to be full, or that has
    # none, has nothing to select. Ties keep the neighbourhood order, so the plan is reproducible.
    pen = state.pen_np
    fill = state.fill_np
    potential = [float(sum(pen[s] * (1.0 - fill[s]) for s in g)) for g in neighbourhoods(problem)]
    ranked = sorted(range(len(potential)), key=lambda i: -potential[i])
    groups = [neighbourhoods(problem)[i] for i in ranked if potential[i] > MIN_POTENTIAL]
    solved = improved = 0
    for group in groups:
        if solved >= max_groups or time.perf_counter() >= deadline:
            break
        solved += 1
        if _improve_group(state, group, deadline=deadline, seed=seed):
            improved += 1
    return SelectionStats(solved, improved)


def _improve_group(state: PlanState, group: list[int], *, deadline: float, seed: int) -> bool:
    # OR-Tools (and the pandas it imports) loads on the first CP-SAT use, not with the package: every Django
    # process imports the solver adapter through its URLs, and most never solve (ADR 0034 addendum).
    from ortools.sat.python import cp_model

    problem = state.problem
    inst = problem.instance
    pol = inst.policy
    members = set(group)
    fixed = set(problem.fixed)
    dw = pol.distance_weight

    # Load outside the group: per worker and day, how many calls; and the shifts themselves.
    def outside(w: int) -> list[int]:
        return [t for t in state.worker_shifts[w] if t not in members]

    def usable(w: int, s: int) -> bool:
        rest = outside(w)
        same_day = sum(1 for t in rest if problem.day[t] == problem.day[s])
        if same_day >= int(problem.max_day[w]):
            return False
        return not any(problem.conflicts(s, t) for t in rest)

    model = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    hints: list[tuple[cp_model.IntVar, int]] = []
    by_shift: dict[int, list[int]] = {}
    pair: dict[tuple[int, int], float] = {}
    for s in group:
        chosen = list(state.called[s])
        seen = set(chosen)
        extra = 0
        cand, km = problem.candidates[s], problem.candidate_km[s]
        lookup = dict(zip(cand.tolist(), km.tolist(), strict=True))
        for w in cand.tolist():
            if extra >= EXTRA_CANDIDATES:
                break
            if w in seen or (w, s) in problem.excluded or not usable(w, s):
                continue
            chosen.append(w)
            seen.add(w)
            extra += 1
        by_shift[s] = chosen
        for w in chosen:
            var = model.new_bool_var(f"x_{w}_{s}")
            x[(w, s)] = var
            hints.append((var, 1 if w in state.called_set[s] else 0))
            if (w, s) in fixed:
                model.add(var == 1)
            km_ws = lookup.get(w)
            if km_ws is None:
                km_ws = problem.distance_if_eligible(w, s) or 0.0
            pair[(w, s)] = float(problem.rank_penalty[w]) + dw * km_ws

    objective: list[cp_model.LinearExprT] = []
    for s in group:
        chosen = by_shift[s]
        if not chosen:
            continue
        h = int(problem.headcount[s])
        cap = int(problem.cap[s])
        cu, pen = inst.service_terms(inst.shifts[s])
        pi = {w: round(_SCALE * float(problem.p[w])) for w in chosen}
        xs = [x[(w, s)] for w in chosen]
        if len(xs) > cap:
            model.add(sum(xs) <= cap)
        need = inst.shifts[s].min_fill
        if need > 0.0:
            # Attendance rounded down: a plan meeting the bound here meets it exactly.
            floor = sum(math.floor(_SCALE * float(problem.p[w])) * x[(w, s)] for w in chosen)
            model.add(floor >= math.ceil(_SCALE * need))
        attendance = sum(pi[w] * x[(w, s)] for w in chosen)
        m_hint = sum(pi[w] for w in state.called[s])

        key = lambda w: (-problem.p[w], int(problem.priority[w]))  # noqa: E731
        ordered = sorted(state.called[s], key=key) + sorted(chosen[len(state.called[s]) :], key=key)
        points = cost_curve([float(problem.p[w]) for w in ordered], h, cu, pol.cost_idle, min(cap, len(ordered)))
        lines = chords(points, len(state.called[s]))
        upper = _SCALE * math.ceil(cu * h + pol.cost_idle * cap + 1)
        cost = model.new_int_var(0, upper, f"cost_{s}")
        for a, b in lines:
            model.add(_SCALE * cost >= a * attendance + b)
        c_hint = max(0, max(-((-(a * m_hint + b)) // _SCALE) for a, b in lines))
        hints.append((cost, min(c_hint, upper)))
        objective.append(cost)

        if pen > 0.0:
            # Along the same order as the convex part: the current calls first, so it is exact there.
            prev_q = 0.0
            prev_z: cp_model.IntVar | None = None
            prev_hint = 1
            n_now = len(state.called[s])
            for level, (k, q) in enumerate(levels([float(problem.p[w]) for w in ordered], h, cap, n_now)):
                target = sum(pi[w] for w in ordered[:k])
                z = model.new_bool_var(f"z_{s}_{level}")
                model.add(attendance >= target).only_enforce_if(z)
                if prev_z is not None:
                    model.add_implication(z, prev_z)
                gain = round(_SCALE * pen * (q - prev_q))
                if gain:
                    objective.append(-gain * z)
                prev_hint = int(prev_hint == 1 and m_hint >= target)
                hints.append((z, prev_hint))
                prev_q, prev_z = q, z
        for w in chosen:
            c = round(_SCALE * pair[(w, s)])
            if c:
                objective.append(c * x[(w, s)])

    # Worker rules inside the group, with the calls outside it taken off each daily limit.
    per_worker: dict[int, list[int]] = {}
    for w, s in x:
        per_worker.setdefault(w, []).append(s)
    for w, shifts in per_worker.items():
        if len(shifts) < 2:
            continue
        rest = outside(w)
        by_day: dict[int, list[int]] = {}
        for s in shifts:
            by_day.setdefault(int(problem.day[s]), []).append(s)
        for d, day_shifts in by_day.items():
            limit = int(problem.max_day[w]) - sum(1 for t in rest if problem.day[t] == d)
            if len(day_shifts) > limit:
                model.add(sum(x[(w, s)] for s in day_shifts) <= limit)
        for i, s in enumerate(shifts):
            for t in shifts[i + 1 :]:
                if problem.conflicts(s, t):
                    model.add_at_most_one([x[(w, s)], x[(w, t)]])

    model.minimize(sum(objective))
    for var, value in hints:
        model.add_hint(var, value)
    limit_s = deadline - time.perf_counter()
    if limit_s < 0.01:
        return False
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.max_time_in_seconds = limit_s
    # One worker and a deterministic-time limit: a seed reproduces the plan.
    params.num_workers = 1
    params.max_deterministic_time = DETERMINISTIC_PER_GROUP
    params.random_seed = seed
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False
    new = {s: [w for w in by_shift[s] if solver.boolean_value(x[(w, s)])] for s in group}
    if all(set(new[s]) == state.called_set[s] for s in group):
        return False
    for s in group:
        need = inst.shifts[s].min_fill
        if need > 0.0 and float(sum(float(problem.p[w]) for w in new[s])) < need:
            return False
    before = sum(exact_cost(problem, s, state.called[s], pair) for s in group)
    after = sum(exact_cost(problem, s, new[s], pair) for s in group)
    if after >= before - _EPS:
        return False
    for s in group:
        for w in list(state.called[s]):
            if w not in new[s]:
                state.remove(w, s)
    for s in group:
        for w in new[s]:
            if w not in state.called_set[s]:
                state.add(w, s)
    return True
