"""CRM API: clients (list, card, create, change, soft delete/restore, bulk), history, sources, groups,
vehicles and export (imports have their own router). Thin: every read is a selector, every write a service."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from backend.core.models import Event
from backend.crm import selectors, services
from backend.crm.models import CONSENT_KINDS, Client, ClientGroup, ClientSource, Vehicle
from backend.crm.search import client_search
from backend.imports.services import clients_export
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_day_range, organization_for_action
from mobile_api.errors import OBJECT_ERROR_RESPONSES, ErrorEnvelope

from .schemas import (
    BulkIn,
    BulkOut,
    ClientCardOut,
    ClientCreateIn,
    ClientListOut,
    ClientListQuery,
    ClientOut,
    ClientPatchIn,
    ClientSearchHitOut,
    ClientSearchOut,
    ClientSearchQuery,
    ConsentOut,
    ConsentsOut,
    CountsOut,
    EventListOut,
    EventOut,
    ExportQuery,
    GroupListOut,
    GroupOut,
    MergeIn,
    NamedIn,
    NamedOut,
    OrgPageQuery,
    OrgQuery,
    PageQuery,
    SourceListOut,
    SourceOut,
    VehicleIn,
    VehicleOut,
    VehiclePatchIn,
)

router = Router(tags=["crm"])

READ = OBJECT_ERROR_RESPONSES
WRITE = {**OBJECT_ERROR_RESPONSES, 409: ErrorEnvelope}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


# --- shaping ------------------------------------------------------------------------------------------------


def client_out(c: Client) -> dict[str, Any]:
    curator = c.curator
    return {
        "id": c.pk,
        "organization_id": c.organization_id,
        "phone": c.phone,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "middle_name": c.middle_name,
        "full_name": c.full_name,
        "code": c.code,
        "birthday": c.birthday,
        "gender": c.gender,
        "email": c.email,
        "source": NamedOut(id=c.source.pk, name=c.source.name) if c.source else None,
        "groups": [NamedOut(id=g.pk, name=g.name) for g in sorted(c.groups.all(), key=lambda g: g.name)],
        "curator_id": c.curator_id,
        "curator_name": (curator.get_full_name() or curator.phone) if curator else None,
        "notes": c.notes,
        "extra_contact": c.extra_contact,
        "consents": ConsentsOut(
            **{
                kind: ConsentOut(
                    given_at=getattr(c, f"consent_{kind}_at"),
                    recorded_by_id=getattr(c, f"consent_{kind}_by_id"),
                    how=getattr(c, f"consent_{kind}_how"),
                )
                for kind in CONSENT_KINDS
            }
        ),
        "last_visit_at": c.last_visit_at,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "deleted_at": c.deleted_at,
    }


def event_out(e: Event) -> EventOut:
    actor = e.actor
    return EventOut(
        id=e.pk,
        occurred_at=e.occurred_at,
        entity_type=e.entity_type,
        entity_id=e.entity_id,
        action=e.action,
        actor_id=e.actor_id,
        actor_name=(actor.get_full_name() or actor.phone) if actor else None,
        before=e.before,
        after=e.after,
        batch_id=e.batch_id,
        note=e.note,
    )


def vehicle_out(v: Vehicle) -> VehicleOut:
    return VehicleOut(id=v.pk, make=v.make, model=v.model, plate=v.plate, vin=v.vin, year=v.year)


def _card(user: Any, client_id: int) -> ClientCardOut:
    client = selectors.client_get(user=user, client_id=client_id)
    history = selectors.client_history(user=user, client_id=client_id, limit=50)
    return ClientCardOut(
        **client_out(client),
        vehicles=[vehicle_out(v) for v in selectors.client_vehicles(client)],
        history=[event_out(e) for e in history.items],
        history_next_cursor=history.next_cursor,
        visits=[],
    )


# --- clients ------------------------------------------------------------------------------------------------


@router.get(
    "/clients",
    response={200: ClientListOut, **READ},
    summary="List clients",
    description="Type-ahead search, filters, sorting on every column (ties broken by id) and keyset cursor "
    "pagination. A malformed cursor is a 422 `invalid_cursor`.",
)
def client_list(request: HttpRequest, query: Query[ClientListQuery]) -> ClientListOut:
    user = _user(request)
    last_visit_from, last_visit_to = organization_day_range(
        user=user,
        organization_id=query.organization_id,
        first_day=query.last_visit_from,
        last_day=query.last_visit_to,
        perm=Perm.CLIENT_VIEW,
    )
    page = selectors.client_list(
        user=user,
        organization_id=query.organization_id,
        search=query.search,
        filters=selectors.ClientFilters(
            group_id=query.group_id,
            source_id=query.source_id,
            curator_id=query.curator_id,
            birthday_month=query.birthday_month,
            last_visit_from=last_visit_from,
            last_visit_to=last_visit_to,
            consent_messages=query.consent_messages,
            consent_marketing=query.consent_marketing,
            consent_personal_data=query.consent_personal_data,
            deleted=query.deleted,
        ),
        sort=query.sort,
        cursor=query.cursor,
        limit=query.limit,
    )
    return ClientListOut(items=[ClientOut(**client_out(c)) for c in page.items], next_cursor=page.next_cursor)


@router.get(
    "/clients/search",
    response={200: ClientSearchOut, **READ},
    summary="Find a client (staff type-ahead)",
    description="One box: a name (any words, Cyrillic or Latin), phone digits in any format or a car plate "
    "fragment (any case, spaces and dashes ignored). Clients of the organizations where the caller may view "
    "clients, deleted ones left out; at most `limit` hits, best kind of match first, no cursor.",
)
def client_search_view(request: HttpRequest, query: Query[ClientSearchQuery]) -> ClientSearchOut:
    hits = client_search(user=_user(request), q=query.q, organization_id=query.organization_id, limit=query.limit)
    return ClientSearchOut(
        items=[
            ClientSearchHitOut(
                id=h.client.pk,
                organization_id=h.client.organization_id,
                full_name=h.client.full_name,
                phone=h.client.phone,
                plates=h.plates,
                matched=h.matched,  # type: ignore[arg-type]
            )
            for h in hits
        ]
    )


@router.get(
    "/clients/export",
    response={**READ},
    summary="Export clients (CSV or XLSX)",
    description="The organization's clients (not deleted) in the same columns the import reads. Every export is "
    "recorded in the event log (who exported what, when).",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file.",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {"type": "string", "format": "binary"}
                    },
                },
            }
        }
    },
)
def client_export(request: HttpRequest, query: Query[ExportQuery]) -> HttpResponse:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=query.organization_id, perm=Perm.CLIENT_EXPORT)
    content, name, content_type = clients_export(user=user, organization_id=org_id, fmt=query.format)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.get(
    "/clients/counts",
    response={200: CountsOut, **READ},
    summary="How many clients the organization has",
    description="Deleted clients are counted apart: they remain part of the organization's history.",
)
def client_counts(request: HttpRequest, query: Query[OrgQuery]) -> CountsOut:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=query.organization_id, perm=Perm.CLIENT_VIEW)
    return CountsOut(**selectors.client_counts(user=user, organization_id=org_id))


@router.post(
    "/clients/bulk",
    response={200: BulkOut, **WRITE},
    summary="Change many clients at once",
    description="Set source or curator, add or remove groups. All-or-nothing: an id that is not an "
    "active client of the organization makes it a 404 and nothing changes.",
)
def client_bulk(request: HttpRequest, payload: BulkIn) -> BulkOut:
    user = _user(request)
    sent = payload.model_fields_set
    kwargs: dict[str, Any] = {}
    if "source_id" in sent:
        kwargs["source_id"] = payload.source_id
    if "curator_id" in sent:
        kwargs["curator_id"] = payload.curator_id
    changed = services.client_bulk_update(
        user=user,
        organization_id=organization_for_action(
            user=user, organization_id=payload.organization_id, perm=Perm.CLIENT_CHANGE
        ),
        client_ids=payload.client_ids,
        add_group_ids=payload.add_group_ids,
        remove_group_ids=payload.remove_group_ids,
        **kwargs,
    )
    return BulkOut(changed=changed)


@router.post(
    "/clients",
    response={201: ClientCardOut, **WRITE},
    summary="Create a client",
    description="409 `client_phone_taken` when the organization already has the phone (a deleted "
    "client too: restore them instead); 409 `client_code_taken` for a used client code.",
)
def client_create(request: HttpRequest, payload: ClientCreateIn) -> Status[ClientCardOut]:
    user = _user(request)
    data = payload.model_dump(exclude={"organization_id"})
    client = services.client_create(
        user=user,
        organization_id=organization_for_action(
            user=user, organization_id=payload.organization_id, perm=Perm.CLIENT_CHANGE
        ),
        **data,
    )
    return Status(201, _card(user, client.pk))


@router.get(
    "/clients/{client_id}",
    response={200: ClientCardOut, **READ},
    summary="Client card",
    description="Fields, groups, vehicles and the latest history from the event log (newest first). "
    "`visits` stays empty until the booking module lands.",
)
def client_card(request: HttpRequest, client_id: int) -> ClientCardOut:
    return _card(_user(request), client_id)


@router.patch(
    "/clients/{client_id}",
    response={200: ClientCardOut, **WRITE},
    summary="Change a client",
    description=(
        "Only the fields sent change. A deleted client is a 409 `client_deleted` to those who may see deleted"
        " clients, a 404 to the rest."
    ),
)
def client_patch(request: HttpRequest, client_id: int, payload: ClientPatchIn) -> ClientCardOut:
    user = _user(request)
    services.client_update(user=user, client_id=client_id, data=payload.model_dump(exclude_unset=True))
    return _card(user, client_id)


@router.post(
    "/clients/{client_id}/delete",
    response={200: ClientCardOut, **WRITE},
    summary="Soft-delete a client",
    description="Hides the client from lists; the row and its history stay and it can be restored. "
    "There is no hard delete.",
)
def client_delete(request: HttpRequest, client_id: int) -> ClientCardOut:
    user = _user(request)
    services.client_soft_delete(user=user, client_id=client_id)
    return _card(user, client_id)


@router.post("/clients/{client_id}/restore", response={200: ClientCardOut, **WRITE}, summary="Restore a client")
def client_restore(request: HttpRequest, client_id: int) -> ClientCardOut:
    user = _user(request)
    services.client_restore(user=user, client_id=client_id)
    return _card(user, client_id)


@router.post(
    "/clients/{client_id}/merge",
    response={200: ClientCardOut, **WRITE},
    summary="Merge a duplicate into this client",
    description="Fills this client's empty fields from the duplicate, joins notes, moves groups and vehicles, "
    "keeps the earliest consents, and soft-deletes the duplicate (restorable; both histories record the merge). "
    "Needs the rights to change and to delete clients. 409 `client_deleted` if either card is deleted.",
)
def client_merge(request: HttpRequest, client_id: int, payload: MergeIn) -> ClientCardOut:
    user = _user(request)
    services.client_merge(user=user, client_id=client_id, duplicate_id=payload.duplicate_id)
    return _card(user, client_id)


@router.get(
    "/clients/{client_id}/history",
    response={200: EventListOut, **READ},
    summary="Client history",
    description="Events of the client and their vehicles from the append-only log, newest first.",
)
def client_history(request: HttpRequest, client_id: int, query: Query[PageQuery]) -> EventListOut:
    page = selectors.client_history(user=_user(request), client_id=client_id, cursor=query.cursor, limit=query.limit)
    return EventListOut(items=[event_out(e) for e in page.items], next_cursor=page.next_cursor)


@router.get(
    "/history",
    response={200: EventListOut, **READ},
    summary="Client events of an organization",
    description="The audit view: every client and vehicle event, deleted clients' included.",
)
def organization_history(request: HttpRequest, query: Query[OrgPageQuery]) -> EventListOut:
    user = _user(request)
    page = selectors.organization_client_events(
        user=user,
        organization_id=organization_for_action(user=user, organization_id=query.organization_id, perm=Perm.AUDIT_VIEW),
        cursor=query.cursor,
        limit=query.limit,
    )
    return EventListOut(items=[event_out(e) for e in page.items], next_cursor=page.next_cursor)


# --- vehicles -----------------------------------------------------------------------------------------------


@router.post("/clients/{client_id}/vehicles", response={201: VehicleOut, **WRITE}, summary="Add a vehicle")
def vehicle_create(request: HttpRequest, client_id: int, payload: VehicleIn) -> Status[VehicleOut]:
    vehicle = services.vehicle_create(user=_user(request), client_id=client_id, **payload.model_dump())
    return Status(201, vehicle_out(vehicle))


@router.patch("/vehicles/{vehicle_id}", response={200: VehicleOut, **WRITE}, summary="Change a vehicle")
def vehicle_patch(request: HttpRequest, vehicle_id: int, payload: VehiclePatchIn) -> VehicleOut:
    data = payload.model_dump(exclude_unset=True)
    return vehicle_out(services.vehicle_update(user=_user(request), vehicle_id=vehicle_id, data=data))


@router.post("/vehicles/{vehicle_id}/delete", response={200: VehicleOut, **WRITE}, summary="Remove a vehicle")
def vehicle_delete(request: HttpRequest, vehicle_id: int) -> VehicleOut:
    return vehicle_out(services.vehicle_soft_delete(user=_user(request), vehicle_id=vehicle_id))


# --- sources and groups -------------------------------------------------------------------------------------


def _source_out(s: ClientSource) -> SourceOut:
    return SourceOut(id=s.pk, organization_id=s.organization_id, name=s.name, is_active=s.is_active)


def _group_out(g: ClientGroup) -> GroupOut:
    return GroupOut(id=g.pk, organization_id=g.organization_id, name=g.name)


@router.get("/sources", response={200: SourceListOut, **READ}, summary="Client sources")
def source_list(request: HttpRequest, query: Query[OrgQuery]) -> SourceListOut:
    items = selectors.client_sources(user=_user(request), organization_id=query.organization_id)
    return SourceListOut(items=[_source_out(s) for s in items], next_cursor=None)


@router.post(
    "/sources",
    response={201: SourceOut, **WRITE},
    summary="Add a client source",
    description="409 `source_name_taken` for a name the organization already has.",
)
def source_create(request: HttpRequest, payload: NamedIn) -> Status[SourceOut]:
    user = _user(request)
    source = services.client_source_create(
        user=user,
        organization_id=organization_for_action(
            user=user, organization_id=payload.organization_id, perm=Perm.CLIENT_CHANGE
        ),
        name=payload.name,
    )
    return Status(201, _source_out(source))


@router.get("/groups", response={200: GroupListOut, **READ}, summary="Client groups")
def group_list(request: HttpRequest, query: Query[OrgQuery]) -> GroupListOut:
    items = selectors.client_groups(user=_user(request), organization_id=query.organization_id)
    return GroupListOut(items=[_group_out(g) for g in items], next_cursor=None)


@router.post(
    "/groups",
    response={201: GroupOut, **WRITE},
    summary="Add a client group",
    description="409 `group_name_taken` for a name the organization already has.",
)
def group_create(request: HttpRequest, payload: NamedIn) -> Status[GroupOut]:
    user = _user(request)
    group = services.client_group_create(
        user=user,
        organization_id=organization_for_action(
            user=user, organization_id=payload.organization_id, perm=Perm.CLIENT_CHANGE
        ),
        name=payload.name,
    )
    return Status(201, _group_out(group))
