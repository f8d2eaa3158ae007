"""Priorities and service levels (issue 10, item 1): schema defaults and errors, the exact cost terms
the validator recomputes, and every solver phase pricing them (spread and full_first give different,
each provably optimal plans on a tiny day)."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from scheduling_solver import polish
from scheduling_solver.greedy import PlanState
from scheduling_solver.probability import shift_outcome
from scheduling_solver.problem import build_problem
from scheduling_solver.schemas import SchemaError, instance_to_json, parse_instance
from scheduling_solver.solve import objective_of, solve
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import codes, instance, plan, shift, worker

HERE = Path(__file__).parent / "instances"
P = 14 / 16  # show probability of the factory's worker under the default prior


def _shift_doc(**kw):
    doc = {
        "id": "s1",
        "start": "2026-12-01T08:00:00+03:00",
        "end": "2026-12-01T16:00:00+03:00",
        "headcount": 2,
        "location": [59.93, 30.31],
    }
    doc.update(kw)
    return {"workers": [], "shifts": [doc], "policy": {}}


def test_defaults_keep_old_documents_and_behaviour():
    inst = parse_instance(_shift_doc())
    s = inst.shifts[0]
    assert (s.priority, s.policy, s.min_fill) == (1.0, "spread", 0.0)
    assert inst.policy.shortfall_penalty == 20.0
    # A spread shift never pays the penalty, whatever it is set to.
    assert inst.service_terms(s) == (inst.policy.cost_unfilled, 0.0)


def test_new_fields_parse_and_round_trip():
    doc = _shift_doc(priority=3, policy="full_first", min_fill=1.5)
    doc["policy"] = {"shortfall_penalty": 12.5}
    inst = parse_instance(doc)
    s = inst.shifts[0]
    assert (s.priority, s.policy, s.min_fill) == (3.0, "full_first", 1.5)
    assert inst.service_terms(s) == (3.0 * 6.0, 3.0 * 12.5)
    assert parse_instance(json.loads(json.dumps(instance_to_json(inst)))) == inst


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"policy": "fullest"}, "$.shifts[0].policy"),
        ({"policy": 1}, "$.shifts[0].policy"),
        ({"priority": -1}, "$.shifts[0].priority"),
        ({"priority": "high"}, "$.shifts[0].priority"),
        ({"min_fill": 2.5}, "$.shifts[0].min_fill"),
        ({"min_fill": -0.1}, "$.shifts[0].min_fill"),
        ({"minfill": 1}, "$.shifts[0].minfill"),
    ],
)
def test_bad_service_fields_are_reported_by_path(fields, path):
    with pytest.raises(SchemaError) as err:
        parse_instance(_shift_doc(**fields))
    assert path in [p for p, _ in err.value.errors]


def test_bad_shortfall_penalty_is_reported_by_path():
    doc = _shift_doc()
    doc["policy"] = {"shortfall_penalty": -1}
    with pytest.raises(SchemaError) as err:
        parse_instance(doc)
    assert "$.policy.shortfall_penalty" in [p for p, _ in err.value.errors]


def test_full_first_cost_by_hand():
    # One worker (p = 7/8) for one place: E[short] = 1/8 = P(X < 1); priority 2, penalty 20, cu 6.
    out = shift_outcome([P], 1, 2 * 6.0, 1.0, 2 * 20.0)
    assert out.expected_cost == pytest.approx(2 * 6 / 8 + 2 * 20 / 8)
    assert shift_outcome([P], 1, 6.0, 1.0).expected_cost == pytest.approx(6 / 8)


def test_validator_rejects_a_cost_reported_without_the_new_terms():
    inst = instance([worker("w0")], [shift("s1", priority=2.0, policy="full_first")])
    good = plan(inst, {"s1": ["w0"]})
    assert validate(inst, good).ok
    spread_inst = instance([worker("w0")], [shift("s1")])
    stale = plan(spread_inst, {"s1": ["w0"]})  # figures of the same calls priced the old way
    assert "wrong_figure" in {v.code for v in validate(inst, stale).violations}
    assert codes(inst, {"s1": ["w0"]}) == set()


def _mixed_day():
    ws = [worker(f"w{i}", shows=float(3 + i), no_shows=float(i % 3), rank=float(10 * i)) for i in range(9)]
    shifts = [
        shift("a", 8, 12, headcount=3, priority=2.0, policy="full_first"),
        shift("b", 8, 12, headcount=2, priority=0.5),
        shift("c", 13, 17, headcount=2, policy="full_first", min_fill=1.0),
        shift("d", 13, 17, headcount=3, priority=3.0),
    ]
    return instance(ws, shifts, shortfall_penalty=15.0)


@pytest.mark.parametrize("exact_path", [True, False])
def test_reported_cost_equals_the_validators_recomputation(exact_path, monkeypatch):
    if not exact_path:
        monkeypatch.setattr(polish, "EXACT_MAX_CANDIDATES", 0)
    inst = _mixed_day()
    sol = solve(inst)
    assert validate(inst, sol).ok
    workers = {w.id: w for w in inst.workers}
    total = 0.0
    for s in inst.shifts:
        cu, pen = inst.service_terms(s)
        ps = [inst.show_probability(workers[w]) for w in sol.shifts[s.id].called]
        exact = shift_outcome(ps, s.headcount, cu, inst.policy.cost_idle, pen)
        assert sol.shifts[s.id].expected_cost == pytest.approx(exact.expected_cost, rel=1e-12)
        total += exact.expected_cost
    assert sol.totals.expected_cost == pytest.approx(total, rel=1e-12)


def _two_orders(policy):
    # Three workers, two overlapping orders: "a" for two at priority 2, "b" for one.
    return instance(
        [worker(f"w{i}") for i in range(3)], [shift("a", headcount=2, priority=2.0, policy=policy), shift("b")]
    )


def _brute_force_optimum(inst):
    """Best objective over every way of sending each worker to a, b or nowhere (27 plans)."""
    problem = build_problem(inst, truncate=False)
    best = None
    for choice in itertools.product((None, 0, 1), repeat=problem.n_workers):
        assignment = [[w for w, c in enumerate(choice) if c == s] for s in range(problem.n_shifts)]
        _, value = objective_of(problem, assignment)
        if best is None or value < best[0] - 1e-12:
            best = (value, assignment)
    assert best is not None
    return best[0], [[problem.worker_ids[w] for w in a] for a in best[1]]


def test_spread_and_full_first_give_different_each_optimal_plans():
    spread, full = _two_orders("spread"), _two_orders("full_first")
    s_sol, f_sol = solve(spread), solve(full)
    assert validate(spread, s_sol).ok and validate(full, f_sol).ok
    assert s_sol.status == f_sol.status == "optimal"
    # Spread covers both orders; full_first puts the third worker on "a" to make it likelier full.
    assert (len(s_sol.shifts["a"].called), len(s_sol.shifts["b"].called)) == (2, 1)
    assert (len(f_sol.shifts["a"].called), len(f_sol.shifts["b"].called)) == (3, 0)
    assert f_sol.shifts["a"].fill_probability > s_sol.shifts["a"].fill_probability
    # The exact path's "optimal" agrees with enumerating every plan.
    for inst, sol in ((spread, s_sol), (full, f_sol)):
        value, best = _brute_force_optimum(inst)
        assert sol.totals.objective == pytest.approx(value, abs=1e-9)
        assert [sorted(sol.shifts[s.id].called) for s in inst.shifts] == [sorted(a) for a in best]


def test_heuristic_phases_also_prefer_full_first(monkeypatch):
    # Greedy, local search and selection alone (no subset model) reach the same two plans.
    monkeypatch.setattr(polish, "EXACT_MAX_CANDIDATES", 0)
    s_sol, f_sol = solve(_two_orders("spread")), solve(_two_orders("full_first"))
    assert (len(s_sol.shifts["a"].called), len(s_sol.shifts["b"].called)) == (2, 1)
    assert (len(f_sol.shifts["a"].called), len(f_sol.shifts["b"].called)) == (3, 0)


@pytest.mark.parametrize(
    ("policy", "priority"), [("spread", 1.0), ("spread", 2.5), ("full_first", 1.0), ("full_first", 3.0)]
)
def test_greedy_marginal_gain_is_the_exact_cost_change(policy, priority):
    ws = [worker(f"w{i}", shows=float(2 + 3 * i), no_shows=float(i % 4)) for i in range(6)]
    inst = instance(ws, [shift("s", headcount=3, priority=priority, policy=policy)], max_call_ratio=2.0)
    problem = build_problem(inst, truncate=False)
    state = PlanState(problem)
    cu, pen = inst.service_terms(inst.shifts[0])
    for w in range(problem.n_workers):
        before = shift_outcome(problem.p[state.called[0]], 3, cu, 1.0, pen).expected_cost
        predicted = float(problem.p[w]) * state.gain_slope(0)
        state.add(w, 0)
        after = shift_outcome(problem.p[np.array(state.called[0])], 3, cu, 1.0, pen).expected_cost
        assert after - before == pytest.approx(predicted, abs=1e-9)


def test_short_day_instance_uses_both_policies_and_solves_valid():
    raw = json.loads((HERE / "short_day_full_first_seed13.json").read_text())
    inst = parse_instance(raw)
    assert {s.policy for s in inst.shifts} == {"spread", "full_first"}
    assert any(s.min_fill > 0 for s in inst.shifts)
    # Scarce: fewer expected attendees in the whole pool than places asked for.
    assert sum(inst.show_probability(w) for w in inst.workers) < sum(s.headcount for s in inst.shifts)
    sol = solve(inst)
    assert validate(inst, sol).ok
