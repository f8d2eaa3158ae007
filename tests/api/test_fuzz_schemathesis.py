"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis, in-process WSGI).

Every operation is called with generated valid and invalid inputs as an authenticated manager; no call may
produce a 5xx or a response that breaks the documented schema, status codes or content types.
Examples per operation: ``BRIGADA_FUZZ_EXAMPLES`` (default 25).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.accounts.tokens import token_pair_issue
from tests.factories import BranchFactory, MembershipFactory, OrganizationFactory, UserFactory

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
EXAMPLES = int(os.environ.get("BRIGADA_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Any:
    """The raw WSGI handler closes "old" connections around each request, which would end the test's
    transaction; Django's own test client disconnects the same hook."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(db: Any) -> dict[str, str]:
    org = OrganizationFactory()
    BranchFactory(organization=org)
    user = UserFactory()
    MembershipFactory(user=user, organization=org, role="owner")
    return {"Authorization": f"Bearer {token_pair_issue(user=user).access_token}"}


@pytest.mark.slow  # 105 operations x EXAMPLES calls: started first on a worker of its own (ADR 0034)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_errors_and_keeps_its_schema(case: Any, auth_headers: dict[str, str]) -> None:
    headers = dict(auth_headers)
    if case.headers and "Authorization" in case.headers:
        headers.pop("Authorization")
    case.call_and_validate(headers=headers, checks=CHECKS)


def test_every_operation_is_a_test_of_its_own(request: pytest.FixtureRequest) -> None:
    """pytest-xdist schedules tests by node id: operations sharing one id would run once in `make test`
    (tests/conftest.py's ``_unique_schemathesis_ids``)."""
    ids = [item.nodeid for item in request.session.items if type(item).__name__ == "SchemathesisFunction"]
    if not ids:
        pytest.skip("run without the fuzz tests themselves")
    operations = sum(1 for _ in schema.get_all_operations())
    assert len(ids) == operations, (len(ids), operations)
    assert len(set(ids)) == len(ids), sorted(ids)[:3]
