"""``import scheduling_solver`` does not load OR-Tools (nor the pandas OR-Tools imports) nor scipy: every Django process
imports the staffing adapter through its URLs, and most never solve. The first CP-SAT model loads it
(ADR 0034 addendum)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import json, sys
import scheduling_solver
from scheduling_solver import parse_instance, solve, validate
instance = parse_instance(json.loads(open("tests/scheduling_solver/instances/short_day_full_first_seed13.json").read()))
assert "ortools" not in sys.modules, sorted(m for m in sys.modules if m.startswith("ortools"))[:5]
assert "pandas" not in sys.modules and "scipy" not in sys.modules
solution = solve(instance)
assert validate(instance, solution).ok
assert "selection" in [p.name for p in solution.phases], [p.name for p in solution.phases]
assert "ortools" in sys.modules  # the CP-SAT selection loaded it
print("ok")
"""


def test_import_and_parsing_do_not_load_ortools_and_a_solve_does() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")
