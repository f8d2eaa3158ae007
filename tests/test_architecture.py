"""Import rules: the solver and the analytics library are pure; Django stays in backend and transports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("django", "backend", "mobile_api", "bots", "channels", "ninja", "telegram")


def _imports(package: str) -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in FORBIDDEN:
                    found.append((str(path.relative_to(ROOT)), name))
    return found


@pytest.mark.parametrize("package", ["scheduling_solver", "analytics"])
def test_pure_packages_import_nothing_from_django_or_the_backend(package: str) -> None:
    assert _imports(package) == []


@pytest.mark.parametrize("package", ["scheduling_solver", "analytics"])
def test_pure_packages_import_in_a_fresh_interpreter_without_loading_django(package: str) -> None:
    code = (
        f"import importlib, pkgutil, sys\nimport {package}\n"
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in {'django', 'backend'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )

    assert result.stdout.strip() == ""


def test_backend_domains_do_not_import_transports() -> None:
    """Only the project wiring (backend/config: urls, asgi) may name the transports."""
    offenders = [
        (path, name)
        for path, name in _imports("backend")
        if name.split(".")[0] in {"mobile_api", "bots"} and not path.startswith("backend/config/")
    ]

    assert offenders == []
