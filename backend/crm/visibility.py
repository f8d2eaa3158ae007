"""The CRM's rows in the idempotent replay check (``backend.core.visibility``): what the client selectors show."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from backend.core.visibility import visibility_register
from backend.organizations.selectors import organization_ids_for

from .models import Client, Vehicle
from .selectors import client_deleted_visible


def _visible_clients(user: Any) -> Any:
    """Clients ``client_get`` would find for the caller: their tenancy, and deleted ones only with the right."""
    return Client.objects.filter(client_deleted_visible(user), organization_id__in=organization_ids_for(user))


def clients_visible(user: Any, ids: Sequence[int]) -> Collection[int]:
    """The ids among ``ids`` of clients the caller may still see."""
    return set(_visible_clients(user).filter(id__in=ids).values_list("id", flat=True))


def vehicles_visible(user: Any, ids: Sequence[int]) -> Collection[int]:
    """The ids among ``ids`` of vehicles whose client the caller may still see (a vehicle is read on its card)."""
    qs = Vehicle.objects.filter(id__in=ids, client_id__in=_visible_clients(user).values("id"))
    return set(qs.values_list("id", flat=True))


def register() -> None:
    """Called from ``CrmConfig.ready()``."""
    visibility_register("crm.client", clients_visible)
    visibility_register("crm.vehicle", vehicles_visible)
