"""The import history shows each kind of import to those holding the right that runs it."""

from __future__ import annotations

import pytest

from backend.core.exceptions import NotFound, PermissionDenied
from backend.imports.selectors import import_job_list
from backend.imports.services import clients_import, services_import
from backend.organizations.models import Role
from backend.organizations.permissions import ROLE_PERMISSIONS, Perm
from tests.conftest import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(org, manager):
    clients = clients_import(
        user=manager, organization_id=org.id, content=b"phone\n+77011110001\n", fmt="csv", dry_run=True
    )
    services = services_import(user=manager, organization_id=org.id, content=b"name\nWash\n", fmt="csv", dry_run=True)
    return clients, services


def _with_rights(monkeypatch, org, *perms: Perm):
    """A role with exactly these rights (no shipped role separates them today)."""
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.WORKER, frozenset({Perm.ORG_VIEW, *perms}))
    return member(org, Role.WORKER)


def test_the_catalog_right_alone_sees_service_imports_only(monkeypatch, org, jobs, api_client) -> None:
    _clients, services = jobs
    user = _with_rights(monkeypatch, org, Perm.CATALOG_CHANGE)

    assert [j.id for j in import_job_list(user=user)] == [services.id]
    assert [j.id for j in import_job_list(user=user, organization_id=org.id)] == [services.id]
    response = api_client(user).get("/api/v1/crm/imports")
    assert response.status_code == 200 and [j["id"] for j in response.json()["items"]] == [services.id]


def test_the_client_import_right_alone_sees_client_imports_only(monkeypatch, org, jobs) -> None:
    clients, _services = jobs
    user = _with_rights(monkeypatch, org, Perm.CLIENT_IMPORT)

    assert [j.id for j in import_job_list(user=user)] == [clients.id]


def test_both_rights_see_both_and_neither_is_forbidden(org, other_org, manager, jobs) -> None:
    clients, services = jobs
    assert {j.id for j in import_job_list(user=manager)} == {clients.id, services.id}
    with pytest.raises(PermissionDenied):
        import_job_list(user=member(org, Role.MASTER))
    with pytest.raises(NotFound):
        import_job_list(user=manager, organization_id=other_org.id)
