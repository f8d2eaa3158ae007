"""The CP-SAT selection of full_first shifts (issue 10, item 2): its staircase is exact where it must
be, it never makes a plan worse by the exact measure, every plan it leaves passes the validator, and
where completing one order means moving several workers at once it reaches the optimum that the
local search's one-worker moves cannot."""

import itertools
import time

import pytest
from hypothesis import HealthCheck, given, settings

from scheduling_solver import select as selection
from scheduling_solver.generator import short_day, with_service_policy
from scheduling_solver.greedy import PlanState, construct, reach_min_fill
from scheduling_solver.local_search import improve
from scheduling_solver.probability import shift_outcome
from scheduling_solver.problem import build_problem
from scheduling_solver.solve import build_solution, fixed_conflicts, objective_of
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import instance, shift, worker
from tests.scheduling_solver.test_properties import days


def _greedy_state(inst, *, truncate=True):
    problem = build_problem(inst, truncate=truncate)
    state = PlanState(problem)
    assert not fixed_conflicts(problem, state)
    reasons = reach_min_fill(state)
    construct(state)
    return problem, state, reasons


def _value(problem, state):
    return objective_of(problem, state.assignment())[1]


def test_levels_are_the_exact_fill_probabilities():
    ps = [0.9, 0.8, 0.75, 0.6, 0.5, 0.4, 0.3, 0.2]
    got = selection.levels(ps, 3, 7, keep=6)
    ks = [k for k, _ in got]
    assert ks[0] == 3 and ks[-1] == 7 and {5, 6, 7} <= set(ks)
    assert len(ks) <= selection.MAX_LEVELS + 3
    for k, q in got:
        assert q == pytest.approx(shift_outcome(ps[:k], 3, 1.0, 1.0).fill_probability, abs=1e-12)
    # Fewer candidates than the headcount: no level can be reached.
    assert selection.levels([0.9], 2, 5, keep=1) == []


def test_only_days_with_a_full_first_penalty_want_selection():
    ws = [worker("w0")]
    assert not selection.wants_selection(build_problem(instance(ws, [shift("a")])))
    assert not selection.wants_selection(
        build_problem(instance(ws, [shift("a", policy="full_first")], shortfall_penalty=0.0))
    )
    assert selection.wants_selection(build_problem(instance(ws, [shift("a", policy="full_first")])))


def _three_moves_day():
    """Two orders for two, each staffed by two reliable workers, and a priority-5 order for three at
    the same time with nobody. Moving any one worker to it empties a full order and still leaves it
    short, so every one-worker move loses; moving three at once is the optimum."""
    ws = [worker(f"w{i}", shows=40.0, no_shows=1.0) for i in range(4)]
    shifts = [
        shift("a", 8, 12, headcount=2, policy="full_first"),
        shift("b", 8, 12, headcount=2, policy="full_first"),
        shift("c", 9, 13, headcount=3, policy="full_first", priority=5.0),
    ]
    return instance(ws, shifts, cost_unfilled=1.0, shortfall_penalty=60.0, max_call_ratio=2.0)


def _brute_force(problem):
    best = None
    for choice in itertools.product((None, *range(problem.n_shifts)), repeat=problem.n_workers):
        assignment = [[w for w, c in enumerate(choice) if c == s] for s in range(problem.n_shifts)]
        if any(len(a) > int(problem.cap[s]) for s, a in enumerate(assignment)):
            continue
        value = objective_of(problem, assignment)[1]
        best = value if best is None else min(best, value)
    return best


def _spread_plan(problem):
    state = PlanState(problem)
    for w, s in ((0, 0), (1, 0), (2, 1), (3, 1)):
        state.add(w, s)
    return state


