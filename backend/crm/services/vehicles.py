"""A client's vehicles (car services): created, changed and soft-deleted with their events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from backend.core.events import event_record, snapshot, soft_delete_record
from backend.core.exceptions import Conflict, ValidationFailed
from backend.core.models import EventAction
from backend.crm.cleaning import nulls_refuse
from backend.crm.exceptions import CrmErrorCode
from backend.crm.fields import VEHICLE_CODE_FIELDS, VEHICLE_FIELDS, VEHICLE_NOT_NULL, VEHICLE_TEXT_FIELDS
from backend.crm.models import Client, Vehicle
from backend.crm.selectors import client_deleted_visible
from backend.organizations.permissions import Perm
from backend.organizations.selectors import tenant_row_for_change

from .clients import _client_for_change


def _vehicle_clean(data: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in VEHICLE_TEXT_FIELDS:
        if name in data:
            value = str(data[name] or "").strip()
            if name in VEHICLE_CODE_FIELDS:
                value = value.upper().replace(" ", "")
            limit = int(getattr(Vehicle._meta.get_field(name), "max_length", 0) or 0)
            if "\x00" in value:
                errors[name] = [_("Contains a NUL character.")]
            elif len(value) > limit:
                errors[name] = [_("At most %(n)d characters.") % {"n": limit}]
            cleaned[name] = value
    if "year" in data:
        year = data["year"]
        if year is not None and not (isinstance(year, int) and 1900 <= year <= 2100):
            errors["year"] = [_("Enter a year between 1900 and 2100.")]
        cleaned["year"] = year
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), fields=errors)
    return cleaned


@transaction.atomic
def vehicle_create(
    *,
    user: Any,
    client_id: int,
    make: str = "",
    model: str = "",
    plate: str = "",
    vin: str = "",
    year: int | None = None,
) -> Vehicle:
    """Add a vehicle to a live client; plate and VIN are stored upper-case without spaces."""
    client = _client_for_change(user, client_id, Perm.CLIENT_CHANGE)
    if client.is_deleted:
        raise _client_deleted()
    cleaned = _vehicle_clean({"make": make, "model": model, "plate": plate, "vin": vin, "year": year})
    vehicle = Vehicle.objects.create(organization_id=client.organization_id, client=client, **cleaned)
    event_record(
        entity=vehicle,
        action=EventAction.CREATE,
        actor=user,
        after={"client": client.pk, **snapshot(vehicle, VEHICLE_FIELDS)},
    )
    return vehicle


def _client_deleted() -> Conflict:
    message = _("The client is deleted: restore them first.")
    return Conflict(message, code=CrmErrorCode.CLIENT_DELETED, fields={"client_id": [message]})


def _vehicle_for_change(user: Any, vehicle_id: int) -> Vehicle:
    """Lock a vehicle of a live client: 404 where its client is not visible to the caller (a deleted client
    without the right to see deleted ones), 409 ``client_deleted`` for those who may see and restore it."""
    vehicle = tenant_row_for_change(
        Vehicle,
        vehicle_id,
        user=user,
        perm=Perm.CLIENT_CHANGE,
        not_found=_("Vehicle not found."),
        visible=client_deleted_visible(user, via="client__"),
    )
    if Client.objects.filter(pk=vehicle.client_id, deleted_at__isnull=False).exists():
        raise _client_deleted()
    return vehicle


@transaction.atomic
def vehicle_update(*, user: Any, vehicle_id: int, data: Mapping[str, Any]) -> Vehicle:
    """Change the vehicle fields present in ``data``; records the difference. A null for a field that cannot be
    cleared (VEHICLE_NOT_NULL) is a 422 naming the field."""
    vehicle = _vehicle_for_change(user, vehicle_id)
    nulls_refuse(data, VEHICLE_NOT_NULL)
    before = snapshot(vehicle, VEHICLE_FIELDS)
    for name, value in _vehicle_clean({k: v for k, v in data.items() if k in VEHICLE_FIELDS}).items():
        setattr(vehicle, name, value)
    vehicle.save()
    after = snapshot(vehicle, VEHICLE_FIELDS)
    if after != before:
        event_record(entity=vehicle, action=EventAction.UPDATE, actor=user, before=before, after=after)
    return vehicle


@transaction.atomic
def vehicle_soft_delete(*, user: Any, vehicle_id: int) -> Vehicle:
    """Hide a vehicle; its row and history stay."""
    vehicle = _vehicle_for_change(user, vehicle_id)
    soft_delete_record(entity=vehicle, actor=user)
    return vehicle
