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
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)

    assert result.stdout.strip() == ""


def test_backend_domains_do_not_import_transports() -> None:
    """Only the project wiring (backend/config: urls, asgi) may name the transports."""
    offenders = [
        (path, name)
        for path, name in _imports("backend")
        if name.split(".")[0] in {"mobile_api", "bots"} and not path.startswith("backend/config/")
    ]

    assert offenders == []


def _backend_apps() -> set[str]:
    return {p.parent.name for p in (ROOT / "backend").glob("*/apps.py")}


def _core_imports_of_apps(root: Path) -> list[tuple[str, str]]:
    """Imports of another backend app anywhere under ``root`` (absolute, relative, or inside functions)."""
    others = _backend_apps() - {"core"}
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0 and node.module:
                    names = [node.module]
                elif node.level >= 2:  # from ..crm import ... climbs out of core
                    names = [f"backend.{node.module or ''}"]
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) in {"import_module", "import_string"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names = [node.args[0].value]
            for name in names:
                parts = name.split(".")
                if parts[0] == "backend" and len(parts) > 1 and parts[1] in others:
                    found.append((str(path.relative_to(root)), name))
    return found


def test_core_imports_no_other_backend_app() -> None:
    """backend/core sits below the apps: the apps may use it, it names none of them (settings wire them in)."""
    assert _core_imports_of_apps(ROOT / "backend" / "core") == []


def test_the_core_rule_catches_an_app_import(tmp_path: Path) -> None:
    # given a core module that imports an app lazily, the way the worker command used to
    (tmp_path / "probe.py").write_text(
        "def sweep():\n    from backend.notifications.dispatch import outbox_sweep\n    return outbox_sweep()\n"
        "from backend.organizations.permissions import Perm\n"
    )
    (tmp_path / "probe_relative.py").write_text("from ..crm import services\n")
    found = {name for _path, name in _core_imports_of_apps(tmp_path)}
    assert found == {"backend.notifications.dispatch", "backend.organizations.permissions", "backend.crm"}


def _service_and_selector_modules() -> list[Path]:
    backend = ROOT / "backend"
    return sorted(
        path
        for path in backend.rglob("*.py")
        if "migrations" not in path.parts
        and (path.stem in ("services", "selectors") or "services" in path.parts or "selectors" in path.parts)
    )


def _public_functions_without_docstring(paths: list[Path], root: Path = ROOT) -> list[str]:
    missing = []
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:
            public = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_")
            if public and ast.get_docstring(node) is None:
                missing.append(f"{path.relative_to(root)}:{node.lineno} {node.name}")
    return missing


def test_every_public_service_and_selector_has_a_docstring() -> None:
    """The service layer is the API other transports and successors read: each public function says what it does."""
    modules = _service_and_selector_modules()
    assert any(p.parent.name == "services" for p in modules), "the services packages were not found"
    assert _public_functions_without_docstring(modules) == []


def test_the_docstring_rule_sees_a_bare_function(tmp_path: Path) -> None:
    module = tmp_path / "services.py"
    module.write_text('def documented() -> None:\n    """Does one thing."""\n\n\ndef bare() -> None:\n    pass\n')
    assert _public_functions_without_docstring([module], root=tmp_path) == ["services.py:5 bare"]
