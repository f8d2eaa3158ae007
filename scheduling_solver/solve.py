"""Plan a city day: marginal-gain construction, then CP-SAT polishing from a complete hint."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from scheduling_solver.greedy import PlanState, greedy_fill, standby_lists
from scheduling_solver.polish import polish
from scheduling_solver.probability import shift_outcome
from scheduling_solver.problem import Problem, build_problem
from scheduling_solver.schemas import Instance, ShiftPlan, Solution, Totals

# Wall time kept back from the CP-SAT budget for standby lists and exact figures afterwards.
_RESERVE_S = 0.15
_RESERVE_PER_SHIFT_S = 0.0004


@dataclass
class SolveContext:
    """What a re-plan can reuse from the solve that came before it (eligibility is the costly part)."""

    problem: Problem
    state: PlanState


def fixed_conflicts(problem: Problem, state: PlanState) -> list[str]:
    """Place every accepted (fixed) call in ``state``; return the reasons the instance is contradictory."""
    reasons: list[str] = []
    wid, sid = problem.worker_ids, problem.shift_ids
    for w, s in problem.fixed:
        if (w, s) in problem.excluded:
            reasons.append(f"{wid[w]} has {sid[s]} both fixed and excluded")
        elif not problem.is_eligible(w, s):
            reasons.append(
                f"{wid[w]} is fixed to {sid[s]} but lacks a skill, an availability window "
                f"or is beyond max_travel_km"
            )
        elif not state.can_take(w, s):
            reasons.append(
                f"{wid[w]} is fixed to {sid[s]} and to another shift that overlaps it, leaves too "
                f"little rest or exceeds max_shifts_per_day"
            )
        elif len(state.called[s]) >= state.cap[s]:
            reasons.append(f"{sid[s]} has more fixed workers than its call cap {state.cap[s]}")
        else:
            state.add(w, s)
    return reasons


def objective_of(problem: Problem, assignment: Sequence[Sequence[int]]) -> tuple[float, float]:
    """(exact expected cost, expected cost plus rank and distance terms) of an assignment."""
    pol = problem.instance.policy
    cost = 0.0
    extra = 0.0
    for s, called in enumerate(assignment):
        if not called:
            cost += pol.cost_unfilled * int(problem.headcount[s])
            continue
        out = shift_outcome(
            problem.p[list(called)], int(problem.headcount[s]), pol.cost_unfilled, pol.cost_idle
        )
        cost += out.expected_cost
        cand, km = problem.candidates[s], problem.candidate_km[s]
        pos = {int(w): float(k) for w, k in zip(cand.tolist(), km.tolist(), strict=True)}
        for w in called:
            extra += problem.pair_penalty(w, pos[w] if w in pos else _distance(problem, w, s))
    return cost, cost + extra


def _distance(problem: Problem, w: int, s: int) -> float:
    cand, km = problem.full_candidates(s)
    hit = (cand == w).nonzero()[0]
    return float(km[hit[0]]) if len(hit) else 0.0


def build_solution(
    problem: Problem, state: PlanState, status: str, t0: float, standby: dict[int, list[int]]
) -> Solution:
    """Exact per-shift figures for the plan in ``state``."""
    pol = problem.instance.policy
    plans: dict[str, ShiftPlan] = {}
    total_cost = 0.0
    fills = 0.0
    n_called = 0
    assignment = state.assignment()
    for s, called in enumerate(assignment):
        out = shift_outcome(
            problem.p[called] if called else [], int(problem.headcount[s]), pol.cost_unfilled, pol.cost_idle
        )
        plans[problem.shift_ids[s]] = ShiftPlan(
            called=tuple(problem.worker_ids[w] for w in called),
            standby=tuple(problem.worker_ids[w] for w in standby.get(s, [])),
            expected_attendance=out.expected_attendance,
            fill_probability=out.fill_probability,
            expected_cost=out.expected_cost,
        )
        total_cost += out.expected_cost
        fills += out.fill_probability
        n_called += len(called)
    _, objective = objective_of(problem, assignment)
    n = max(1, problem.n_shifts)
    return Solution(
        status=status,
        wall_s=time.perf_counter() - t0,
        shifts=plans,
        totals=Totals(
            called=n_called,
            expected_cost=total_cost,
            mean_fill_probability=fills / n if problem.n_shifts else 1.0,
            objective=objective,
        ),
    )


def infeasible_solution(reasons: list[str], t0: float) -> Solution:
    """The answer for a contradictory instance."""
    return Solution(
        status="infeasible",
        wall_s=time.perf_counter() - t0,
        shifts={},
        totals=Totals(called=0, expected_cost=0.0, mean_fill_probability=0.0),
        reasons=tuple(reasons),
    )


def solve_with_context(
    instance: Instance, *, polish_enabled: bool = True
) -> tuple[Solution, SolveContext | None]:
    """Solve and also return the context a later :func:`scheduling_solver.replan.replan` can reuse."""
    t0 = time.perf_counter()
    pol = instance.policy
    problem = build_problem(instance)
    state = PlanState(problem)
    reasons = fixed_conflicts(problem, state)
    if reasons:
        return infeasible_solution(reasons, t0), None
    greedy_fill(state)
    status = "feasible"
    budget = (
        pol.time_limit_s - (time.perf_counter() - t0) - _RESERVE_S - _RESERVE_PER_SHIFT_S * problem.n_shifts
    )
    if polish_enabled and budget > 0.05 and problem.n_shifts:
        result = polish(problem, state, time_limit_s=budget, seed=pol.seed)
        if result.assignment is not None:
            _, old = objective_of(problem, state.assignment())
            _, new = objective_of(problem, result.assignment)
            if new < old - 1e-9:
                state = _state_from(problem, result.assignment)
            if result.proven_optimal and new <= old + 1e-9:
                status = "optimal"
    standby = standby_lists(state, pol.standby_size)
    return build_solution(problem, state, status, t0, standby), SolveContext(problem, state)


def _state_from(problem: Problem, assignment: Sequence[Sequence[int]]) -> PlanState:
    state = PlanState(problem)
    for w, s in problem.fixed:
        state.add(w, s)
    fixed = set(problem.fixed)
    for s, called in enumerate(assignment):
        for w in called:
            if (w, s) not in fixed:
                state.add(w, s)
    return state


def solve(instance: Instance) -> Solution:
    """Plan which workers to call for which shift, minimising expected cost plus rank and distance terms.

    Deterministic for a given ``policy.seed``; returns the best plan found within ``policy.time_limit_s``;
    ``infeasible`` only when fixed assignments contradict the hard rules.
    """
    return solve_with_context(instance)[0]
