"""CRM reads, always scoped by the caller's organizations."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _

from backend.core.cursors import CursorValueType, cursor_decode, cursor_encode, invalid_cursor
from backend.core.exceptions import NotFound, PermissionDenied, ValidationFailed
from backend.core.models import Event
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for

from .cleaning import search_fold
from .exceptions import CrmErrorCode
from .fields import CLIENT_SORTS
from .models import Client, ClientGroup, ClientSource, Vehicle

MAX_LIMIT = 200
DELETED_MODES = ("exclude", "include", "only")
_PHONEISH = re.compile(r"^[\d\s()+\-.]+$")


@dataclass(frozen=True)
class ClientFilters:
    group_id: int | None = None
    source_id: int | None = None
    curator_id: int | None = None
    birthday_month: int | None = None
    last_visit_from: dt.datetime | None = None
    last_visit_to: dt.datetime | None = None
    consent_messages: bool | None = None
    consent_marketing: bool | None = None
    consent_personal_data: bool | None = None
    deleted: str = "exclude"


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def _value_type(path: str) -> CursorValueType:
    """The Python type a sort column's cursor value must decode to."""
    model: Any = Client
    field: Any = None
    for part in path.split("__"):
        field = model._meta.get_field(part)
        model = field.related_model
    if isinstance(field, models.DateTimeField):
        return dt.datetime
    if isinstance(field, models.DateField):
        return dt.date
    if isinstance(field, models.IntegerField | models.AutoField):
        return int
    return str


def client_search_filter(search: str) -> Q:
    """Type-ahead: every word in the lowercase search column, or phone digits anywhere in the number."""
    text = search_fold(search.replace("\x00", "").strip())[:100]
    if not text:
        return Q()
    digits = re.sub(r"\D", "", text)
    if _PHONEISH.match(text) and digits:
        # Phones are stored as E.164 ("+" and digits), so a substring of digits finds them wherever typed.
        return Q(phone__contains=digits) | Q(search_text__contains=text)
    q = Q()
    for token in text.split()[:5]:
        q &= Q(search_text__contains=token)
    return q


def client_scope_ids(user: Any, organization_id: int | None, perm: Perm = Perm.CLIENT_VIEW) -> set[int]:
    """Organizations whose clients the caller may read: one named (404/403 checked) or all they hold ``perm`` in."""
    if organization_id is not None:
        organization_access_check(user, organization_id, perm)
        return {organization_id}
    ids = organization_ids_for(user, perm)
    if not ids:
        raise PermissionDenied(_("Your role does not allow this action."))
    return ids


