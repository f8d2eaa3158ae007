"""Every failure leaves the API as the one envelope, never as Django's HTML error page."""

from __future__ import annotations

from django.db import IntegrityError, OperationalError
from django.http import HttpRequest
from ninja import NinjaAPI, Schema
from ninja.testing import TestClient

from backend.core.exceptions import Conflict, NotFound, Throttled
from mobile_api.errors import install_error_handlers


class Payload(Schema):
    count: int


class FakeDeadlock(Exception):
    sqlstate = "40P01"


def _client() -> TestClient:
    api = NinjaAPI(urls_namespace="envelope-test")
    install_error_handlers(api)

    @api.get("/conflict")
    def conflict(request: HttpRequest) -> None:
        raise Conflict("Slot taken.", code="slot_taken", fields={"start": ["taken"]})

    @api.get("/missing")
    def missing(request: HttpRequest) -> None:
        raise NotFound("Not found.")

    @api.get("/slow-down")
    def slow_down(request: HttpRequest) -> None:
        raise Throttled("Wait.", retry_after=7)

    @api.post("/validate")
    def validate(request: HttpRequest, payload: Payload) -> dict[str, int]:
        return {"count": payload.count}

    @api.get("/boom")
    def boom(request: HttpRequest) -> None:
        raise RuntimeError("unexpected")

    @api.get("/integrity")
    def integrity(request: HttpRequest) -> None:
        raise IntegrityError("duplicate key")

    @api.get("/deadlock")
    def deadlock(request: HttpRequest) -> None:
        try:
            raise FakeDeadlock()
        except FakeDeadlock as cause:
            raise OperationalError("deadlock detected") from cause

    return TestClient(api)


def test_application_error_keeps_code_message_and_fields() -> None:
    response = _client().get("/conflict")

    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "slot_taken", "message": "Slot taken.", "fields": {"start": ["taken"]}}
    }


def test_not_found_and_throttled_have_stable_codes() -> None:
    client = _client()

    assert client.get("/missing").json()["error"]["code"] == "not_found"
    throttled = client.get("/slow-down")
    assert (throttled.status_code, throttled["Retry-After"]) == (429, "7")


def test_schema_validation_is_422_with_field_paths() -> None:
    response = _client().post("/validate", json={"count": "many"})

    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert "count" in body["fields"]


def test_unexpected_exception_is_a_json_500_not_an_html_page() -> None:
    response = _client().get("/boom")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "internal_error"


def test_untranslated_constraint_violation_is_a_409() -> None:
    assert _client().get("/integrity").status_code == 409


def test_deadlock_or_serialization_failure_becomes_409_conflict() -> None:
    response = _client().get("/deadlock")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


class FakeDataError(Exception):
    sqlstate = "22P05"  # untranslatable character (e.g. NUL in text)


def test_database_data_error_is_422_and_a_connection_loss_is_503() -> None:
    from django.db import DataError, OperationalError
    from ninja import NinjaAPI
    from ninja.testing import TestClient

    api = NinjaAPI(urls_namespace="db-errors-test")
    install_error_handlers(api)

    @api.get("/data")
    def data(request: HttpRequest) -> None:
        try:
            raise FakeDataError()
        except FakeDataError as cause:
            raise DataError("bad value") from cause

    @api.get("/down")
    def down(request: HttpRequest) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    client = TestClient(api)
    bad = client.get("/data")
    gone = client.get("/down")

    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "validation_error")
    assert (gone.status_code, gone["Retry-After"]) == (503, "2")


def test_a_json_body_over_the_memory_limit_is_a_413_envelope(db: object) -> None:
    from django.test import Client

    response = Client().post(
        "/api/v1/auth/otp/request", data='{"phone": "' + "1" * 3_000_000 + '"}', content_type="application/json"
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
