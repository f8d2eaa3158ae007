"""The import's mixed cases, through the public route. The form takes no id but the organization's, so the walk
covers it with the stranger call; a file, though, names things by their natural keys (phone, client code, source
and group names, service code), and those must resolve inside the importing organization only."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backend.catalog.models import Service
from backend.crm.models import Client, ClientGroup, ClientSource
from backend.organizations.models import Organization, Role
from tests.api.tenancy_cases import db_snapshot
from tests.conftest import ApiClient, member
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/crm/imports"


def _rows_of(org: Organization) -> dict[str, list[Any]]:
    """Every row the stranger's organization holds, to compare before and after my import."""
    return {
        "clients": list(Client.objects.filter(organization=org).order_by("id").values()),
        "groups": list(ClientGroup.objects.filter(organization=org).order_by("id").values()),
        "memberships": list(Client.groups.through.objects.filter(client__organization=org).order_by("id").values()),
        "sources": list(ClientSource.objects.filter(organization=org).order_by("id").values()),
        "services": list(Service.objects.filter(organization=org).order_by("id").values()),
    }


def _import(client: ApiClient, org: Organization, kind: str, content: bytes) -> Any:
    data = {"kind": kind, "dry_run": "false", "organization_id": org.pk, "file": SimpleUploadedFile("f.csv", content)}
    return client.post(URL, data=data)


def test_a_file_naming_a_strangers_client_creates_my_own_and_leaves_theirs() -> None:
    mine, theirs = OrganizationFactory(), OrganizationFactory()
    owner = member(mine, Role.OWNER)
    source = ClientSource.objects.create(organization=theirs, name="Instagram")
    group = ClientGroup.objects.create(organization=theirs, name="VIP")
    stranger_client = Client.objects.create(
        organization=theirs, phone="+77015550001", first_name="Theirs", code="C-1", source=source
    )
    stranger_client.groups.add(group)
    before = _rows_of(theirs)

    response = _import(
        ApiClient(owner), mine, "clients", b"phone,first_name,code,source,groups\n+77015550001,Mine,C-1,Instagram,VIP\n"
    )

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "done" and response.json()["created"] == 1, response.json()
    created = Client.objects.get(organization=mine, phone="+77015550001")
    assert (created.first_name, created.code) == ("Mine", "C-1")
    assert created.source is not None and created.source.organization_id == mine.pk
    assert [g.organization_id for g in created.groups.all()] == [mine.pk]
    assert _rows_of(theirs) == before


def test_a_services_file_naming_a_strangers_service_code_creates_my_own() -> None:
    mine, theirs = OrganizationFactory(), OrganizationFactory()
    owner = member(mine, Role.OWNER)
    Service.objects.create(organization=theirs, name="Haircut", code="S-1", price=1000, duration_minutes=30)
    before = _rows_of(theirs)

    response = _import(ApiClient(owner), mine, "services", b"code,name,price,duration_minutes\nS-1,Mine,500,45\n")

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "done" and response.json()["created"] == 1, response.json()
    assert Service.objects.get(organization=mine, code="S-1").name == "Mine"
    assert _rows_of(theirs) == before


def test_importing_into_a_strangers_organization_is_a_404_that_writes_nothing() -> None:
    mine, theirs = OrganizationFactory(), OrganizationFactory()
    owner = ApiClient(member(mine, Role.OWNER))
    before = db_snapshot()

    for kind, content in (("clients", b"phone\n+77015550001\n"), ("services", b"name\nHaircut\n")):
        response = _import(owner, theirs, kind, content)

        assert response.status_code == 404, response.content
        assert response.json()["error"]["code"] == "not_found"
    assert db_snapshot() == before
