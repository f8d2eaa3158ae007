"""Every failure under /api/v1 leaves the real API (mobile_api.api.api, through the project's URLconf) as the one
envelope, never as Django's HTML error page or a bare status."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DataError, IntegrityError, OperationalError
from django.test import Client

from backend.core.exceptions import Throttled
from backend.crm.models import Client as CrmClient
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


def _envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return body["error"]


# --- the router cannot answer: unknown path, wrong method ----------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/crm/clients/1/nope", "/api/v1/me/"])
def test_an_unknown_path_is_a_404_envelope_in_every_method(org, manager, method, path) -> None:
    response = getattr(ApiClient(manager), method)(path)

    _envelope(response, 404, "not_found")


def test_an_unknown_path_is_a_404_envelope_without_a_token_too() -> None:
    _envelope(Client().post("/api/v1/no/such/route", data={}), 404, "not_found")


def test_a_known_path_with_another_method_is_a_405_envelope_with_allow(org, manager) -> None:
    response = ApiClient(manager).delete("/api/v1/me")

    _envelope(response, 405, "method_not_allowed")
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "PATCH"}


# --- bodies the schema never sees: not an object, broken multipart -------------------------------------------


@pytest.mark.parametrize("body", ["[]", '"x"', "1", "null", "[{}]"])
def test_a_json_body_that_is_not_an_object_is_a_422_and_changes_nothing(org, manager, body) -> None:
    client = CrmClient.objects.create(organization=org, phone="+77015550101", first_name="Ann")
    user_before = type(manager).objects.filter(pk=manager.pk).values().get()
    client_before = CrmClient.objects.filter(pk=client.pk).values().get()
    api = ApiClient(manager)
    headers = {"Authorization": f"Bearer {api.token}"}

    me = api.client.generic("PATCH", "/api/v1/me", data=body, content_type="application/json", headers=headers)
    card = api.client.generic(
        "PATCH", f"/api/v1/crm/clients/{client.pk}", data=body, content_type="application/json", headers=headers
    )

    assert _envelope(me, 422, "validation_error")["fields"] == {"__all__": ["The body must be a JSON object."]}
    _envelope(card, 422, "validation_error")
    assert type(manager).objects.filter(pk=manager.pk).values().get() == user_before
    assert CrmClient.objects.filter(pk=client.pk).values().get() == client_before


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"kind=clients"),  # no boundary
        ("multipart/form-data; boundary=", b"--\r\n"),  # empty boundary
        ("multipart/form-data; boundary=xyz", b""),  # empty body
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data\r\n\r\ncut"),
    ],
)
@pytest.mark.parametrize("idempotency_key", [None, "fuzz-1"])
def test_a_malformed_or_empty_multipart_import_is_a_422_envelope(
    org, manager, content_type, body, idempotency_key
) -> None:
    api = ApiClient(manager)
    headers = {"Authorization": f"Bearer {api.token}"}
    if idempotency_key:
        # The idempotency middleware reads the form before any view: Django itself then answered a bare 400.
        headers["Idempotency-Key"] = idempotency_key

    response = api.client.generic("POST", "/api/v1/crm/imports", data=body, content_type=content_type, headers=headers)

    _envelope(response, 422, "validation_error")
    assert not CrmClient.objects.exists()


def test_a_json_body_over_the_memory_limit_is_a_413_envelope() -> None:
    response = Client().post(
        "/api/v1/auth/otp/request", data='{"phone": "' + "1" * 3_000_000 + '"}', content_type="application/json"
    )

    _envelope(response, 413, "payload_too_large")


# --- errors raised by the code behind a real route ------------------------------------------------------------


def test_application_error_keeps_code_message_and_fields(org, manager) -> None:
    CrmClient.objects.create(organization=org, phone="+77015550101")

    response = ApiClient(manager).post("/api/v1/crm/clients", json={"phone": "+77015550101"})

    error = _envelope(response, 409, "client_phone_taken")
    assert error["message"]
    assert CrmClient.objects.count() == 1


def test_another_tenants_object_is_a_404_envelope(org, manager, other_org) -> None:
    foreign = CrmClient.objects.create(organization=other_org, phone="+77015550101")

    _envelope(ApiClient(manager).get(f"/api/v1/crm/clients/{foreign.pk}"), 404, "not_found")


def test_schema_validation_is_422_with_field_paths(org, manager) -> None:
    response = ApiClient(manager).post("/api/v1/crm/clients", json={"phone": "", "birthday": "tomorrow"})

    error = _envelope(response, 422, "validation_error")
    assert {"phone", "birthday"} <= set(error["fields"])


def test_unauthenticated_is_a_401_envelope() -> None:
    response = Client().get("/api/v1/me")

    _envelope(response, 401, "unauthorized")
    assert response["WWW-Authenticate"] == "Bearer"


class _SqlState(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _raising(exc: BaseException) -> Any:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return fail


def _from_sqlstate(error: type[Exception], sqlstate: str) -> Exception:
    try:
        raise _SqlState(sqlstate)
    except _SqlState as cause:
        try:
            raise error("database said no") from cause
        except error as exc:
            return exc


@pytest.mark.parametrize(
    ("raised", "status", "code"),
    [
        (RuntimeError("unexpected"), 500, "internal_error"),
        (IntegrityError("duplicate key"), 409, "conflict"),
        (_from_sqlstate(OperationalError, "40P01"), 409, "conflict"),  # deadlock
        (_from_sqlstate(OperationalError, "40001"), 409, "conflict"),  # serialization failure
        (_from_sqlstate(DataError, "22P05"), 422, "validation_error"),  # untranslatable character
        (OperationalError("server closed the connection unexpectedly"), 503, "unavailable"),
        (Throttled("Wait.", retry_after=7), 429, "throttled"),
    ],
    ids=["unexpected", "integrity", "deadlock", "serialization", "data", "connection-lost", "throttled"],
)
def test_failures_behind_a_real_route_map_to_the_envelope(monkeypatch, org, manager, raised, status, code) -> None:
    # Fault injection at the one selector GET /me calls: the route, the API and its handlers are the real ones.
    monkeypatch.setattr("mobile_api.system.router.memberships_of", _raising(raised))

    response = ApiClient(manager).get("/api/v1/me")

    _envelope(response, status, code)
    if status == 429:
        assert response["Retry-After"] == "7"
    if status == 503:
        assert response["Retry-After"] == "2"


def test_the_real_api_is_what_these_tests_reach() -> None:
    from django.urls import resolve

    from mobile_api.api import api

    match = resolve("/api/v1/me")
    assert match.namespace == api.urls_namespace
