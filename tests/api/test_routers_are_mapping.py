"""Routers map HTTP to selectors and services: no calendar arithmetic, no "which organization" choice, no file
handling rules of their own."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
from django.apps import apps

import mobile_api
from backend.core.exceptions import ApplicationError

# Names that mean a decision belongs in a selector or service, not in a transport.
FORBIDDEN = re.compile(r"\b(timedelta|ZoneInfo|zoneinfo|make_aware|default_organization_id|MAX_FILE_BYTES)\b")
ROUTERS = sorted(Path(mobile_api.__file__).parent.glob("*/router.py"))


def test_routers_leave_dates_organizations_and_files_to_the_domain() -> None:
    found = [
        f"{path.relative_to(Path(mobile_api.__file__).parent.parent)}:{number}: {line.strip()}"
        for path in ROUTERS
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if FORBIDDEN.search(line)
    ]

    assert ROUTERS and found == []


def test_imports_have_their_own_router_under_the_crm_paths() -> None:
    from mobile_api.api import api

    paths = api.get_openapi_schema(path_prefix="/api/v1/")["paths"]
    tags = {
        op["tags"][0] for path, ops in paths.items() if path.startswith("/api/v1/crm/imports") for op in ops.values()
    }

    assert {"/api/v1/crm/imports", "/api/v1/crm/imports/{job_id}"} <= set(paths)
    assert tags == {"imports"}


# --- errors and field lists belong to the services -----------------------------------------------------------
#
# The rule: a router module never constructs an ``ApplicationError`` (a ``ValidationFailed``, ``Conflict``...) —
# a raise, or an instance made to be raised later, is a rule the service should hold; turning errors into HTTP is
# ``mobile_api.errors``' job, outside the routers. And a router spells no list of two or more field names of one
# model: such a list is a field definition (``backend.crm.fields``), and a copy drifts from it.


def _imported_names(tree: ast.Module) -> dict[str, object]:
    """The objects a module's ``from x import y`` statements bind, resolved by importing ``x`` (the router itself
    is not executed, so a synthetic sample is read the same way)."""
    names: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            module = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(module, alias.name):
                    names[alias.asname or alias.name] = getattr(module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = importlib.import_module(alias.name.split(".")[0])
    return names


def _resolve(node: ast.expr, names: dict[str, object]) -> object:
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        return getattr(_resolve(node.value, names), node.attr, None)
    return None


def _model_field_sets() -> list[set[str]]:
    return [{f.name for f in m._meta.get_fields()} for m in apps.get_models() if m.__module__.startswith("backend.")]


def router_rule_breaks(source: str) -> list[str]:
    """Lines of ``source`` (a router module) that construct an application error or spell a model's field list."""
    tree = ast.parse(source)
    names = _imported_names(tree)
    field_sets = _model_field_sets()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            target = _resolve(node.func, names)
            if isinstance(target, type) and issubclass(target, ApplicationError):
                found.append(f"{node.lineno}: constructs {target.__name__}")
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            strings = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            if len(strings) >= 2 and len(strings) == len(node.elts) and any(strings <= s for s in field_sets):
                found.append(f"{node.lineno}: spells the field list {sorted(strings)}")
    return sorted(found, key=lambda line: int(line.split(":")[0]))


OLD_ROUTER = """
from backend.core.exceptions import ValidationFailed
from backend.core import exceptions
from backend.crm import services


def vehicle_patch(request, vehicle_id, payload):
    data = payload.model_dump(exclude_unset=True)
    for name in ("make", "model", "plate", "vin"):
        if name in data and data[name] is None:
            raise ValidationFailed("Some fields are invalid.", fields={name: ["May not be null."]})
    return services.vehicle_update(user=request.auth, vehicle_id=vehicle_id, data=data)


def later(request):
    error = exceptions.Conflict("kept for later")
    raise error
"""


def test_the_router_rule_catches_what_the_routers_used_to_do() -> None:
    assert router_rule_breaks(OLD_ROUTER) == [
        "9: spells the field list ['make', 'model', 'plate', 'vin']",
        "11: constructs ValidationFailed",
        "16: constructs Conflict",
    ]


def test_the_router_rule_lets_plain_mapping_through() -> None:
    mapping = (
        "from backend.crm import services\n"
        "def vehicle_patch(request, vehicle_id, payload):\n"
        "    formats = ('csv', 'xlsx')\n"
        "    return services.vehicle_update(user=request.auth, vehicle_id=vehicle_id, data=payload.model_dump())\n"
    )
    assert router_rule_breaks(mapping) == []


@pytest.mark.parametrize("path", ROUTERS, ids=lambda p: str(p.parent.name))
def test_routers_raise_no_application_errors_and_spell_no_field_lists(path: Path) -> None:
    assert router_rule_breaks(path.read_text()) == []
