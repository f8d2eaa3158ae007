"""Plan a city day.

1. Eligibility by numpy over spatial grid cells (:mod:`scheduling_solver.problem`).
2. Accepted (fixed) calls are placed first; if they break a hard rule the day is ``infeasible``. Then
   every shift's ``min_fill`` is reached with its likeliest free workers, or the day is ``infeasible``.
3. Marginal-gain construction (:mod:`scheduling_solver.greedy`). Every phase prices a shift with its
   priority and its ``full_first`` penalty (:meth:`scheduling_solver.schemas.Instance.service_terms`).
4. Tiny days: CP-SAT over enumerated call sets priced exactly, so ``optimal`` is a real proof.
   Other days: an exact local search; then, when some shift is ``full_first``, the CP-SAT selection of
   the shifts to staff fully (:mod:`scheduling_solver.select`) and the local search again.
5. Standby lists and exact figures (Poisson-binomial) for every shift.

Each phase is timed and priced: ``Solution.phases`` says how much of the objective it removed.

Everything after step 3 is bounded by deterministic budgets derived from ``policy.time_limit_s`` (so a
seed reproduces the plan) with the wall clock as a safety net.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from scheduling_solver.greedy import PlanState, construct, reach_min_fill, standby_lists
from scheduling_solver.local_search import improve
from scheduling_solver.polish import PolishResult, solve_exactly
from scheduling_solver.probability import shift_outcome
from scheduling_solver.problem import Problem, build_problem
from scheduling_solver.schemas import Instance, Phase, ShiftPlan, Solution, Totals
from scheduling_solver.select import GROUPS_PER_SECOND, select, wants_selection

if TYPE_CHECKING:
    from scheduling_solver.incremental import LivePlan

# Wall time kept back from the CP-SAT budget for standby lists and exact figures afterwards.
_RESERVE_S = 0.3
_RESERVE_PER_SHIFT_S = 0.0008
# Share of the budget counted out to the exact local search (in visits); the CP-SAT selection of
# full_first shifts, when there are any, gets the rest (in neighbourhoods). The local search runs
# first and usually converges long before its share; the wall deadline only cuts in on a busy machine.
LOCAL_SEARCH_SHARE = 0.8
# Local-search work is counted in shift visits, not seconds, so a seed reproduces the same plan; this
# rate is what one core manages, and the wall deadline only cuts in on an overloaded machine.
VISITS_PER_SECOND = 2000


@dataclass
class SolveContext:
    """What a re-plan can reuse from the solve that came before it (eligibility is the costly part)."""

    problem: Problem
    state: PlanState
    # The event-by-event plan of :func:`scheduling_solver.replan.replan_one`, made on its first event.
    live: LivePlan | None = None


def fixed_conflicts(problem: Problem, state: PlanState) -> list[str]:
    """Place every accepted (fixed) call in ``state``; return the reasons the instance is contradictory."""
    reasons: list[str] = []
    wid, sid = problem.worker_ids, problem.shift_ids
    for w, s in problem.fixed:
        if (w, s) in problem.excluded:
            reasons.append(f"{wid[w]} has {sid[s]} both fixed and excluded")
        elif not problem.is_eligible(w, s):
            reasons.append(
                f"{wid[w]} is fixed to {sid[s]} but lacks a skill, an availability window or is beyond max_travel_km"
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
    inst = problem.instance
    pol = inst.policy
    cost = 0.0
    extra = 0.0
    for s, called in enumerate(assignment):
        cu, pen = inst.service_terms(inst.shifts[s])
        if not called:
            cost += cu * int(problem.headcount[s]) + pen
            continue
        ws = np.asarray(called, dtype=np.int64)
        out = shift_outcome(problem.p[ws], int(problem.headcount[s]), cu, pol.cost_idle, pen)
        cost += out.expected_cost
        extra += float(problem.rank_penalty[ws].sum()) + pol.distance_weight * float(distances(problem, s, ws).sum())
    return cost, cost + extra


def distances(problem: Problem, s: int, ws: np.ndarray) -> np.ndarray:
    """Km from shift ``s`` to each of the eligible workers ``ws``, looked up in its candidate list."""
    cand, km = problem.candidates[s], problem.candidate_km[s]
    if len(cand) == 0:
        return np.zeros(len(ws))
    # Candidate lists are sorted by priority, so a binary search on priority finds each worker.
    pos = np.minimum(np.searchsorted(problem.priority[cand], problem.priority[ws]), len(cand) - 1)
    found = cand[pos] == ws
    out = np.where(found, km[pos], 0.0)
    for i in np.flatnonzero(~found).tolist():
        # Fixed workers may sit beyond a truncated list.
        out[i] = problem.distance_if_eligible(int(ws[i]), s) or 0.0
    return out


def build_solution(
    problem: Problem, state: PlanState, status: str, t0: float, standby: dict[int, list[int]]
) -> Solution:
    """Exact per-shift figures for the plan in ``state``."""
    inst = problem.instance
    pol = inst.policy
    plans: dict[str, ShiftPlan] = {}
    total_cost = 0.0
    extra = 0.0
    fills = 0.0
    n_called = 0
    for s, called in enumerate(state.assignment()):
        ws = np.asarray(called, dtype=np.int64)
        cu, pen = inst.service_terms(inst.shifts[s])
        out = shift_outcome(problem.p[ws], int(problem.headcount[s]), cu, pol.cost_idle, pen)
        plans[problem.shift_ids[s]] = ShiftPlan(
            called=tuple(problem.worker_ids[w] for w in called),
            standby=tuple(problem.worker_ids[w] for w in standby.get(s, [])),
            expected_attendance=out.expected_attendance,
            fill_probability=out.fill_probability,
            expected_cost=out.expected_cost,
        )
        total_cost += out.expected_cost
        if called:
            extra += float(problem.rank_penalty[ws].sum())
            extra += pol.distance_weight * float(distances(problem, s, ws).sum())
        fills += out.fill_probability
        n_called += len(called)
    return Solution(
        status=status,
        wall_s=time.perf_counter() - t0,
        shifts=plans,
        totals=Totals(
            called=n_called,
            expected_cost=total_cost,
            mean_fill_probability=fills / problem.n_shifts if problem.n_shifts else 1.0,
            objective=total_cost + extra,
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


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a big day allocates millions of small tuples and lists, and
    collection passes over them cost more than the solve itself. Nothing here creates cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def solve_with_context(
    instance: Instance, *, polish_enabled: bool = True, selection_enabled: bool = True
) -> tuple[Solution, SolveContext | None]:
    """Solve and also return the context a later :func:`scheduling_solver.replan.replan` can reuse.

    ``polish_enabled=False`` stops after the greedy (the benchmark's greedy-only plan: no exact model,
    local search or selection);
    ``selection_enabled=False`` skips the CP-SAT selection of full_first shifts (to measure it).
    """
    with gc_paused():
        return _solve(instance, polish_enabled=polish_enabled, selection_enabled=selection_enabled)


class _PhaseLog:
    """Times each phase and prices the plan at its end, so every phase accounts for what it removed.

    Shift values are cached by call set, so a boundary re-prices only the shifts the phase changed
    (a local search touches a few of ten thousand); the sum is taken in shift order every time.
    """

    def __init__(self, problem: Problem, state: PlanState) -> None:
        self.problem = problem
        self.phases: list[Phase] = []
        self.keys: list[frozenset[int] | None] = [None] * problem.n_shifts
        self.values = [0.0] * problem.n_shifts
        self.value = self._price(state)
        self.t = time.perf_counter()

    def _price(self, state: PlanState) -> float:
        problem = self.problem
        for s in range(problem.n_shifts):
            key = frozenset(state.called_set[s])
            if key != self.keys[s]:
                self.keys[s] = key
                self.values[s] = shift_value(problem, s, sorted(key, key=lambda w: int(problem.priority[w])))
        return float(sum(self.values))

    def start(self) -> None:
        """Start timing the next phase (time spent between phases belongs to none of them)."""
        self.t = time.perf_counter()

    def done(self, name: str, state: PlanState) -> None:
        """Close phase ``name`` with the plan it leaves in ``state``."""
        wall = time.perf_counter() - self.t
        value = self._price(state)
        # Phases only adopt better plans; the clamp absorbs float summation order.
        self.phases.append(Phase(name, wall, max(0.0, self.value - value)))
        self.value = value
        self.t = time.perf_counter()


def shift_value(problem: Problem, s: int, called: Sequence[int]) -> float:
    """Exact expected cost of one shift's calls plus their rank and distance terms."""
    inst = problem.instance
    pol = inst.policy
    cu, pen = inst.service_terms(inst.shifts[s])
    if not called:
        return cu * int(problem.headcount[s]) + pen
    ws = np.asarray(called, dtype=np.int64)
    out = shift_outcome(problem.p[ws], int(problem.headcount[s]), cu, pol.cost_idle, pen)
    pairs = float(problem.rank_penalty[ws].sum()) + pol.distance_weight * float(distances(problem, s, ws).sum())
    return out.expected_cost + pairs


