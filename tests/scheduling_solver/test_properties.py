"""Property: whatever small day hypothesis invents, the plan passes the validator (or the instance
really is contradictory), and re-planning after responses keeps it valid."""

from datetime import timedelta
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduling_solver import greedy, polish
from scheduling_solver.replan import replan
from scheduling_solver.schemas import SERVICE_POLICIES, Instance, Policy, Shift, Worker
from scheduling_solver.solve import solve
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import HOME, at

SKILLS = ("loader", "driver")


@st.composite
def days(draw, service=False):
    n_shifts = draw(st.integers(1, 4))
    shifts = []
    for j in range(n_shifts):
        start = draw(st.sampled_from([6, 8, 9, 12, 15, 23]))
        length = draw(st.sampled_from([2, 4, 8]))
        headcount = draw(st.integers(1, 4))
        extra = {}
        if service:
            # Random priorities and policies; a min_fill now and then, sometimes out of reach.
            extra = {
                "priority": draw(st.sampled_from([0.0, 0.5, 1.0, 3.0])),
                "policy": draw(st.sampled_from(SERVICE_POLICIES)),
                "min_fill": draw(st.sampled_from([0.0, 0.0, 0.0, 0.5, 0.5 * headcount])),
            }
        shifts.append(
            Shift(
                id=f"s{j}",
                start=at(start),
                end=at(start) + timedelta(hours=length),
                headcount=headcount,
                skills=tuple(draw(st.sets(st.sampled_from(SKILLS), max_size=2))),
                location=(HOME[0] + draw(st.sampled_from([0.0, 0.1, 0.3])), HOME[1]),
                **extra,
            )
        )
    workers = []
    for i in range(draw(st.integers(0, 9))):
        a = draw(st.sampled_from([0, 6, 8, 12]))
        b = draw(st.sampled_from([14, 20, 24, 30]))
        fixed = (
            tuple(draw(st.sets(st.sampled_from([s.id for s in shifts]), max_size=1)))
            if draw(st.integers(0, 6)) == 0
            else ()
        )
        excluded = tuple(draw(st.sets(st.sampled_from([s.id for s in shifts]), max_size=2)))
        workers.append(
            Worker(
                id=f"w{i}",
                rank=draw(st.floats(0, 100)),
                shows=draw(st.floats(0, 30)),
                no_shows=draw(st.floats(0, 10)),
                skills=tuple(draw(st.sets(st.sampled_from(SKILLS), min_size=1))),
                location=(HOME[0] + draw(st.sampled_from([0.0, 0.05, 0.2])), HOME[1]),
                available=((at(a), at(b)),),
                max_shifts_per_day=draw(st.integers(1, 2)),
                fixed=fixed,
                excluded=tuple(s for s in excluded if s not in fixed),
            )
        )
    policy = Policy(
        cost_unfilled=draw(st.sampled_from([1.0, 6.0, 20.0])),
        min_rest_minutes=60,
        max_call_ratio=draw(st.sampled_from([1.0, 1.5, 2.5])),
        time_limit_s=0.3,
        seed=draw(st.integers(0, 3)),
        shortfall_penalty=draw(st.sampled_from([0.0, 20.0, 60.0])) if service else Policy.shortfall_penalty,
    )
    return Instance(tuple(workers), tuple(shifts), policy)


@given(days())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_plan_passes_the_validator(inst):
    sol = solve(inst)
    report = validate(inst, sol)
    assert report.ok, report.violations
    if sol.status == "infeasible":
        # Only accepted (fixed) calls can make a day contradictory.
        assert any(w.fixed for w in inst.workers)


@given(days())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_heuristic_path_plans_pass_the_validator(inst):
    # Small days normally go to the exact subset model; switch it off to exercise the greedy, the
    # local search and the CP-SAT selection on the same inventions.
    # The worker sweep (normally only for huge days) is switched on too.
    with mock.patch.object(polish, "EXACT_MAX_CANDIDATES", 0), mock.patch.object(greedy, "SWEEP_ABOVE_PAIRS", 0):
        sol = solve(inst)
    report = validate(inst, sol)
    assert report.ok, report.violations
    assert sol.status in ("feasible", "infeasible")


@given(days(), st.data())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_replan_after_declines_stays_valid(inst, data):
    sol = solve(inst)
    if sol.status == "infeasible":
        return
    fixed_pairs = {(w.id, s) for w in inst.workers for s in w.fixed}
    declines = {
        sid: [w for w in plan.called if (w, sid) not in fixed_pairs and data.draw(st.booleans())]
        for sid, plan in sol.shifts.items()
    }
    new_inst, new_sol = replan(inst, sol, declines=declines)
    assert validate(new_inst, new_sol).ok
    for sid, gone in declines.items():
        assert not set(gone) & set(new_sol.shifts[sid].called)


def _contradiction_is_explained(inst, sol):
    # Only accepted (fixed) calls and min_fill bounds can make a day contradictory.
    assert any(w.fixed for w in inst.workers) or any(s.min_fill > 0 for s in inst.shifts)
    assert sol.reasons


@given(days(service=True))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_plan_with_priorities_and_policies_passes_the_validator(inst):
    sol = solve(inst)
    report = validate(inst, sol)
    assert report.ok, report.violations
    if sol.status == "infeasible":
        _contradiction_is_explained(inst, sol)


@given(days(service=True))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_heuristic_path_with_priorities_and_policies_passes_the_validator(inst):
    with mock.patch.object(polish, "EXACT_MAX_CANDIDATES", 0), mock.patch.object(greedy, "SWEEP_ABOVE_PAIRS", 0):
        sol = solve(inst)
    report = validate(inst, sol)
    assert report.ok, report.violations
    if sol.status == "infeasible":
        _contradiction_is_explained(inst, sol)


@given(days(service=True), st.data())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_replan_with_service_levels_stays_valid(inst, data):
    sol = solve(inst)
    if sol.status == "infeasible":
        return
    fixed_pairs = {(w.id, s) for w in inst.workers for s in w.fixed}
    declines = {
        sid: [w for w in plan.called if (w, sid) not in fixed_pairs and data.draw(st.booleans())]
        for sid, plan in sol.shifts.items()
    }
    new_inst, new_sol = replan(inst, sol, declines=declines)
    assert validate(new_inst, new_sol).ok
    if new_sol.status != "infeasible":
        for sid, gone in declines.items():
            assert not set(gone) & set(new_sol.shifts[sid].called)
