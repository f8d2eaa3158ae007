"""Tenancy cases for every route that takes an object id (see tenancy_cases.py for what the walk does with them).

Each ``build`` fills *every* id field the route takes, optional ones included (a source, groups, a curator, list
filters), with objects of one organization: the walk swaps each of them for a stranger's in turn.
"""

from __future__ import annotations

import itertools
from typing import Any

from django.utils import timezone

from backend.crm.models import Client, ClientGroup, ClientSource, Vehicle
from backend.imports.models import ImportJob, ImportKind, ImportStatus
from backend.organizations.models import Branch, Organization, Role
from backend.organizations.permissions import Perm
from tests.api.tenancy_cases import INVALID_REFERENCE, NOT_FOUND, SCOPED_LIST, Call, TenancyCase, register
from tests.conftest import member

_phones = itertools.count(1)


def _client(org: Organization) -> Client:
    return Client.objects.create(organization=org, phone=f"+7701555{next(_phones):04d}", first_name="Tenant")


def _deleted_client(org: Organization) -> Client:
    client = _client(org)
    client.deleted_at = timezone.now()
    client.save(update_fields=["deleted_at"])
    return client


def _source(org: Organization) -> int:
    return ClientSource.objects.create(organization=org, name="Instagram").pk


def _group(org: Organization, name: str = "VIP") -> int:
    return ClientGroup.objects.create(organization=org, name=name).pk


def _curator(org: Organization) -> int:
    return member(org, Role.MASTER).pk


def _vehicle(org: Organization) -> int:
    return Vehicle.objects.create(organization=org, client=_client(org), make="Lada", model="Vesta", plate="A1").pk


def _client_path(org: Organization, body: dict[str, Any] | None = None) -> Call:
    return Call(path={"client_id": _client(org).pk}, body=body)


def _client_references(org: Organization) -> dict[str, Any]:
    return {"source_id": _source(org), "group_ids": [_group(org)], "curator_id": _curator(org)}


# A reference a service validates against the client's organization is a 422 invalid_reference.
REFERENCES = {
    "body.source_id": INVALID_REFERENCE,
    "body.group_ids": INVALID_REFERENCE,
    "body.curator_id": INVALID_REFERENCE,
}

CLIENT_VIEW, CLIENT_CHANGE, CLIENT_DELETE = Perm.CLIENT_VIEW, Perm.CLIENT_CHANGE, Perm.CLIENT_DELETE

# --- CRM: one client or vehicle -------------------------------------------------------------------------------
register("get", "/api/v1/crm/clients/{client_id}", TenancyCase(build=_client_path, needs=(CLIENT_VIEW,)))
register(
    "patch",
    "/api/v1/crm/clients/{client_id}",
    TenancyCase(
        build=lambda org: _client_path(org, {"notes": "x", **_client_references(org)}),
        needs=(CLIENT_CHANGE,),
        refusals=REFERENCES,
    ),
)
register("post", "/api/v1/crm/clients/{client_id}/delete", TenancyCase(build=_client_path, needs=(CLIENT_DELETE,)))
register(
    "post",
    "/api/v1/crm/clients/{client_id}/restore",
    # A deleted client, so that a restore let through would change something the walk can see. Without the right
    # to delete (and so to see deleted clients) it is not found, as it is everywhere else for them.
    TenancyCase(
        build=lambda org: Call(path={"client_id": _deleted_client(org).pk}),
        needs=(CLIENT_DELETE,),
        without_right=NOT_FOUND,
    ),
)
register(
    "post",
    "/api/v1/crm/clients/{client_id}/merge",
    TenancyCase(
        build=lambda org: _client_path(org, {"duplicate_id": _client(org).pk}),
        needs=(CLIENT_CHANGE, CLIENT_DELETE),
    ),
)
register("get", "/api/v1/crm/clients/{client_id}/history", TenancyCase(build=_client_path, needs=(CLIENT_VIEW,)))
register(
    "post",
    "/api/v1/crm/clients/{client_id}/vehicles",
    TenancyCase(
        build=lambda org: _client_path(org, {"make": "Kia", "model": "Rio", "plate": "B002BB"}),
        needs=(CLIENT_CHANGE,),
    ),
)
register(
    "patch",
    "/api/v1/crm/vehicles/{vehicle_id}",
    TenancyCase(
        build=lambda org: Call(path={"vehicle_id": _vehicle(org)}, body={"plate": "C3"}), needs=(CLIENT_CHANGE,)
    ),
)
register(
    "post",
    "/api/v1/crm/vehicles/{vehicle_id}/delete",
    TenancyCase(build=lambda org: Call(path={"vehicle_id": _vehicle(org)}), needs=(CLIENT_CHANGE,)),
)


# --- CRM: organization-scoped lists (organization_id in the query) ----------------------------------------------
def _filtered_client(org: Organization) -> dict[str, Any]:
    client = _client(org)
    client.source_id, client.curator_id = _source(org), _curator(org)
    client.save(update_fields=["source", "curator"])
    client.groups.add(group_id := _group(org))
    return {"group_id": group_id, "source_id": client.source_id, "curator_id": client.curator_id}


