"""Every write route of the published OpenAPI document takes an ``Idempotency-Key`` (POST, PUT, PATCH, DELETE; auth
excepted): the document says so, the middleware checks the key on that route (a malformed one is refused before
the view runs), and a retry with the same key never answers differently nor 5xx. A PATCH is replayed for real."""

from __future__ import annotations

import re
from typing import Any

import pytest

from backend.core.models import Event, IdempotencyRecord
from backend.organizations.models import Organization, Role
from mobile_api.api import api
from mobile_api.idempotency import EXEMPT_PREFIXES, HEADER, WRITE_METHODS
from tests.conftest import ApiClient, member

pytestmark = pytest.mark.django_db


def _write_operations() -> list[tuple[str, str]]:
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    return sorted(
        (method, path)
        for path, ops in schema["paths"].items()
        for method in ops
        if method.upper() in WRITE_METHODS and path.startswith("/api/v1/") and not path.startswith(EXEMPT_PREFIXES)
    )


def _send(client: ApiClient, method: str, path: str, headers: dict[str, str]) -> Any:
    url = re.sub(r"\{[^}]+\}", "1", path)
    return getattr(client.client, method)(
        url, data="{}", content_type="application/json", headers=client._headers(headers)
    )


def test_the_walk_sees_patch_routes_too() -> None:
    methods = {m for m, _ in _write_operations()}
    assert {"post", "patch"} <= methods and len(_write_operations()) >= 40


def test_every_write_route_documents_the_key() -> None:
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    for method, path in _write_operations():
        params = schema["paths"][path][method].get("parameters", [])
        assert any(p["name"] == HEADER and p["in"] == "header" for p in params), (method, path)


def test_every_write_route_checks_the_key_and_a_retry_answers_alike(org: Organization) -> None:
    client = ApiClient(member(org, Role.OWNER))
    for method, path in _write_operations():
        bad = _send(client, method, path, {HEADER: "not a key"})
        assert bad.status_code == 422 and "Idempotency-Key" in bad.json()["error"]["message"], (method, path)
        first = _send(client, method, path, {HEADER: f"walk-{method}-{path}"[:255]})
        again = _send(client, method, path, {HEADER: f"walk-{method}-{path}"[:255]})
        assert first.status_code < 500 and again.status_code == first.status_code, (method, path, first.content)


def test_a_patch_with_the_same_key_takes_effect_once_and_is_replayed(org: Organization) -> None:
    client = ApiClient(member(org, Role.MANAGER))
    created = client.post("/api/v1/crm/clients", {"organization_id": org.pk, "phone": "+77015550101"}).json()
    url = f"/api/v1/crm/clients/{created['id']}"
    key = {HEADER: "patch-once"}
    first = client.patch(url, {"first_name": "Aru"}, headers=key)
    events = Event.objects.filter(entity_type="crm.client", entity_id=str(created["id"])).count()
    again = client.patch(url, {"first_name": "Aru"}, headers=key)
    assert first.status_code == again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Event.objects.filter(entity_type="crm.client", entity_id=str(created["id"])).count() == events
    assert IdempotencyRecord.objects.filter(key="patch-once").count() == 1
    other = client.patch(url, {"first_name": "Other"}, headers=key)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