def test_local_search_is_stuck_where_the_selection_reaches_the_optimum():
    inst = _three_moves_day()
    problem = build_problem(inst, truncate=False)
    optimum = _brute_force(problem)
    stuck = _spread_plan(problem)
    before = _value(problem, stuck)
    improve(stuck, max_visits=1000, deadline=time.perf_counter() + 10)
    assert _value(problem, stuck) == pytest.approx(before) and before > optimum + 1.0
    state = _spread_plan(problem)
    stats = selection.select(state, max_groups=10, deadline=time.perf_counter() + 10, seed=0)
    assert stats.improved == 1
    assert _value(problem, state) == pytest.approx(optimum, abs=1e-6)
    assert sorted(state.called[2]) == [0, 1, 2, 3]
    assert validate(inst, build_solution(problem, state, "feasible", 0.0, {})).ok


def test_selection_never_worsens_a_short_day_and_is_deterministic():
    inst = with_service_policy(short_day(300, 30, seed=4).instance, "full_first")
    runs = []
    for _ in range(2):
        problem, state, reasons = _greedy_state(inst)
        assert not reasons
        improve(state, max_visits=5000, deadline=time.perf_counter() + 30)
        before = _value(problem, state)
        selection.select(state, max_groups=6, deadline=time.perf_counter() + 60, seed=0)
        after = _value(problem, state)
        assert after <= before + 1e-9
        assert validate(inst, build_solution(problem, state, "feasible", 0.0, {})).ok
        runs.append(state.assignment())
    assert runs[0] == runs[1]


def test_no_groups_means_no_change():
    inst = with_service_policy(short_day(200, 20, seed=5).instance, "full_first")
    _, state, _ = _greedy_state(inst)
    before = state.assignment()
    stats = selection.select(state, max_groups=0, deadline=time.perf_counter() + 10, seed=0)
    assert stats.groups == 0 and state.assignment() == before


def test_neighbourhoods_cover_every_shift_twice_at_most():
    inst = with_service_policy(short_day(200, 23, seed=6).instance, "full_first")
    groups = selection.neighbourhoods(build_problem(inst))
    seen = [s for g in groups for s in g]
    assert set(seen) == set(range(23))
    assert all(seen.count(s) <= 2 for s in range(23))
    assert all(len(g) <= selection.GROUP_SIZE for g in groups)


@given(days(service=True))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_plan_after_selection_passes_the_validator(inst):
    problem = build_problem(inst)
    state = PlanState(problem)
    if fixed_conflicts(problem, state) or reach_min_fill(state):
        return
    construct(state)
    before = _value(problem, state)
    selection.select(state, max_groups=4, deadline=time.perf_counter() + 20, seed=inst.policy.seed)
    report = validate(inst, build_solution(problem, state, "feasible", 0.0, {}))
    assert report.ok, report.violations
    assert _value(problem, state) <= before + 1e-9


@pytest.mark.parametrize("seed", range(5))
def test_tiny_short_days_get_a_proven_optimum(seed):
    import random

    from scheduling_solver.solve import solve

    rnd = random.Random(seed)
    ws = [worker(f"w{i}", shows=rnd.choice([1.0, 4.0, 20.0]), no_shows=rnd.choice([0.0, 2.0, 5.0])) for i in range(5)]
    shifts = [
        shift("a", 8, 12, headcount=rnd.choice([2, 3]), policy="full_first", priority=rnd.choice([1.0, 3.0])),
        shift("b", 10, 14, headcount=2, policy=rnd.choice(["spread", "full_first"])),
        shift("c", 9, 11, headcount=rnd.choice([1, 2]), policy="full_first"),
    ]
    inst = instance(ws, shifts, shortfall_penalty=rnd.choice([20.0, 60.0]), max_call_ratio=2.0)
    # Short: the workers' expected attendance is below the places asked for.
    assert sum(inst.show_probability(w) for w in ws) < sum(s.headcount for s in shifts)
    sol = solve(inst)
    assert sol.status == "optimal" and validate(inst, sol).ok
    assert sol.totals.objective == pytest.approx(_brute_force(build_problem(inst, truncate=False)), abs=1e-6)
