"""The report notebooks: committed without outputs, in sync with their py:percent twins, free of logic, and
executed end to end with nbmake on a warehouse exported from a demo world.

The notebooks read no database, so this module runs once, in the SQLite leg of CI (the PostgreSQL leg ignores
tests/notebooks). The warehouse is what ``export_analytics`` writes from the ``ci`` demo world, simulated through
the services (``demo_warehouse`` in tests/notebooks/conftest.py, built once per session).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import polars as pl
import pytest

from analytics import churn_flags, cohort_retention, purchases, reports

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
IPYNB = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
TWINS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
EXPECTED = {
    "01_clients_and_cohorts",
    "02_abc_xyz",
    "03_churn_rfm_ltv",
    "04_staffing_fill_and_no_shows",
    "05_manager_dashboard",
}


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_the_five_report_notebooks_exist_each_with_its_py_twin() -> None:
    assert {p.stem for p in IPYNB} == EXPECTED
    assert {p.stem for p in TWINS} == EXPECTED


@pytest.mark.parametrize("path", IPYNB, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]

    assert code
    assert [c.outputs for c in code] == [[] for _ in code]
    assert {c.execution_count for c in code} == {None}


@pytest.mark.parametrize("path", IPYNB, ids=lambda p: p.stem)
def test_notebook_and_its_py_percent_twin_are_in_sync(path: Path) -> None:
    twin = path.with_suffix(".py")
    text = twin.read_text()
    assert "format_name: percent" in text and "formats: ipynb,py:percent" in text

    assert _cells(jupytext.read(twin)) == _cells(nbformat.read(path, as_version=4))


@pytest.mark.parametrize("path", TWINS, ids=lambda p: p.stem)
def test_notebook_holds_no_logic(path: Path) -> None:
    """Only imports, assignments of library calls, and expressions: no functions, loops, branches, lambdas."""
    tree = ast.parse(path.read_text())
    banned = (
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.For,
        ast.While,
        ast.If,
        ast.Lambda,
        ast.ListComp,
        ast.DictComp,
        ast.SetComp,
        ast.GeneratorExp,
    )
    found = [type(n).__name__ for n in ast.walk(tree) if isinstance(n, banned)]

    assert found == []
    imports = {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert imports == {"analytics"}


# The marker makes pytest-django create the test database, which the session's demo world is built in (and flushed
# from); the tests themselves read only the exported Parquet files.
@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.timeout(900)  # the first test to ask builds the session's demo world (minutes on a loaded machine)
def test_the_demo_warehouse_has_the_structure_the_notebooks_read(demo_warehouse: Path) -> None:
    """A young business would make the notebooks' pictures empty: the CI world has a year of cohorts, enough
    history for the churn rule to be chosen by a back-test, and staffing days."""
    con = reports.open_warehouse(demo_warehouse)
    visits = reports.business_visits(con)

    cohorts = pl.DataFrame(cohort_retention(visits, period="month"))
    assert cohorts["cohort"].n_unique() >= 12
    churn = churn_flags(purchases(visits), method="auto")
    assert churn.choice is not None and churn.choice.fallback is None and churn.choice.split is not None
    check = reports.model_check(visits, model="pareto", holdout_days=90)
    assert check.calibration.height > 1 and check.holdout["actual_total"].sum() > 0
    shifts, offers, attendance = (con.table(t).shape[0] for t in ("shifts", "offers", "attendance"))
    assert shifts > 0 and offers > shifts and attendance > 0


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.timeout(900)
def test_notebooks_execute_on_the_exported_demo(demo_warehouse: Path, tmp_path: Path) -> None:
    warehouse = demo_warehouse
    home = tmp_path / "home"
    env = {
        **os.environ,
        "BRIGADA_WAREHOUSE": str(warehouse),
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(home / "matplotlib"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    # Without --overwrite nbmake leaves the committed notebooks untouched (outputs stay out of the repo).
    cmd = [sys.executable, "-m", "pytest", "--nbmake", *map(str, IPYNB)]
    cmd += ["-q", "-p", "no:cacheprovider", "-p", "no:django", "--rootdir", str(tmp_path), "-c", os.devnull]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert f"{len(IPYNB)} passed" in result.stdout
    assert not any(p.stat().st_size == 0 for p in IPYNB)
    assert all(not c.get("outputs") for p in IPYNB for c in nbformat.read(p, as_version=4).cells)
