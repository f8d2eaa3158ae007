"""One entry per API route that takes an object id: how to make such an object inside a tenant.

``tests/api/test_tenancy_walk.py`` walks the OpenAPI document and fails when a route with an id parameter (in the
path, or a query parameter named ``*_id``) has no entry here, so a new route cannot ship without its tenancy check.
Routes that take the organization in the body are registered too (creating inside another tenant is a 404).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend.organizations.models import Organization, Role


@dataclass(frozen=True)
class TenancyCase:
    # Creates the object inside ``organization`` and returns the path parameters that address it.
    make: Callable[[Organization], dict[str, Any]]
    # A valid request body (validation runs before the view, so an invalid body would hide the 404).
    body: Callable[[Organization], Any] | None = None
    # A role in the same organization that lacks the right (403); None when every member may call it.
    forbidden_role: str | None = Role.WORKER
    # The ids ``make`` returns go in the query string rather than the path (organization-scoped lists).
    in_query: bool = False
    query: dict[str, Any] = field(default_factory=dict)


CASES: dict[tuple[str, str], TenancyCase] = {}


def register(method: str, path: str, case: TenancyCase) -> None:
    CASES[(method.lower(), path)] = case
