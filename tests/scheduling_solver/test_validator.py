"""The validator's own checks beyond the per-constraint modules: structure and exact figures."""

import dataclasses

from scheduling_solver.schemas import ShiftPlan, Solution, Totals
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import instance, plan, shift, worker


def small():
    return instance(
        [worker("w1"), worker("w2", shows=2, no_shows=3)], [shift("s1", headcount=1), shift("s2", 17, 20, headcount=1)]
    )


def violation_codes(inst, sol):
    return {v.code for v in validate(inst, sol).violations}


def test_exact_plan_passes():
    inst = small()
    assert validate(inst, plan(inst, {"s1": ["w1"], "s2": ["w2"]})).ok


def test_missing_shift_and_unknown_ids_are_reported():
    inst = small()
    sol = plan(inst, {"s1": ["w1"]})
    shifts = dict(sol.shifts)
    shifts.pop("s2")
    shifts["s9"] = shifts["s1"]
    shifts["s1"] = dataclasses.replace(shifts["s1"], called=("w1", "ghost"))
    found = violation_codes(inst, dataclasses.replace(sol, shifts=shifts))
    assert {"shift_missing", "unknown_shift", "unknown_worker"} <= found


def test_duplicate_call_is_reported():
    inst = small()
    sol = plan(inst, {"s1": ["w1", "w1"]})
    assert "duplicate_call" in violation_codes(inst, sol)


def test_wrong_probability_is_reported_with_its_path():
    inst = small()
    sol = plan(inst, {"s1": ["w1"], "s2": ["w2"]})
    shifts = dict(sol.shifts)
    shifts["s1"] = dataclasses.replace(shifts["s1"], fill_probability=shifts["s1"].fill_probability + 0.01)
    report = validate(inst, dataclasses.replace(sol, shifts=shifts))
    assert [v.path for v in report.violations] == ["$.shifts.s1.fill_probability"]


def test_wrong_totals_are_reported():
    inst = small()
    sol = plan(inst, {"s1": ["w1"], "s2": ["w2"]})
    bad = dataclasses.replace(
        sol, totals=Totals(called=3, expected_cost=sol.totals.expected_cost + 1, mean_fill_probability=0.0)
    )
    paths = {v.path for v in validate(inst, bad).violations}
    assert paths == {"$.totals.called", "$.totals.expected_cost", "$.totals.mean_fill_probability"}


def test_standby_must_be_eligible_and_not_called():
    inst = instance([worker("w1"), worker("w2", skills=("driver",))], [shift("s1")])
    sol = plan(inst, {"s1": ["w1"]})
    p = sol.shifts["s1"]
    bad = dataclasses.replace(
        sol,
        shifts={"s1": ShiftPlan(p.called, ("w1", "w2"), p.expected_attendance, p.fill_probability, p.expected_cost)},
    )
    assert {"standby_called", "standby_ineligible"} <= violation_codes(inst, bad)


def test_infeasible_answer_needs_a_reason_and_no_plan():
    inst = small()
    empty = Totals(0, 0.0, 0.0)
    assert validate(inst, Solution("infeasible", 0.0, {}, empty, ("w1 fixed twice",))).ok
    assert "infeasible_without_reason" in violation_codes(inst, Solution("infeasible", 0.0, {}, empty))
