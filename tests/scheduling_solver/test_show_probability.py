"""A worker's show probability has one definition, scheduling_solver.probability.show_probability."""

import ast
from pathlib import Path

import numpy as np
import pytest

from scheduling_solver import probability
from scheduling_solver.problem import build_problem
from scheduling_solver.solve import solve
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import instance, shift, worker

ROOT = Path(__file__).resolve().parents[2]

# Records as the staffing adapter passes them: decayed (fractional) counts, a newcomer, a flawless regular
# and a serial no-show, so a restated formula that differs anywhere shows up.
RECORDS = [(12.4, 1.0), (0.0, 0.0), (40.0, 0.0), (0.3, 7.75), (3.0, 3.0)]
PRIOR = (2.5, 1.5)


def test_the_definition_is_the_beta_posterior_mean_with_the_prior_for_newcomers():
    assert probability.show_probability(12.4, 1.0, (4.0, 1.0)) == pytest.approx((12.4 + 4) / (12.4 + 1 + 5))
    assert probability.show_probability(0.0, 0.0, PRIOR) == pytest.approx(2.5 / 4.0)
    as_arrays = probability.show_probability(
        np.array([s for s, _ in RECORDS]), np.array([n for _, n in RECORDS]), PRIOR
    )
    assert as_arrays.tolist() == [probability.show_probability(s, n, PRIOR) for s, n in RECORDS]


def test_problem_building_the_solution_and_the_instance_all_use_the_one_definition():
    workers = [worker(f"w{i}", shows=s, no_shows=n) for i, (s, n) in enumerate(RECORDS)]
    inst = instance(workers, [shift("s1", headcount=2)], prior=PRIOR)
    expected = {w.id: probability.show_probability(s, n, PRIOR) for w, (s, n) in zip(workers, RECORDS, strict=True)}

    # Exact equality: the solver must optimise the very number the validator checks.
    assert build_problem(inst).p.tolist() == list(expected.values())
    assert {w.id: inst.show_probability(w) for w in workers} == expected
    solution = solve(inst)
    called = solution.shifts["s1"].called
    assert called
    assert solution.shifts["s1"].expected_attendance == pytest.approx(sum(expected[w] for w in called), abs=1e-12)
    assert validate(inst, solution).ok


def test_fit_prior_matches_the_moments_of_experienced_workers_and_ignores_newcomers():
    rng = np.random.default_rng(3)
    rates = rng.beta(8, 2, 200)
    histories = [(round(20 * r, 2), round(20 * (1 - r), 2)) for r in rates] + [(0.0, 0.0)] * 50
    a, b = probability.fit_prior(histories, (4.0, 1.0))
    observed = np.array([s / (s + n) for s, n in histories[:200]])
    m, v = observed.mean(), observed.var()
    strength = min(m * (1 - m) / v - 1, 10.0)
    assert (a, b) == pytest.approx((m * strength, (1 - m) * strength), abs=1e-3)


def test_fit_prior_keeps_the_default_when_too_few_workers_have_a_history():
    assert probability.fit_prior([(9.0, 1.0)] * 29 + [(1.0, 0.0)] * 100, (4.0, 1.0)) == (4.0, 1.0)
    # Everyone identical: no spread, nothing to fit.
    assert probability.fit_prior([(8.0, 2.0)] * 40, (4.0, 1.0)) == (4.0, 1.0)


# Identifiers that hold a worker's show record or the prior. Arithmetic on them outside probability.py is a
# second definition of the show probability (or of the prior fit) in the making.
_RECORD_NAMES = {"shows", "no_shows", "misses", "prior"}
_ALLOWED = {
    "scheduling_solver/probability.py": "the definition itself",
    # The generator draws synthetic histories from hidden true rates: simulation input, not an estimate.
    "scheduling_solver/generator.py": "draws histories, does not estimate from them",
    # The study's baseline is the naive shows / calls ratio that the posterior must beat: never used to plan.
    "scheduling_solver/reliability_study.py": "the raw-ratio baseline the posterior is compared with",
}


def _arithmetic_on_records(source: str, label: str) -> list[str]:
    found: dict[int, str] = {}
    # Breadth-first, so the outermost expression of a line is the one reported.
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.BinOp | ast.AugAssign):
            continue
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        names |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
        if names & _RECORD_NAMES:
            found.setdefault(node.lineno, f"{label}:{node.lineno}: {ast.unparse(node)}")
    return list(found.values())


@pytest.mark.parametrize("package", ["scheduling_solver", "analytics"])
def test_no_other_module_recomputes_a_show_probability(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if path.relative_to(ROOT).as_posix() not in _ALLOWED:
            offenders += _arithmetic_on_records(path.read_text(), path.relative_to(ROOT).as_posix())
    assert offenders == [], "call scheduling_solver.probability instead:\n" + "\n".join(offenders)


def test_the_recompute_check_sees_a_restated_formula():
    # Guard for the guard: the shapes problem.py and bench.py used before they called probability.
    vectorised = "def p(shows, misses, a, b):\n    return (shows + a) / (shows + misses + a + b)\n"
    by_worker = "def fit(workers):\n    return [w.shows / (w.shows + w.no_shows) for w in workers]\n"
    assert _arithmetic_on_records(vectorised, "sample") != []
    assert _arithmetic_on_records(by_worker, "sample") != []
