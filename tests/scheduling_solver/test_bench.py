"""The benchmark machinery on a small day: flat rules obey the hard rules, simulation is sane."""

import pytest

from scheduling_solver.bench import MethodResult, flat_plan, frontier_waste_at, run, simulate
from scheduling_solver.generator import generate_day
from scheduling_solver.schemas import ShiftPlan, Solution, Totals
from scheduling_solver.validate import validate


def test_flat_plan_obeys_the_hard_rules():
    inst = generate_day(300, 30, seed=1).instance
    plan, _ = flat_plan(inst, 1.5)
    ids = [w.id for w in inst.workers]
    shifts = {
        s.id: ShiftPlan(tuple(ids[w] for w in called), (), 0, 0, 0) for s, called in zip(inst.shifts, plan, strict=True)
    }
    report = validate(inst, Solution("feasible", 0, shifts, Totals(0, 0, 0)))
    assert not [v for v in report.violations if v.code != "wrong_figure"]


def test_simulation_with_certain_workers_is_exact():
    day = generate_day(100, 5, seed=2)
    rates = day.true_rates * 0 + 1.0
    plan, _ = flat_plan(day.instance, 1.0)
    res = simulate(day.instance, plan, rates, draws=50, seed=0, method="x", wall_s=0)
    filled = sum(min(len(c), s.headcount) for c, s in zip(plan, day.instance.shifts, strict=True))
    assert res.slots_filled * sum(s.headcount for s in day.instance.shifts) == pytest.approx(filled)
    assert res.wasted_per_100 == 0


def test_frontier_interpolation():
    pts = [
        MethodResult("a", 0.8, 0, 10, 0, 0, 0),
        MethodResult("b", 0.9, 0, 20, 0, 0, 0),
        MethodResult("c", 0.85, 0, 30, 0, 0, 0),
    ]  # c is dominated
    assert frontier_waste_at(pts, 0.85) == pytest.approx(15)
    assert frontier_waste_at(pts, 0.95) is None


def test_small_run_reports_every_method():
    rep = run(300, 30, 1, draws=100, time_limit_s=0.5, sweep=False)
    assert [m.method for m in rep.methods] == ["solver", "flat 1.2x", "flat 1.5x", "flat 2x"]
    assert rep.solver_valid and rep.replan_valid


def test_short_day_is_scarce_and_keeps_the_days_workers():
    from scheduling_solver.generator import SHORT_DAY_SUPPLY, short_day

    slack, short = generate_day(1000, 100, seed=3), short_day(1000, 100, seed=3)
    places = sum(s.headcount for s in short.instance.shifts)
    assert 1000 / places == pytest.approx(SHORT_DAY_SUPPLY, rel=0.05)
    assert sum(s.headcount for s in slack.instance.shifts) < places
    # Same workers and hidden truth: only the order sizes change.
    assert slack.instance.workers == short.instance.workers
    assert (slack.true_rates == short.true_rates).all()


@pytest.mark.parametrize("service", ["spread", "full_first"])
def test_service_table_reports_every_method_phase_and_target(service):
    from scheduling_solver.bench import DayType, format_service_table, idle_phases, service_table

    table = service_table(DayType("short day", 200, 22, True, 1.0), service, seed=2, draws=100)
    methods = [r.result.method for r in table.solver_rows] + [m.method for m in table.flat_rows]
    expected = ["solver", "greedy only", "solver cap 1.2x", "greedy only cap 1.2x"]
    if service == "full_first":
        expected += ["no selection", "no selection cap 1.2x"]
    assert set(methods) == {*expected, "flat 1.2x", "flat 1.5x", "flat 2x"}
    assert all(r.valid for r in table.solver_rows)
    greedy = next(r for r in table.solver_rows if r.result.method == "greedy only")
    solver = next(r for r in table.solver_rows if r.result.method == "solver")
    assert [p.name for p in greedy.phases] == ["greedy"]
    # The phases after the greedy only ever lower the objective.
    assert solver.objective <= greedy.objective + 1e-9
    names = [text for text, _ in table.targets]
    assert names[0] == "every solver plan passes the validator" and table.targets[0][1]
    if service == "full_first":
        assert any("call-ups" in n and "fully staffed" in n for n in names)
    text = format_service_table(table)
    assert "phases (wall s / objective removed)" in text and ("[PASS]" in text or "[FAIL]" in text)
    assert set(idle_phases([table])) <= {p.name for r in table.solver_rows for p in r.phases}


def test_benchmark_script_quick_smoke():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    args = [sys.executable, str(root / "benchmarks" / "solver_bench.py"), "--quick", "--only", "service"]
    out = subprocess.run([*args, "--draws", "50"], cwd=root, env=env, capture_output=True, text=True, check=True).stdout
    for day in ("short day", "slack day"):
        for service in ("spread", "full_first"):
            assert f"{day}, every shift {service}:" in out
    assert out.count("[PASS] every solver plan passes the validator") == 4
    assert "phases that removed nothing on any day type:" in out
