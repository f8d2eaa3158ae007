"""Shared fixtures: users with roles in two tenants, API clients with bearer tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from backend.accounts.models import User
from backend.accounts.tokens import token_pair_issue
from backend.organizations.models import Organization, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

# A real browser (`browser`) and a live ASGI server (`asgi_live_server`) for the tests that need them.
pytest_plugins = ["tests.browser", "tests.live_asgi"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if settings.IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (runs in the PostgreSQL leg of CI)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


class ApiClient:
    """Django's test client with a bearer token and JSON bodies."""

    def __init__(self, user: User | None = None, **client_kwargs: Any) -> None:
        self.client = Client(**client_kwargs)
        self.user = user
        self.token = token_pair_issue(user=user).access_token if user is not None else None

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        if self.token:
            out.setdefault("Authorization", f"Bearer {self.token}")
        return out

    def get(self, path: str, data: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(path, data=data, headers=self._headers(headers))

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        if "data" in kw:
            return self.client.post(path, data=kw.pop("data"), headers=self._headers(headers), **kw)
        return self.client.post(
            path,
            data=json if json is not None else {},
            content_type="application/json",
            headers=self._headers(headers),
            **kw,
        )

    def patch(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.patch(path, data=json or {}, content_type="application/json", headers=self._headers(headers))

    def put(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.put(path, data=json or {}, content_type="application/json", headers=self._headers(headers))

    def delete(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.delete(path, headers=self._headers(headers))


@pytest.fixture
def api_client() -> Callable[..., ApiClient]:
    """Factory: ``api_client(user)`` gives a client authenticated as ``user`` (anonymous without one)."""
    return ApiClient


@pytest.fixture
def org(db: Any) -> Organization:
    return OrganizationFactory(name="Salon A")


@pytest.fixture
def other_org(db: Any) -> Organization:
    return OrganizationFactory(name="Salon B")


def member(organization: Organization, role: str = Role.MANAGER, **user_kwargs: Any) -> User:
    user = UserFactory(**user_kwargs)
    MembershipFactory(user=user, organization=organization, role=role)
    return user


@pytest.fixture
def manager(org: Organization) -> User:
    return member(org, Role.MANAGER)


@pytest.fixture
def owner(org: Organization) -> User:
    return member(org, Role.OWNER)


@pytest.fixture
def worker_user(org: Organization) -> User:
    return member(org, Role.WORKER)


@pytest.fixture
def other_manager(other_org: Organization) -> User:
    return member(other_org, Role.MANAGER)
