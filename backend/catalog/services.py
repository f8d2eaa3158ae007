"""Catalog writes, each with its event. The booking issue adds staff schedules and resource rules on top."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.bulk_sql import UpsertResult
from backend.core.events import (
    changes_to,
    event_record,
    event_record_many,
    restore_record,
    snapshot,
    soft_delete_record,
)
from backend.core.exceptions import Conflict, ValidationFailed
from backend.core.models import EventAction
from backend.core.names import name_key
from backend.organizations.models import Membership
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, tenant_row_for_change

from .exceptions import CatalogErrorCode
from .models import MAX_DURATION_MINUTES, MAX_PRICE, Resource, Service, ServiceGroup, StaffService

SERVICE_EVENT_FIELDS = (
    "name",
    "code",
    "group",
    "price",
    "duration_minutes",
    "description",
    "is_active",
    "deleted_at",
)
SERVICE_UPDATABLE = ("name", "code", "group_id", "price", "duration_minutes", "description", "is_active")


def service_fields_clean(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean the service fields present in ``data``; returns (cleaned, {field: error})."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in ("name", "code", "description"):
        if name in data:
            value = str(data[name] or "").strip()
            limit = int(getattr(Service._meta.get_field(name), "max_length", 0) or 0)
            if "\x00" in value:
                errors[name] = _("Contains a NUL character.")
            elif len(value) > limit:
                errors[name] = _("At most %(n)d characters.") % {"n": limit}
            cleaned[name] = value
    if "name" in cleaned and not cleaned["name"]:
        errors["name"] = _("Enter a name.")
    if "price" in data:
        try:
            price = Decimal(str(data["price"]).strip().replace(" ", "").replace(",", "."))
            if not price.is_finite() or not Decimal("0") <= price <= MAX_PRICE:
                raise InvalidOperation
            cleaned["price"] = price.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            errors["price"] = _("Enter a price between 0 and %(max)s.") % {"max": MAX_PRICE}
    if "duration_minutes" in data:
        try:
            duration = int(str(data["duration_minutes"]).strip())
            if not 1 <= duration <= MAX_DURATION_MINUTES:
                raise ValueError
            cleaned["duration_minutes"] = duration
        except (TypeError, ValueError):
            errors["duration_minutes"] = _("Enter whole minutes between 1 and %(max)d.") % {"max": MAX_DURATION_MINUTES}
    if "is_active" in data:
        cleaned["is_active"] = bool(data["is_active"])
    return cleaned, errors


def _raise_if(errors: Mapping[str, str]) -> None:
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), fields={k: [v] for k, v in errors.items()})


def _group_check(organization_id: int, group_id: int | None) -> None:
    if group_id is not None and not ServiceGroup.objects.filter(id=group_id, organization_id=organization_id).exists():
        raise ValidationFailed(
            _("Unknown group."),
            code=CatalogErrorCode.INVALID_REFERENCE,
            fields={"group_id": [_("Unknown group.")]},
        )


def _code_check(service: Service) -> None:
    if (
        service.code
        and Service.objects.filter(organization_id=service.organization_id, code=service.code)
        .exclude(id=service.pk)
        .exists()
    ):
        raise Conflict(
            _("Another service has this code."),
            code=CatalogErrorCode.SERVICE_CODE_TAKEN,
            fields={"code": [_("Another service has this code.")]},
        )


def _save(service: Service) -> None:
    try:
        with transaction.atomic():
            service.save()
    except IntegrityError as exc:
        raise Conflict(_("Another service has this code."), code=CatalogErrorCode.SERVICE_CODE_TAKEN) from exc


@transaction.atomic
def service_create(
    *,
    user: Any,
    organization_id: int,
    name: str,
    price: Decimal | str | int = Decimal("0"),
    duration_minutes: int = 60,
    code: str = "",
    group_id: int | None = None,
    description: str = "",
    is_active: bool = True,
) -> Service:
    """Create a service in the organization (catalog-change right), its code and group checked there; one event."""
    organization_access_check(user, organization_id, Perm.CATALOG_CHANGE)
    cleaned, errors = service_fields_clean(
        {
            "name": name,
            "price": price,
            "duration_minutes": duration_minutes,
            "code": code,
            "description": description,
            "is_active": is_active,
        }
    )
    _raise_if(errors)
    _group_check(organization_id, group_id)
    service = Service(organization_id=organization_id, group_id=group_id, **cleaned)
    _code_check(service)
    _save(service)
    event_record(entity=service, action=EventAction.CREATE, actor=user, after=snapshot(service, SERVICE_EVENT_FIELDS))
    return service


def _service_for_change(user: Any, service_id: int) -> Service:
    return tenant_row_for_change(
        Service, service_id, user=user, perm=Perm.CATALOG_CHANGE, not_found=_("Service not found.")
    )


@transaction.atomic
def service_update(*, user: Any, service_id: int, data: Mapping[str, Any]) -> Service:
    """Change the given fields of a service (unknown keys are a 422) and record before/after in one event."""
    service = _service_for_change(user, service_id)
    unknown = set(data) - set(SERVICE_UPDATABLE)
    if unknown:
        raise ValidationFailed(_("Unknown fields."), fields={n: [_("Unknown field.")] for n in sorted(unknown)})
    before = snapshot(service, SERVICE_EVENT_FIELDS)
    cleaned, errors = service_fields_clean(data)
    _raise_if(errors)
    if "group_id" in data:
        _group_check(service.organization_id, data["group_id"])
        service.group_id = data["group_id"]
    for name, value in cleaned.items():
        setattr(service, name, value)
    _code_check(service)
    _save(service)
    after = snapshot(service, SERVICE_EVENT_FIELDS)
    if after != before:
        event_record(entity=service, action=EventAction.UPDATE, actor=user, before=before, after=after)
    return service


@transaction.atomic
def service_soft_delete(*, user: Any, service_id: int) -> Service:
    """Hide a service from the catalog; its bookings and history keep pointing at it."""
    service = _service_for_change(user, service_id)
    soft_delete_record(entity=service, actor=user)
    return service


@transaction.atomic
def service_restore(*, user: Any, service_id: int) -> Service:
    """Bring a soft-deleted service back, with a restore event."""
    service = _service_for_change(user, service_id)
    restore_record(entity=service, actor=user)
    return service


def _group_name_clean(name: str | None) -> str:
    name = (name or "").strip()
    limit = int(getattr(ServiceGroup._meta.get_field("name"), "max_length", 0) or 0)
    if not name or "\x00" in name or len(name) > limit:
        raise ValidationFailed(_("Enter a name."), fields={"name": [_("Enter a name.")]})
    return name


def _group_save(group: ServiceGroup) -> None:
    """Save in a savepoint: the case-insensitive unique index refusing the name is a 409, not a 500."""
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError as exc:
        raise Conflict(
            _("This name is taken."),
            code=CatalogErrorCode.SERVICE_GROUP_NAME_TAKEN,
            fields={"name": [_("This name is taken.")]},
        ) from exc


@transaction.atomic
def service_group_create(*, user: Any, organization_id: int, name: str, sort_order: int = 0) -> ServiceGroup:
    """Add a service group; 409 ``service_group_name_taken`` when the organization has the name in any case."""
    organization_access_check(user, organization_id, Perm.CATALOG_CHANGE)
    group = ServiceGroup(organization_id=organization_id, name=_group_name_clean(name), sort_order=sort_order)
    _group_save(group)
    event_record(entity=group, action=EventAction.CREATE, actor=user, after=snapshot(group, ["name", "sort_order"]))
    return group


@transaction.atomic
def service_group_update(
    *, user: Any, group_id: int, name: str | None = None, sort_order: int | None = None
) -> ServiceGroup:
    """Rename or reorder a service group; a name another group has is a 409 ``service_group_name_taken``."""
    group = tenant_row_for_change(ServiceGroup, group_id, user=user, perm=Perm.CATALOG_CHANGE)
    before = snapshot(group, ["name", "sort_order"])
    if name is not None:
        group.name = _group_name_clean(name)
    if sort_order is not None:
        group.sort_order = sort_order
    _group_save(group)
    event_record(
        entity=group,
        action=EventAction.UPDATE,
        actor=user,
        before=before,
        after=snapshot(group, ["name", "sort_order"]),
    )
    return group


# --- import (bulk upsert) ---------------------------------------------------------------------------------


@dataclass
class ServiceImportRow:
    row: int
    fields: dict[str, Any]
    group_name: str | None = None  # None: no such column in the file


def service_bulk_upsert(
    *,
    user: Any,
    organization_id: int,
    rows: Sequence[ServiceImportRow],
    batch_id: uuid.UUID,
    dry_run: bool,
) -> UpsertResult:
    """Create or update services matched by code, then by name (case-insensitive); deleted ones are skipped.

    Ambiguous name matches are reported as row errors. The caller owns the transaction.
    """
    organization_access_check(user, organization_id, Perm.CATALOG_CHANGE)
    result = UpsertResult()
    services = list(Service.objects.filter(organization_id=organization_id))
    by_code = {s.code: s for s in services if s.code}
    by_name: dict[str, list[Service]] = {}
    for s in services:
        by_name.setdefault(name_key(s.name), []).append(s)
    # Group names match on the key their unique constraint holds, so "ВИП" in the file finds the stored "вип".
    groups = dict(ServiceGroup.objects.filter(organization_id=organization_id).values_list("name_key", "id"))
    wanted_groups = {r.group_name.strip() for r in rows if r.group_name and r.group_name.strip()}
    missing: dict[str, str] = {}
    for n in wanted_groups:
        if name_key(n) not in groups:
            missing.setdefault(name_key(n), n)
    if missing and not dry_run:
        created_groups = ServiceGroup.objects.bulk_create(
            [ServiceGroup(organization_id=organization_id, name=n[:100]) for n in missing.values()]
        )
        event_record_many(
            entities=[(g, None, {"name": g.name}) for g in created_groups],
            action=EventAction.IMPORT,
            actor=user,
            batch_id=batch_id,
        )
        groups.update({g.name_key: g.pk for g in created_groups})

    to_create: list[Service] = []
    to_update: list[tuple[Service, dict[str, Any], dict[str, Any]]] = []
    update_fields: set[str] = set()
    touched: set[int] = set()
    now = timezone.now()
    for r in rows:
        values = dict(r.fields)
        if r.group_name is not None:
            values["group_id"] = groups.get(name_key(r.group_name)) if r.group_name.strip() else None
        code = values.get("code") or ""
        match: Service | None = by_code.get(code) if code else None
        if match is None:
            candidates = [s for s in by_name.get(name_key(str(values.get("name", ""))), []) if not (code and s.code)]
            if len(candidates) > 1:
                result.errors.append(
                    {
                        "row": r.row,
                        "field": "name",
                        "message": _("Several services have this name; add a code to tell them apart."),
                    }
                )
                continue
            match = candidates[0] if candidates else None
        if match is None:
            service = Service(organization_id=organization_id, **values)
            to_create.append(service)
            if code:
                by_code[code] = service
            by_name.setdefault(name_key(service.name), []).append(service)
            result.created += 1
            continue
        if match.pk is None or match.pk in touched:
            result.skipped += 1
            result.notes.append({"row": r.row, "field": "code", "message": _("Repeats an earlier row; skipped.")})
            continue
        touched.add(match.pk)
        if match.is_deleted:
            result.skipped += 1
            result.notes.append(
                {
                    "row": r.row,
                    "field": "code",
                    "message": _("Matches a deleted service; restore it to update."),
                }
            )
            continue
        before, after = changes_to(match, values)
        if not after:
            result.skipped += 1
            continue
        for name, value in after.items():
            setattr(match, name, value)
            update_fields.add(name)
        match.updated_at = now
        to_update.append((match, before, after))
        result.updated += 1
    if dry_run or result.errors:
        return result
    created = Service.objects.bulk_create(to_create, batch_size=1000)
    event_record_many(
        entities=[(s, None, snapshot(s, SERVICE_EVENT_FIELDS)) for s in created],
        action=EventAction.IMPORT,
        actor=user,
        batch_id=batch_id,
    )
    if to_update:
        Service.objects.bulk_update(
            [s for s, _b, _a in to_update], sorted(update_fields | {"updated_at"}), batch_size=1000
        )
        event_record_many(
            entities=[
                (
                    s,
                    {k.removesuffix("_id"): v for k, v in b.items()},
                    {k.removesuffix("_id"): v for k, v in a.items()},
                )
                for s, b, a in to_update
            ],
            action=EventAction.IMPORT,
            actor=user,
            batch_id=batch_id,
        )
    return result


# --- resources and who performs what (models for the booking issue; written here with events) ------------------

RESOURCE_FIELDS = ("branch", "kind", "name", "is_active")
STAFF_SERVICE_FIELDS = ("staff", "service", "price", "duration_minutes", "is_active")


@transaction.atomic
def resource_save(*, user: Any, resource: Resource) -> Resource:
    """Create or change a resource of a branch the caller may manage."""
    organization_access_check(user, resource.branch.organization_id, Perm.CATALOG_CHANGE)
    before = None
    if resource.pk is not None:
        stored = Resource.objects.select_for_update().get(pk=resource.pk)
        organization_access_check(user, stored.branch.organization_id, Perm.CATALOG_CHANGE)
        before = snapshot(stored, RESOURCE_FIELDS)
    resource.full_clean()
    resource.save()
    after = snapshot(resource, RESOURCE_FIELDS)
    if before is None:
        event_record(
            entity=resource,
            action=EventAction.CREATE,
            actor=user,
            after=after,
            organization_id=resource.branch.organization_id,
        )
    elif before != after:
        event_record(
            entity=resource,
            action=EventAction.UPDATE,
            actor=user,
            before=before,
            after=after,
            organization_id=resource.branch.organization_id,
        )
    return resource


@transaction.atomic
def staff_service_save(*, user: Any, staff_service: StaffService) -> StaffService:
    """Create or change who performs a service; the service fixes the organization."""
    stored = None
    if staff_service.pk is not None:
        # The stored row's organization counts too: a row outside the caller's tenancy is a 404, whatever it becomes.
        stored = tenant_row_for_change(StaffService, staff_service.pk, user=user, perm=Perm.CATALOG_CHANGE)
    staff_service.organization_id = staff_service.service.organization_id
    organization_access_check(user, staff_service.organization_id, Perm.CATALOG_CHANGE)
    if not Membership.objects.filter(
        user_id=staff_service.staff_id, organization_id=staff_service.organization_id, is_active=True
    ).exists():
        raise ValidationFailed(
            _("The staff member must belong to the organization."),
            code=CatalogErrorCode.INVALID_REFERENCE,
            fields={"staff": [_("Not a member of the organization.")]},
        )
    before = snapshot(stored, STAFF_SERVICE_FIELDS) if stored is not None else None
    staff_service.full_clean()
    staff_service.save()
    after = snapshot(staff_service, STAFF_SERVICE_FIELDS)
    if before is None:
        event_record(entity=staff_service, action=EventAction.CREATE, actor=user, after=after)
    elif before != after:
        event_record(entity=staff_service, action=EventAction.UPDATE, actor=user, before=before, after=after)
    return staff_service
