"""Each phase accounts for itself (issue 10, item 5): a solution lists the phases that ran, in order,
with their wall time and the objective each removed; the figures add up to the drop from the
starting plan, and they travel in the JSON contract without making old solutions invalid."""

import json

import pytest

from scheduling_solver.generator import short_day, with_service_policy
from scheduling_solver.greedy import PlanState, reach_min_fill
from scheduling_solver.problem import build_problem
from scheduling_solver.schemas import Phase, SchemaError, parse_solution, solution_to_json
from scheduling_solver.solve import fixed_conflicts, objective_of, solve, solve_with_context
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import instance, shift, worker


def _starting_objective(inst):
    """The plan before any optimiser: fixed calls and min_fill calls only."""
    problem = build_problem(inst)
    state = PlanState(problem)
    assert not fixed_conflicts(problem, state) and not reach_min_fill(state)
    return objective_of(problem, state.assignment())[1]


def _short(service, seed=7):
    return with_service_policy(short_day(300, 30, seed=seed).instance, service).with_policy(time_limit_s=3.0)


@pytest.mark.parametrize(
    ("service", "names"),
    [("spread", ["greedy", "local_search"]), ("full_first", ["greedy", "local_search", "selection"])],
)
def test_phases_run_in_order_and_add_up(service, names):
    inst = _short(service)
    sol = solve(inst)
    assert validate(inst, sol).ok
    got = [p.name for p in sol.phases]
    # The local search runs again after the selection only when the selection changed something.
    assert got[: len(names)] == names and got[len(names) :] in ([], ["local_search"])
    assert all(p.wall_s >= 0.0 and p.objective_removed >= 0.0 for p in sol.phases)
    removed = sum(p.objective_removed for p in sol.phases)
    assert removed == pytest.approx(_starting_objective(inst) - sol.totals.objective, rel=1e-9, abs=1e-6)
    # The greedy is what makes a plan at all: it removes most of the starting objective.
    assert sol.phases[0].objective_removed > 0.5 * removed


def test_greedy_only_and_tiny_days_list_their_phases():
    inst = _short("full_first")
    greedy_only, _ = solve_with_context(inst, polish_enabled=False)
    assert [p.name for p in greedy_only.phases] == ["greedy"]
    no_selection, _ = solve_with_context(inst, selection_enabled=False)
    assert "selection" not in [p.name for p in no_selection.phases]
    tiny = instance([worker("w0"), worker("w1")], [shift("a", policy="full_first", headcount=1)])
    sol = solve(tiny)
    assert sol.status == "optimal" and [p.name for p in sol.phases] == ["greedy", "exact"]


def test_infeasible_answers_have_no_phases():
    inst = instance([worker("w0", fixed=("a",), excluded=("a",))], [shift("a")])
    sol = solve(inst)
    assert sol.status == "infeasible" and sol.phases == ()


def test_phases_round_trip_and_old_solutions_stay_valid():
    inst = _short("full_first", seed=8)
    sol = solve(inst)
    doc = json.loads(json.dumps(solution_to_json(sol)))
    assert [p["name"] for p in doc["phases"]] == [p.name for p in sol.phases]
    back = parse_solution(doc)
    assert back.phases == sol.phases
    assert validate(inst, back).ok
    # A solution written before phases existed parses, with no phases, and still validates.
    del doc["phases"]
    old = parse_solution(doc)
    assert old.phases == () and validate(inst, old).ok


@pytest.mark.parametrize(
    ("phases", "path"),
    [
        ({"name": "greedy"}, "$.phases"),
        ([{"name": "greedy", "wall_s": -1, "objective_removed": 0}], "$.phases[0].wall_s"),
        ([{"name": "greedy", "wall_s": 0, "objective_removed": -0.5}], "$.phases[0].objective_removed"),
        ([{"name": "", "wall_s": 0, "objective_removed": 0}], "$.phases[0].name"),
        ([{"name": "greedy", "wall_s": 0, "objective_removed": 0, "cost": 1}], "$.phases[0].cost"),
        (["greedy"], "$.phases[0]"),
    ],
)
def test_bad_phases_are_reported_by_path(phases, path):
    doc = {
        "status": "feasible",
        "wall_s": 0.1,
        "shifts": {},
        "totals": {"called": 0, "expected_cost": 0.0, "mean_fill_probability": 1.0},
        "phases": phases,
    }
    with pytest.raises(SchemaError) as err:
        parse_solution(doc)
    assert path in [p for p, _ in err.value.errors]


def test_phase_is_a_plain_record():
    assert Phase("greedy", 0.5, 3.0) == Phase("greedy", 0.5, 3.0)