def client_list(
    *,
    user: Any,
    organization_id: int | None = None,
    search: str = "",
    filters: ClientFilters | None = None,
    sort: str = "name",
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Clients the caller may see, searched, filtered, sorted and paged by an opaque keyset cursor."""
    filters = filters or ClientFilters()
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            _("limit must be between 1 and %(n)d.") % {"n": MAX_LIMIT}, fields={"limit": [_("Out of range.")]}
        )
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    if key not in CLIENT_SORTS:
        raise ValidationFailed(
            _("Unknown sort."), code=CrmErrorCode.INVALID_SORT, fields={"sort": sorted(CLIENT_SORTS)}
        )
    if filters.deleted not in DELETED_MODES:
        raise ValidationFailed(_("Unknown value."), fields={"deleted": list(DELETED_MODES)})
    org_ids = client_scope_ids(user, organization_id)
    if filters.deleted != "exclude":
        # Seeing deleted clients is part of the right to delete and restore them.
        org_ids &= client_scope_ids(user, organization_id, Perm.CLIENT_DELETE)

    qs = Client.objects.filter(organization_id__in=org_ids)
    if filters.deleted == "exclude":
        qs = qs.filter(deleted_at__isnull=True)
    elif filters.deleted == "only":
        qs = qs.filter(deleted_at__isnull=False)
    qs = qs.filter(client_search_filter(search))
    if filters.group_id is not None:
        qs = qs.filter(groups__id=filters.group_id)
    if filters.source_id is not None:
        qs = qs.filter(source_id=filters.source_id)
    if filters.curator_id is not None:
        qs = qs.filter(curator_id=filters.curator_id)
    if filters.birthday_month is not None:
        qs = qs.filter(birthday__month=filters.birthday_month)
    if filters.last_visit_from is not None:
        qs = qs.filter(last_visit_at__gte=filters.last_visit_from)
    if filters.last_visit_to is not None:
        qs = qs.filter(last_visit_at__lt=filters.last_visit_to)
    for kind in ("messages", "marketing", "personal_data"):
        wanted = getattr(filters, f"consent_{kind}")
        if wanted is not None:
            qs = qs.filter(**{f"consent_{kind}_at__isnull": not wanted})

    path = CLIENT_SORTS[key]
    qs = qs.annotate(_sort=F(path))
    if cursor:
        decoded = cursor_decode(cursor, sort=sort, value_type=_value_type(path))
        value, last_id = decoded.value, decoded.id
        # Keyset with NULLs last in both directions: after a non-null value come greater (smaller) values,
        # equal values with a later id, then every NULL; inside the NULL tail only the id moves on.
        if value is None:
            qs = qs.filter(_sort__isnull=True, **({"id__lt": last_id} if descending else {"id__gt": last_id}))
        elif descending:
            qs = qs.filter(Q(_sort__lt=value) | Q(_sort=value, id__lt=last_id) | Q(_sort__isnull=True))
        else:
            qs = qs.filter(Q(_sort__gt=value) | Q(_sort=value, id__gt=last_id) | Q(_sort__isnull=True))
    order = F("_sort").desc(nulls_last=True) if descending else F("_sort").asc(nulls_last=True)
    qs = qs.order_by(order, "-id" if descending else "id")
    if filters.group_id is not None:
        qs = qs.distinct()
    rows = list(qs.select_related("source", "curator").prefetch_related("groups")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = cursor_encode(sort=sort, value=last._sort, id=last.pk)  # type: ignore[attr-defined]
    return Page(items=rows, next_cursor=next_cursor)


def client_deleted_visible(user: Any, *, via: str = "") -> Q:
    """Live clients, and deleted ones only where the caller may delete and restore clients.

    Seeing deleted clients is part of that right (the list asks for it too): a role without it finds a deleted
    client nowhere, by id neither, nor through the rows that hang off them. ``via`` is the lookup path from
    another model to its client (``"client__"`` for vehicles).
    """
    return Q(**{f"{via}deleted_at__isnull": True}) | Q(
        **{f"{via}organization_id__in": organization_ids_for(user, Perm.CLIENT_DELETE)}
    )


def client_get(*, user: Any, client_id: int) -> Client:
    """One client: 404 outside the tenancy, and for a deleted client without the right to see deleted clients
    (CLIENT_DELETE, so they can be restored); 403 without CLIENT_VIEW."""
    client = (
        Client.objects.filter(client_deleted_visible(user), id=client_id)
        .filter(organization_id__in=organization_ids_for(user))
        .select_related("source", "curator", "organization")
        .prefetch_related("groups")
        .first()
    )
    if client is None:
        raise NotFound(_("Client not found."))
    organization_access_check(user, client.organization_id, Perm.CLIENT_VIEW)
    return client


def client_vehicles(client: Client) -> QuerySet[Vehicle]:
    """The client's vehicles that are not deleted, oldest first (the caller has already read the client)."""
    return Vehicle.objects.filter(client=client, deleted_at__isnull=True).order_by("id")


HISTORY_SORT = "-occurred_at"


def _history_cursor_filter(qs: QuerySet[Event], cursor: str | None) -> QuerySet[Event]:
    if not cursor:
        return qs
    decoded = cursor_decode(cursor, sort=HISTORY_SORT, value_type=dt.datetime)
    if decoded.value is None:
        raise invalid_cursor()
    return qs.filter(Q(occurred_at__lt=decoded.value) | Q(occurred_at=decoded.value, id__lt=decoded.id))


def _events_page(qs: QuerySet[Event], *, cursor: str | None, limit: int) -> Page:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            _("limit must be between 1 and %(n)d.") % {"n": MAX_LIMIT}, fields={"limit": [_("Out of range.")]}
        )
    qs = _history_cursor_filter(qs, cursor).select_related("actor").order_by("-occurred_at", "-id")
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursor_encode(sort=HISTORY_SORT, value=rows[-1].occurred_at, id=rows[-1].pk)
    return Page(items=rows, next_cursor=next_cursor)


def _client_events_qs(client: Client) -> QuerySet[Event]:
    vehicle_ids = [str(i) for i in Vehicle.objects.filter(client=client).values_list("id", flat=True)]
    return Event.objects.filter(
        Q(entity_type="crm.client", entity_id=str(client.pk)) | Q(entity_type="crm.vehicle", entity_id__in=vehicle_ids)
    )


def client_events(client: Client, *, limit: int = 100) -> list[Event]:
    """The latest events of a client the caller already holds (the admin scopes its own queryset)."""
    return list(_client_events_qs(client).select_related("actor").order_by("-occurred_at", "-id")[:limit])


def client_history(*, user: Any, client_id: int, cursor: str | None = None, limit: int = 50) -> Page:
    """The client's events (and their vehicles'), newest first, from the append-only event log."""
    client = client_get(user=user, client_id=client_id)
    return _events_page(_client_events_qs(client), cursor=cursor, limit=limit)


def organization_client_events(*, user: Any, organization_id: int, cursor: str | None = None, limit: int = 50) -> Page:
    """Every client event of one organization, deleted clients' included: the audit view."""
    organization_access_check(user, organization_id, Perm.AUDIT_VIEW)
    qs = Event.objects.filter(organization_id=organization_id, entity_type__in=("crm.client", "crm.vehicle"))
    return _events_page(qs, cursor=cursor, limit=limit)


def client_sources(*, user: Any, organization_id: int | None = None) -> QuerySet[ClientSource]:
    """Client sources of the organizations the caller may see clients in (or of the one named), by name."""
    return ClientSource.objects.filter(organization_id__in=client_scope_ids(user, organization_id)).order_by(
        "organization_id", "name"
    )


def client_groups(*, user: Any, organization_id: int | None = None) -> QuerySet[ClientGroup]:
    """Client groups of the organizations the caller may see clients in (or of the one named), by name."""
    return ClientGroup.objects.filter(organization_id__in=client_scope_ids(user, organization_id)).order_by(
        "organization_id", "name"
    )


def client_counts(*, user: Any, organization_id: int) -> dict[str, int]:
    """How many clients the organization has, deleted ones counted apart (they still belong to its history)."""
    organization_access_check(user, organization_id, Perm.CLIENT_VIEW)
    qs = Client.objects.filter(organization_id=organization_id)
    deleted = qs.filter(deleted_at__isnull=False).count()
    total = qs.count()
    return {"total": total, "active": total - deleted, "deleted": deleted}
