"""Adding many vehicles at once (an import, a demo world): the checks of ``vehicles.vehicle_create`` for every row,
written in one INSERT and one event insert. All or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from backend.core.events import event_record_many, snapshot
from backend.core.exceptions import NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.crm.fields import VEHICLE_FIELDS
from backend.crm.models import Client, Vehicle
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check

from .vehicles import _client_deleted, _vehicle_clean

MAX_BULK = 5000


@dataclass(frozen=True)
class VehicleRow:
    client_id: int
    make: str = ""
    model: str = ""
    plate: str = ""
    vin: str = ""
    year: int | None = None


@transaction.atomic
def vehicles_create_many(*, user: object, organization_id: int, rows: Sequence[VehicleRow]) -> list[Vehicle]:
    """Add vehicles to live clients of ``organization_id`` (client-change right): 404 for a client of another
    organization (or none), 409 ``client_deleted`` for a deleted one, 422 for a bad field; nothing written then."""
    organization_access_check(user, organization_id, Perm.CLIENT_CHANGE)
    if len(rows) > MAX_BULK:
        raise ValidationFailed(
            _("At most %(n)d vehicles at once.") % {"n": MAX_BULK}, fields={"rows": [str(len(rows))]}
        )
    ids = {r.client_id for r in rows}
    clients = dict(Client.objects.filter(organization_id=organization_id, pk__in=ids).values_list("pk", "deleted_at"))
    if len(clients) != len(ids):
        raise NotFound(_("Client not found."))
    if any(deleted is not None for deleted in clients.values()):
        raise _client_deleted()
    vehicles = [
        Vehicle(
            organization_id=organization_id,
            client_id=r.client_id,
            **_vehicle_clean({"make": r.make, "model": r.model, "plate": r.plate, "vin": r.vin, "year": r.year}),
        )
        for r in rows
    ]
    created = Vehicle.objects.bulk_create(vehicles)
    if any(v.pk is None for v in created):  # a backend without RETURNING: read the ids back
        created = list(
            Vehicle.objects.filter(organization_id=organization_id, client_id__in=ids).order_by("-id")[: len(rows)]
        )
    event_record_many(
        entities=[(v, None, {"client": v.client_id, **snapshot(v, VEHICLE_FIELDS)}) for v in created],
        action=EventAction.CREATE,
        actor=user,
    )
    return created