def _in_org(org: Organization, **query: Any) -> Call:
    return Call(query={"organization_id": org.pk, **query})


register(
    "get",
    "/api/v1/crm/clients",
    TenancyCase(
        # The filters name objects too: a stranger's group, source or curator must find nothing of theirs (and
        # there is one of theirs to find: each organization has a client matching all its filters).
        build=lambda org: _in_org(org, **_filtered_client(org)),
        needs=(CLIENT_VIEW,),
        refusals={
            "query.group_id": SCOPED_LIST,
            "query.source_id": SCOPED_LIST,
            "query.curator_id": SCOPED_LIST,
        },
    ),
)
register("get", "/api/v1/crm/clients/export", TenancyCase(build=_in_org, needs=(Perm.CLIENT_EXPORT,)))
register("get", "/api/v1/crm/clients/counts", TenancyCase(build=_in_org, needs=(CLIENT_VIEW,)))
register("get", "/api/v1/crm/history", TenancyCase(build=_in_org, needs=(Perm.AUDIT_VIEW,)))
register("get", "/api/v1/crm/sources", TenancyCase(build=_in_org, needs=(CLIENT_VIEW,)))
register("get", "/api/v1/crm/groups", TenancyCase(build=_in_org, needs=(CLIENT_VIEW,)))
register(
    "get",
    "/api/v1/crm/imports",
    # Client imports are shown to who may import clients, service imports to who may change the catalog.
    TenancyCase(build=_in_org, needs=(Perm.CLIENT_IMPORT, Perm.CATALOG_CHANGE), needs_any=True),
)

# --- CRM: creating inside an organization (organization_id in the body) -----------------------------------------
register(
    "post",
    "/api/v1/crm/clients",
    TenancyCase(
        build=lambda org: Call(body={"organization_id": org.pk, "phone": "+77015550199", **_client_references(org)}),
        needs=(CLIENT_CHANGE,),
        refusals=REFERENCES,
    ),
)
register(
    "post",
    "/api/v1/crm/sources",
    TenancyCase(build=lambda org: Call(body={"organization_id": org.pk, "name": "Referral"}), needs=(CLIENT_CHANGE,)),
)
register(
    "post",
    "/api/v1/crm/groups",
    TenancyCase(build=lambda org: Call(body={"organization_id": org.pk, "name": "Regulars"}), needs=(CLIENT_CHANGE,)),
)
register(
    "post",
    "/api/v1/crm/clients/bulk",
    TenancyCase(
        build=lambda org: Call(
            body={
                "organization_id": org.pk,
                "client_ids": [_client(org).pk, _client(org).pk],
                "source_id": _source(org),
                "curator_id": _curator(org),
                "add_group_ids": [_group(org, "VIP")],
                "remove_group_ids": [_group(org, "Lapsed")],
            }
        ),
        needs=(CLIENT_CHANGE,),
        refusals={
            "body.source_id": INVALID_REFERENCE,
            "body.curator_id": INVALID_REFERENCE,
            "body.add_group_ids": INVALID_REFERENCE,
            "body.remove_group_ids": INVALID_REFERENCE,
        },
    ),
)

# The import form takes no id but the organization's (the file names sources and groups by name, resolved inside
# the organization). The file has no phone column on purpose: it fails before any row is read, so the only thing
# that keeps a job out of another tenant is the import's own organization check, not the row writer's.
register(
    "post",
    "/api/v1/crm/imports",
    TenancyCase(
        build=lambda org: Call(
            form={"kind": "clients", "dry_run": "false", "organization_id": org.pk},
            files={"file": ("clients.csv", b"first_name\nAnna\n")},
        ),
        needs=(Perm.CLIENT_IMPORT,),
    ),
)
register(
    "get",
    "/api/v1/crm/imports/{job_id}",
    TenancyCase(
        build=lambda org: Call(
            path={
                "job_id": ImportJob.objects.create(
                    organization=org, kind=ImportKind.CLIENTS, format="csv", status=ImportStatus.DONE
                ).pk
            }
        ),
        needs=(Perm.CLIENT_IMPORT,),
    ),
)

# --- Catalog --------------------------------------------------------------------------------------------------
register("get", "/api/v1/catalog/branches", TenancyCase(build=_in_org, needs=(Perm.ORG_VIEW,)))
register(
    "get",
    "/api/v1/catalog/services",
    TenancyCase(
        build=lambda org: Call(query={"branch_id": Branch.objects.create(organization=org, name="Main").pk}),
        needs=(Perm.CATALOG_VIEW,),
    ),
)
# --- Booking (issue 8): its own module ---------------------------------------------------------------------
import tests.api.tenancy_cases_booking  # noqa: E402
import tests.api.tenancy_cases_mobile  # noqa: E402  (home and sync)
import tests.api.tenancy_cases_mobile_contract  # noqa: E402  (staff client search, devices)
import tests.api.tenancy_cases_staffing  # noqa: E402, F401  (the staffing routes)
