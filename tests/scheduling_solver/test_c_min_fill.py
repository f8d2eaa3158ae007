"""Hard rule: a shift's expected attendance (sum of its called workers' show probabilities) reaches its
``min_fill``; the solver meets it, or answers ``infeasible`` with a reason naming the shift."""

from scheduling_solver.constraints import min_fill
from scheduling_solver.replan import replan
from scheduling_solver.solve import solve
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import codes, instance, shift, worker

# shows=10, no_shows=1 under the default (4, 1) prior: p = 14 / 16.
P = 14 / 16


def test_expected_attendance_at_min_fill_is_fine():
    inst = instance([worker("w0"), worker("w1")], [shift("s1", headcount=2, min_fill=2 * P)])
    assert min_fill.CODE not in codes(inst, {"s1": ["w0", "w1"]})


def test_expected_attendance_below_min_fill_is_a_violation():
    inst = instance([worker("w0"), worker("w1")], [shift("s1", headcount=2, min_fill=1.5)])
    assert min_fill.CODE in codes(inst, {"s1": ["w0"]})
    assert min_fill.CODE in codes(inst, {"s1": []})
    # Calling the same worker twice does not count twice.
    assert min_fill.CODE in codes(inst, {"s1": ["w0", "w0"]})


def test_solver_meets_min_fill_the_cost_alone_would_not():
    # Calling is dear here (rank 0 costs 5 per call), so without the bound nobody is called at all.
    ws = [worker(f"w{i}", rank=0.0) for i in range(3)]
    base = instance(ws, [shift("s1", headcount=2)], rank_weight=5.0, cost_unfilled=1.0)
    assert solve(base).shifts["s1"].called == ()
    inst = instance(ws, [shift("s1", headcount=2, min_fill=1.5)], rank_weight=5.0, cost_unfilled=1.0)
    sol = solve(inst)
    assert validate(inst, sol).ok
    assert sol.status == "optimal"
    assert sol.shifts["s1"].expected_attendance >= 1.5
    assert len(sol.shifts["s1"].called) == 2


def test_heuristic_path_meets_min_fill_and_local_search_keeps_it(monkeypatch):
    from scheduling_solver import polish

    monkeypatch.setattr(polish, "EXACT_MAX_CANDIDATES", 0)
    ws = [worker(f"w{i}", rank=0.0) for i in range(6)]
    inst = instance(ws, [shift("s1", headcount=3, min_fill=2.5)], rank_weight=5.0, cost_unfilled=1.0)
    sol = solve(inst)
    assert validate(inst, sol).ok
    assert sol.status == "feasible"
    assert sol.shifts["s1"].expected_attendance >= 2.5


def test_unreachable_min_fill_is_infeasible_with_a_reason():
    # Two workers can bring at most 2 x 0.875 = 1.75 expected people.
    inst = instance([worker("w0"), worker("w1")], [shift("s1", headcount=3, min_fill=2.0)])
    sol = solve(inst)
    assert sol.status == "infeasible"
    assert validate(inst, sol).ok
    assert any("s1" in r and "min_fill" in r for r in sol.reasons)


def test_min_fill_of_two_overlapping_shifts_competing_for_one_pool_is_infeasible():
    ws = [worker("w0"), worker("w1")]
    inst = instance(ws, [shift("a", headcount=2, min_fill=1.0), shift("b", headcount=2, min_fill=1.0)])
    sol = solve(inst)
    assert sol.status == "infeasible"
    assert any("min_fill" in r for r in sol.reasons)


def test_replan_after_a_decline_tops_up_to_min_fill():
    ws = [worker(f"w{i}") for i in range(4)]
    inst = instance(ws, [shift("s1", headcount=2, min_fill=1.7)], max_call_ratio=1.0)
    sol = solve(inst)
    assert validate(inst, sol).ok
    gone = sol.shifts["s1"].called[0]
    new_inst, new_sol = replan(inst, sol, declines={"s1": [gone]})
    assert validate(new_inst, new_sol).ok
    assert gone not in new_sol.shifts["s1"].called
    assert new_sol.shifts["s1"].expected_attendance >= 1.7


def test_replan_that_cannot_keep_min_fill_says_so():
    inst = instance([worker("w0"), worker("w1")], [shift("s1", headcount=2, min_fill=1.7)])
    sol = solve(inst)
    assert sol.status == "optimal"
    new_inst, new_sol = replan(inst, sol, declines={"s1": ["w0"]})
    assert new_sol.status == "infeasible"
    assert validate(new_inst, new_sol).ok
    assert any("min_fill" in r for r in new_sol.reasons)