def _solve(
    instance: Instance, *, polish_enabled: bool, selection_enabled: bool
) -> tuple[Solution, SolveContext | None]:
    t0 = time.perf_counter()
    pol = instance.policy
    problem = build_problem(instance)
    state = PlanState(problem)
    reasons = fixed_conflicts(problem, state) or reach_min_fill(state)
    if reasons:
        return infeasible_solution(reasons, t0), None
    log = _PhaseLog(problem, state)
    construct(state)
    log.done("greedy", state)
    status = "feasible"
    deadline = t0 + pol.time_limit_s - _RESERVE_S - _RESERVE_PER_SHIFT_S * problem.n_shifts
    if polish_enabled and deadline - time.perf_counter() > 0.05 and problem.n_shifts:
        exact = solve_exactly(problem, state, deadline=deadline, seed=pol.seed)
        if exact is not None:
            state, at_least_as_good = _adopt(problem, state, exact)
            if exact.proven_optimal and at_least_as_good:
                # The subset model prices every call set exactly, so its optimum is the true optimum.
                status = "optimal"
            log.done("exact", state)
        else:
            # The visit budget follows from the policy alone, so a seed reproduces the plan.
            visits = int(VISITS_PER_SECOND * pol.time_limit_s * LOCAL_SEARCH_SHARE) + problem.n_shifts
            log.start()
            improve(state, max_visits=visits, deadline=deadline)
            log.done("local_search", state)
            if selection_enabled and wants_selection(problem):
                # full_first shifts: CP-SAT re-chooses which to staff fully, neighbourhood by
                # neighbourhood (moves of several workers at once); the local search then settles the
                # margins around what changed.
                groups = max(1, int(GROUPS_PER_SECOND * pol.time_limit_s * (1 - LOCAL_SEARCH_SHARE)))
                stats = select(state, max_groups=groups, deadline=deadline, seed=pol.seed)
                log.done("selection", state)
                if stats.improved:
                    improve(state, max_visits=visits, deadline=deadline)
                    log.done("local_search", state)
    standby = standby_lists(state, pol.standby_size)
    solution = build_solution(problem, state, status, t0, standby)
    return replace(solution, phases=tuple(log.phases)), SolveContext(problem, state)


def _adopt(problem: Problem, state: PlanState, result: PolishResult) -> tuple[PlanState, bool]:
    """Keep CP-SAT's plan if it is better by the exact measure; also say whether it is at least as good."""
    if result.assignment is None or not meets_min_fill(problem, result.assignment):
        return state, False
    if all(set(a) == b for a, b in zip(result.assignment, state.called_set, strict=True)):
        return state, True
    _, old = objective_of(problem, state.assignment())
    _, new = objective_of(problem, result.assignment)
    if new < old - 1e-9:
        return _state_from(problem, result.assignment), True
    return state, new <= old + 1e-9


def meets_min_fill(problem: Problem, assignment: Sequence[Sequence[int]]) -> bool:
    """True when every shift's expected attendance reaches its ``min_fill`` (CP-SAT's surrogate rounds
    show probabilities, so its plans are checked here rather than trusted)."""
    for s, called in enumerate(assignment):
        need = problem.instance.shifts[s].min_fill
        if need > 0.0 and float(sum(float(problem.p[w]) for w in called)) < need:
            return False
    return True


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
