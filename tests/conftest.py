"""Shared fixtures: users with roles in two tenants, API clients with bearer tokens."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
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
    _unique_schemathesis_ids(items)
    _long_files_first(items)
    if settings.IS_POSTGRES:
        _skip_embedded_only(items)
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (runs in the PostgreSQL leg of CI)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _skip_embedded_only(items: list[pytest.Item]) -> None:
    """The PostgreSQL leg skips tests whose subject runs on the embedded default whatever the leg's database.

    Such a test starts its processes with DATABASE_URL and REDIS_URL removed (``embedded_env()`` or its own
    environment) and uses no database in the test process itself, so the PostgreSQL leg would run the same thing
    a second time (ADR 0034 addendum). A marked test that asks for the database is a mistake in the marking."""
    skip = pytest.mark.skip(reason="runs on the embedded default whatever the leg (the SQLite leg runs it)")
    for item in items:
        if item.get_closest_marker("embedded_only") is None:
            continue
        if item.get_closest_marker("django_db") is not None:
            raise pytest.UsageError(f"{item.nodeid}: embedded_only, but it uses the suite's database")
        item.add_marker(skip)


def _unique_schemathesis_ids(items: list[pytest.Item]) -> None:
    """Give each schemathesis operation test its own node id, ``test_name[GET /api/v1/...]``.

    pytest 9.2 builds a Function's id from ``originalname`` and its callspec; schemathesis 4 makes one item per
    API operation with the operation in ``name`` but no callspec, so all 105 items got the same id. pytest-xdist
    schedules by id: under ``make test`` one operation of the fuzz ran and 104 were silently dropped
    (tests/api/test_fuzz_schemathesis.py checks the ids stay unique)."""
    for item in items:
        if not isinstance(item, pytest.Function) or type(item).__name__ != "SchemathesisFunction":
            continue
        base = item.originalname
        if item.name.startswith(f"{base}[") and item.name.endswith("]") and not item.nodeid.endswith("]"):
            item._id = item.parent.id.child(base).with_params(item.name[len(base) + 1 : -1])  # type: ignore[union-attr]


def _long_files_first(items: list[pytest.Item]) -> None:
    """Files with a ``slow`` test first, then the others by their number of tests, most first; a file's own tests
    keep their order.

    `make test` hands whole files to two workers (``--dist loadfile``) in this order (``--no-loadscope-reorder``).
    xdist's own order (by number of tests) put the files of one or two long tests (a child process, a notebook run)
    last, where one worker ran them while the other had nothing left to do; started first, they overlap with the
    many short files instead (ADR 0034)."""
    slow = {
        item.path
        for item in items
        if item.get_closest_marker("slow") is not None
        and (settings.IS_POSTGRES or item.get_closest_marker("postgres") is None)  # not one skipped on SQLite
    }
    count: dict[Path, int] = {}
    first: dict[Path, int] = {}
    for index, item in enumerate(items):
        count[item.path] = count.get(item.path, 0) + 1
        first.setdefault(item.path, index)
    items.sort(key=lambda item: (item.path not in slow, -count[item.path], first[item.path]))


# --- the embedded default in a child process -----------------------------------------------------------------
# Tests of `make demo`'s processes (runstack, runbot) start them on the embedded default: a SQLite file in a
# temporary BRIGADA_VAR_DIR, whatever database the suite itself uses.
_NOT_EMBEDDED = ("DATABASE_URL", "REDIS_URL", "TELEGRAM_BOT_TOKEN")


def embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `manage.py` child on the embedded default in ``var_dir`` (no PostgreSQL, no Redis)."""
    env = {
        **os.environ,
        "BRIGADA_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "backend.config.settings.base",
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    for name in _NOT_EMBEDDED:
        env.pop(name, None)
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def _embedded_migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file that `manage.py migrate` (a child process, as `make demo` runs it) made on the embedded default.

    Made once per run: under pytest-xdist the workers share it through a lock in their common temporary folder, so
    the migrations run once, not once per test that starts a child (each took 10-25 s of CPU here)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "embedded-migrated"
    done = folder / "migrated"
    with (root / "embedded-migrated.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            folder.mkdir(exist_ok=True)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                env=embedded_env(folder),
                check=True,
                cwd=str(settings.BASE_DIR),
            )
            done.touch()
    return folder / "brigada.sqlite3"


@pytest.fixture
def embedded_var_dir(tmp_path: Path, _embedded_migrated: Path) -> Path:
    """``tmp_path`` as a BRIGADA_VAR_DIR holding its own copy of the migrated embedded database (what `manage.py
    migrate` leaves there); a test's children may change it freely."""
    source = sqlite3.connect(_embedded_migrated)
    target = sqlite3.connect(tmp_path / "brigada.sqlite3")
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return tmp_path


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
