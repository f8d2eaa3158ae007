"""Every route that takes an object id: another tenant gets 404, a role without the right gets 403."""

from __future__ import annotations

import re
from typing import Any

import pytest

from backend.organizations.models import Role
from mobile_api.api import api
from tests.api import tenancy_cases_registry  # noqa: F401  (fills CASES)
from tests.api.tenancy_cases import CASES, TenancyCase
from tests.conftest import ApiClient, member
from tests.factories import OrganizationFactory

METHODS = {"get", "post", "put", "patch", "delete"}


def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    return {(m, path): op for path, ops in schema["paths"].items() for m, op in ops.items() if m in METHODS}


def _takes_an_object_id(path: str, op: dict[str, Any]) -> bool:
    if "{" in path:
        return True
    return any(p.get("in") == "query" and str(p.get("name", "")).endswith("_id") for p in op.get("parameters", []))


def test_every_route_with_an_object_id_has_a_tenancy_case() -> None:
    operations = _operations()
    routes = {key for key, op in operations.items() if _takes_an_object_id(key[1], op)}

    assert sorted(routes - set(CASES)) == [], "add a TenancyCase in tests/api/tenancy_cases_registry.py"
    assert sorted(set(CASES) - set(operations)) == [], "a TenancyCase names a route that no longer exists"


def _call(client: ApiClient, method: str, path: str, case: TenancyCase, org: Any) -> Any:
    params = case.make(org)
    url = re.sub(r"\{(\w+)\}", lambda m: str(params[m.group(1)]), path)
    body = case.body(org) if case.body else None
    query = {**case.query, **(params if case.in_query else {})}
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    if method == "get":
        return client.get(url)
    if method == "delete":
        return client.delete(url)
    return getattr(client, method)(url, json=body if body is not None else {})


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), sorted(CASES), ids=lambda v: str(v))
def test_another_tenant_gets_404(method: str, path: str) -> None:
    case = CASES[(method, path)]
    owner_org = OrganizationFactory()
    stranger = member(OrganizationFactory(), Role.OWNER)

    response = _call(ApiClient(stranger), method, path, case, owner_org)

    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"), sorted(k for k, c in CASES.items() if c.forbidden_role), ids=lambda v: str(v)
)
def test_a_role_without_the_right_gets_403(method: str, path: str) -> None:
    case = CASES[(method, path)]
    org = OrganizationFactory()
    assert case.forbidden_role is not None
    weak = member(org, case.forbidden_role)

    response = _call(ApiClient(weak), method, path, case, org)

    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "forbidden"
