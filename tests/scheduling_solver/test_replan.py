"""Incremental re-plan: calls already made stay, declines never return, only changed shifts move."""

from scheduling_solver.generator import generate_day
from scheduling_solver.replan import replan
from scheduling_solver.solve import solve, solve_with_context
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import instance, shift, worker


def test_decline_is_replaced_and_other_shifts_are_untouched():
    inst = generate_day(400, 40, seed=2).instance.with_policy(time_limit_s=0.5)
    sol = solve(inst)
    sid = next(s for s, p in sol.shifts.items() if len(p.called) >= 2)
    gone = sol.shifts[sid].called[0]
    new_inst, new_sol = replan(inst, sol, declines={sid: [gone]})
    assert validate(new_inst, new_sol).ok
    assert gone not in new_sol.shifts[sid].called
    assert sid in next(w for w in new_inst.workers if w.id == gone).excluded
    # Every other call made before is still there.
    for s, p in sol.shifts.items():
        kept = set(p.called) - ({gone} if s == sid else set())
        assert kept <= set(new_sol.shifts[s].called)


def test_accept_becomes_fixed_and_no_show_is_excluded():
    workers = [worker(f"w{i}", shows=5 + i, no_shows=2) for i in range(6)]
    inst = instance(workers, [shift("s1", headcount=2)])
    sol = solve(inst)
    first, second = sol.shifts["s1"].called[:2]
    new_inst, new_sol = replan(inst, sol, accepts={"s1": [first]}, no_shows={"s1": [second]})
    by_id = {w.id: w for w in new_inst.workers}
    assert "s1" in by_id[first].fixed and "s1" in by_id[second].excluded
    assert first in new_sol.shifts["s1"].called and second not in new_sol.shifts["s1"].called
    assert validate(new_inst, new_sol).ok


def test_context_reuse_gives_the_same_plan():
    inst = generate_day(300, 30, seed=4).instance.with_policy(time_limit_s=0.3)
    sol, ctx = solve_with_context(inst)
    sid = next(s for s, p in sol.shifts.items() if p.called)
    declines = {sid: [sol.shifts[sid].called[0]]}
    _, cold = replan(inst, sol, declines=declines)
    _, warm = replan(inst, sol, declines=declines, context=ctx)
    assert {s: p.called for s, p in cold.shifts.items()} == {s: p.called for s, p in warm.shifts.items()}
