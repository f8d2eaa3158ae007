"""The OpenAPI document is a contract with the mobile app: snapshot it and check every error is documented.

To accept an intended change: ``UPDATE_OPENAPI_SNAPSHOT=1 make test`` and review the diff of
``tests/api/openapi_snapshot.json`` like any other code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from mobile_api.api import api

SNAPSHOT = Path(__file__).with_name("openapi_snapshot.json")
METHODS = {"get", "post", "put", "patch", "delete"}


def _schema() -> dict[str, Any]:
    return json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/v1/"), sort_keys=True, default=str))


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, ops in sorted(schema["paths"].items())
        for method, op in sorted(ops.items())
        if method in METHODS
    ]


def test_openapi_document_is_served_with_docs(db: Any) -> None:
    client = Client()

    document = client.get("/api/v1/openapi.json")
    docs = client.get("/api/v1/docs")

    assert document.status_code == 200
    assert document.json()["info"]["title"] == "Brigada API"
    assert docs.status_code == 200


def test_openapi_matches_snapshot() -> None:
    current = _schema()
    if os.environ.get("UPDATE_OPENAPI_SNAPSHOT") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    stored = json.loads(SNAPSHOT.read_text())

    assert current == stored, (
        "The API changed. If intended, run UPDATE_OPENAPI_SNAPSHOT=1 make test and review the snapshot diff."
    )


def test_every_operation_documents_its_error_envelopes() -> None:
    schema = _schema()
    missing = []
    for method, path, op in _operations(schema):
        responses = op.get("responses", {})
        needed = {"422", "429"}
        if op.get("security"):
            needed.add("401")
        if "{" in path:
            needed |= {"404"}
        if method == "post" and not path.startswith("/api/v1/auth/"):
            needed.add("409")  # idempotency conflicts
        for status in sorted(needed - set(responses)):
            missing.append(f"{method.upper()} {path} does not document {status}")
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                ref = json.dumps(response.get("content", {}))
                if "ErrorEnvelope" not in ref:
                    missing.append(f"{method.upper()} {path} {status} is not the error envelope")

    assert missing == []


def test_error_envelope_shape_is_documented() -> None:
    envelope = _schema()["components"]["schemas"]["ErrorEnvelope"]

    assert envelope["required"] == ["error"]


@pytest.mark.parametrize("path", ["/api/v1/me"])
def test_unauthenticated_call_gets_envelope_401(db: Any, path: str) -> None:
    response = Client().get(path)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response["WWW-Authenticate"] == "Bearer"
