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
