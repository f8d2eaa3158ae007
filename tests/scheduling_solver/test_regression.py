"""Saved instances: each still parses, solves to a valid plan with the same status, and is no worse
than the objective recorded when it was saved (2% slack absorbs a busy machine cutting time short)."""

import json
from pathlib import Path

import pytest

from scheduling_solver.schemas import parse_instance
from scheduling_solver.solve import solve
from scheduling_solver.validate import validate

HERE = Path(__file__).parent / "instances"
EXPECTED = json.loads((HERE / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_regression_instance(name):
    inst = parse_instance(json.loads((HERE / f"{name}.json").read_text()))
    sol = solve(inst)
    assert validate(inst, sol).ok
    want = EXPECTED[name]
    assert sol.status == want["status"]
    assert sol.totals.objective <= want["objective"] * 1.02 + 1e-6


# Plans and figures of every pre-service-level instance as the first solver produced them: the new
# fields' defaults (priority 1, spread, no min_fill) must reproduce them exactly, not merely as well.
V1_FIGURES = json.loads((Path(__file__).parent / "v1_figures.json").read_text())


@pytest.mark.parametrize("name", sorted(V1_FIGURES))
def test_old_instance_solves_to_the_first_solvers_figures(name):
    from scheduling_solver.schemas import solution_to_json

    raw = json.loads((HERE / f"{name}.json").read_text())
    assert not any({"priority", "policy", "min_fill"} & set(s) for s in raw["shifts"])
    inst = parse_instance(raw)
    assert all(s.priority == 1.0 and s.policy == "spread" and s.min_fill == 0.0 for s in inst.shifts)
    got = solution_to_json(solve(inst))
    want = V1_FIGURES[name]
    assert got["status"] == want["status"]
    assert got["reasons"] == want["reasons"]
    assert got["totals"]["called"] == want["totals"]["called"]
    for key in ("expected_cost", "mean_fill_probability", "objective"):
        assert got["totals"][key] == pytest.approx(want["totals"][key], rel=1e-12, abs=1e-12)
    assert set(got["shifts"]) == set(want["shifts"])
    for sid, plan in want["shifts"].items():
        assert got["shifts"][sid]["called"] == plan["called"]
        assert got["shifts"][sid]["standby"] == plan["standby"]
        for key in ("expected_attendance", "fill_probability", "expected_cost"):
            assert got["shifts"][sid][key] == pytest.approx(plan[key], rel=1e-12, abs=1e-12)


SHORT_DAYS = sorted(name for name in EXPECTED if name.startswith("short_day"))


@pytest.mark.parametrize("name", SHORT_DAYS)
def test_short_day_instances_are_scarce_and_beat_the_greedy(name):
    from scheduling_solver.solve import solve_with_context

    inst = parse_instance(json.loads((HERE / f"{name}.json").read_text()))
    assert any(s.policy == "full_first" for s in inst.shifts)
    # Short: the pool's expected attendance covers fewer places than asked for.
    assert sum(inst.show_probability(w) for w in inst.workers) < sum(s.headcount for s in inst.shifts)
    sol = solve(inst)
    greedy_only, _ = solve_with_context(inst, polish_enabled=False)
    assert validate(inst, sol).ok and validate(inst, greedy_only).ok
    assert sol.totals.objective < greedy_only.totals.objective
