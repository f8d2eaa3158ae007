"""Tenancy cases for every domain's routes that take an object id (see tenancy_cases.py)."""

from __future__ import annotations

import itertools
from typing import Any

from backend.crm.models import Client, Vehicle
from backend.imports.models import ImportJob, ImportKind, ImportStatus
from backend.organizations.models import Branch, Organization, Role
from tests.api.tenancy_cases import TenancyCase, register
from tests.conftest import member


def _client(org: Organization) -> Client:
    return Client.objects.create(organization=org, phone="+77015550101", first_name="Tenant", last_name="Client")


_duplicates = itertools.count(1)


def _duplicate(org: Organization) -> int:
    return Client.objects.create(organization=org, phone=f"+7701556{next(_duplicates):04d}").pk


def _client_id(org: Organization) -> dict[str, Any]:
    return {"client_id": _client(org).pk}


def _vehicle_id(org: Organization) -> dict[str, Any]:
    vehicle = Vehicle.objects.create(organization=org, client=_client(org), make="Lada", model="Vesta", plate="A001AA")
    return {"vehicle_id": vehicle.pk}


def _org_id(org: Organization) -> dict[str, Any]:
    return {"organization_id": org.pk}


def _branch_id(org: Organization) -> dict[str, Any]:
    return {"branch_id": Branch.objects.create(organization=org, name="Main").pk}


def _org_body(extra: dict[str, Any] | None = None) -> Any:
    return lambda org: {"organization_id": org.pk, **(extra or {})}


# --- CRM: client objects ---------------------------------------------------------------------------------
register("get", "/api/v1/crm/clients/{client_id}", TenancyCase(make=_client_id))
register("patch", "/api/v1/crm/clients/{client_id}", TenancyCase(make=_client_id, body=lambda org: {"notes": "x"}))
register("post", "/api/v1/crm/clients/{client_id}/delete", TenancyCase(make=_client_id))
register("post", "/api/v1/crm/clients/{client_id}/restore", TenancyCase(make=_client_id))
register(
    "post",
    "/api/v1/crm/clients/{client_id}/merge",
    TenancyCase(
        make=_client_id,
        body=lambda org: {"duplicate_id": _duplicate(org)},
    ),
)
register("get", "/api/v1/crm/clients/{client_id}/history", TenancyCase(make=_client_id))
register(
    "post",
    "/api/v1/crm/clients/{client_id}/vehicles",
    TenancyCase(make=_client_id, body=lambda org: {"make": "Kia", "model": "Rio", "plate": "B002BB"}),
)
register("patch", "/api/v1/crm/vehicles/{vehicle_id}", TenancyCase(make=_vehicle_id, body=lambda org: {"plate": "C3"}))
register("post", "/api/v1/crm/vehicles/{vehicle_id}/delete", TenancyCase(make=_vehicle_id))

# --- CRM: organization-scoped lists (organization_id in the query) ----------------------------------------
for path in (
    "/api/v1/crm/clients",
    "/api/v1/crm/clients/export",
    "/api/v1/crm/clients/counts",
    "/api/v1/crm/history",
    "/api/v1/crm/sources",
    "/api/v1/crm/groups",
    "/api/v1/crm/imports",
):
    register("get", path, TenancyCase(make=_org_id, in_query=True))

# --- CRM: creating inside an organization (organization_id in the body) -----------------------------------
register("post", "/api/v1/crm/clients", TenancyCase(make=lambda org: {}, body=_org_body({"phone": "+77015550199"})))
register("post", "/api/v1/crm/sources", TenancyCase(make=lambda org: {}, body=_org_body({"name": "Instagram"})))
register("post", "/api/v1/crm/groups", TenancyCase(make=lambda org: {}, body=_org_body({"name": "VIP"})))
register(
    "post",
    "/api/v1/crm/clients/bulk",
    TenancyCase(
        make=lambda org: {},
        body=lambda org: {"organization_id": org.pk, "client_ids": [_client(org).pk], "add_group_ids": []},
    ),
)

# --- Imports ------------------------------------------------------------------------------------------------
register(
    "get",
    "/api/v1/crm/imports/{job_id}",
    TenancyCase(
        make=lambda org: {
            "job_id": ImportJob.objects.create(
                organization=org, kind=ImportKind.CLIENTS, format="csv", status=ImportStatus.DONE
            ).pk
        }
    ),
)

# --- Catalog ------------------------------------------------------------------------------------------------
register("get", "/api/v1/catalog/branches", TenancyCase(make=_org_id, in_query=True, forbidden_role=None))
register("get", "/api/v1/catalog/services", TenancyCase(make=_branch_id, in_query=True, forbidden_role=Role.WORKER))

_ = member  # re-exported for cases that need a second user in the same organization
