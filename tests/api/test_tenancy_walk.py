"""The tenancy walk over every route that takes an object id: path, query, JSON body and multipart form fields.

Another tenant gets 404 and changes nothing; my object with a stranger's id in any one field gets the refusal its
case documents and changes nothing; every role lacking the route's right (the strongest of them on its own too)
gets 403, every role holding it succeeds. What each check does is in tests/api/tenancy_cases.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from mobile_api.api import api
from tests.api import tenancy_cases_registry  # noqa: F401  (fills CASES)
from tests.api.tenancy_cases import (
    CASES,
    STRANGERS,
    Call,
    call_fields,
    check_mixed,
    check_role,
    check_stranger,
    id_fields,
    mixed_call,
    mixed_fields,
    operations,
    roles_lacking,
    strongest_roles_lacking,
)
from tests.factories import OrganizationFactory

SCHEMA: dict[str, Any] = dict(api.get_openapi_schema(path_prefix="/api/v1/"))
OPERATIONS = operations(SCHEMA)
ROUTES = sorted(CASES)
MIXED = [(m, p, key) for m, p in ROUTES for key in mixed_fields(SCHEMA, m, p)]
STRONGEST = [(m, p, role) for m, p in ROUTES for role in strongest_roles_lacking(CASES[(m, p)])]
MATRIX = [(m, p, role) for m, p in ROUTES for role in ("owner", "manager", "dispatcher", "master", "worker", "analyst")]


def _id(value: Any) -> str:
    return str(value)


def test_every_route_with_an_object_id_has_a_tenancy_case() -> None:
    routes = {key for key, op in OPERATIONS.items() if id_fields(SCHEMA, op)}

    assert sorted(routes - set(CASES)) == [], "add a TenancyCase in tests/api/tenancy_cases_registry.py"
    assert sorted(set(CASES) - set(OPERATIONS)) == [], "a TenancyCase names a route that no longer exists"


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=_id)
def test_the_case_fills_every_id_field_the_route_takes(method: str, path: str) -> None:
    call = CASES[(method, path)].build(OrganizationFactory())

    assert call_fields(call) == id_fields(SCHEMA, OPERATIONS[(method, path)]), (
        "the case's call must fill exactly the route's id fields (body and form included), so each one is swapped "
        "for a stranger's in a mixed call"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("stranger", STRANGERS)
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=_id)
def test_another_tenant_gets_404_and_changes_nothing(method: str, path: str, stranger: str) -> None:
    assert check_stranger(method, path, CASES[(method, path)], stranger) is None


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "key"), MIXED, ids=_id)
def test_my_call_naming_a_strangers_object_is_refused_and_changes_nothing(method: str, path: str, key: str) -> None:
    assert check_mixed(method, path, CASES[(method, path)], key) is None


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "role"), STRONGEST, ids=_id)
def test_the_strongest_role_without_the_right_gets_403(method: str, path: str, role: str) -> None:
    assert check_role(method, path, CASES[(method, path)], role) is None


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "role"), MATRIX, ids=_id)
def test_each_role_gets_what_the_role_table_gives_it(method: str, path: str, role: str) -> None:
    assert check_role(method, path, CASES[(method, path)], role) is None


def test_the_walk_covers_what_it_must() -> None:
    # Not a tautology: these are the ids the walk was blind to when it read only paths and *_id query parameters.
    assert {
        ("post", "/api/v1/crm/clients/{client_id}/merge", "body.duplicate_id"),
        ("post", "/api/v1/crm/clients/bulk", "body.client_ids"),
        ("post", "/api/v1/crm/clients/bulk", "body.add_group_ids"),
        ("patch", "/api/v1/crm/clients/{client_id}", "body.source_id"),
        ("patch", "/api/v1/crm/clients/{client_id}", "body.curator_id"),
    } <= set(MIXED)
    assert ("post", "/api/v1/crm/imports") in CASES
    # The strongest role lacking a right is derived from the table, not the weakest one.
    assert strongest_roles_lacking(CASES[("patch", "/api/v1/crm/clients/{client_id}")]) == ["analyst"]
    # The dispatcher holds one right more than the analyst (booking.schedule.view), so it alone is the strongest.
    assert strongest_roles_lacking(CASES[("post", "/api/v1/crm/clients/{client_id}/merge")]) == ["dispatcher"]
    assert "owner" not in roles_lacking(CASES[("post", "/api/v1/crm/imports")])


# --- the field derivation on its own: nested objects, arrays of objects, $refs, combinators --------------------

_NESTED_SCHEMA: dict[str, Any] = {
    "paths": {
        "/x/{thing_id}": {
            "post": {
                "parameters": [
                    {"in": "path", "name": "thing_id"},
                    {"in": "query", "name": "branch_id"},
                    {"in": "query", "name": "limit"},
                    {"in": "header", "name": "x_id"},
                ],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Outer"}}}},
            }
        }
    },
    "components": {
        "schemas": {
            "Outer": {
                "type": "object",
                "properties": {
                    "owner_id": {"type": "integer"},
                    "tag_ids": {"type": "array", "items": {"type": "integer"}},
                    "note": {"type": "string"},
                    "inner": {"anyOf": [{"$ref": "#/components/schemas/Inner"}, {"type": "null"}]},
                    "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                },
            },
            "Inner": {"allOf": [{"properties": {"source_id": {"type": "integer"}}}]},
            "Line": {"properties": {"service_id": {"type": "integer"}, "child": {"$ref": "#/components/schemas/Line"}}},
        }
    },
}


def test_id_fields_reach_nested_objects_arrays_and_refs() -> None:
    op = operations(_NESTED_SCHEMA)[("post", "/x/{thing_id}")]

    assert id_fields(_NESTED_SCHEMA, op) == {
        "path.thing_id",
        "query.branch_id",
        "body.owner_id",
        "body.tag_ids",
        "body.inner.source_id",
        "body.lines[].service_id",
    }  # a recursive $ref (Line.child) is followed once: its fields are the ones already listed


def test_a_mixed_call_swaps_one_nested_field_and_extends_id_lists() -> None:
    mine = Call(path={"thing_id": 1}, body={"owner_id": 1, "tag_ids": [1], "lines": [{"service_id": 1}]})
    theirs = Call(path={"thing_id": 2}, body={"owner_id": 2, "tag_ids": [2], "lines": [{"service_id": 2}]})

    assert call_fields(mine) == {"path.thing_id", "body.owner_id", "body.tag_ids", "body.lines[].service_id"}
    assert mixed_call(mine, theirs, "body.lines[].service_id").body == {
        "owner_id": 1,
        "tag_ids": [1],
        "lines": [{"service_id": 2}],
    }
    assert mixed_call(mine, theirs, "body.tag_ids").body == {
        "owner_id": 1,
        "tag_ids": [1, 2],
        "lines": [{"service_id": 1}],
    }
    assert mixed_call(mine, theirs, "path.thing_id").path == {"thing_id": 2}
