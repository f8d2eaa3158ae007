"""CRM writes, one module per business rule; every change records an event in the same transaction.

- ``clients``: client cards (create, change, soft delete, restore, bulk changes);
- ``merge``: folding a duplicate card into another;
- ``sources_groups``: client sources and groups;
- ``vehicles``: a client's vehicles;
- ``vehicles_bulk``: many vehicles at once (the demo world, imports);
- ``client_import``: the bulk upsert behind file imports.

The public names are re-exported here, so callers import ``backend.crm.services`` and need not know the split.
"""

from __future__ import annotations

from backend.crm.fields import CLIENT_EVENT_FIELDS, CLIENT_UPDATABLE

from .client_import import ClientImportRow, UpsertResult, client_bulk_upsert
from .clients import (
    BULK_MAX_CLIENTS,
    client_bulk_update,
    client_create,
    client_references_check,
    client_restore,
    client_snapshot,
    client_soft_delete,
    client_update,
)
from .merge import MERGE_FILL_FIELDS, client_merge
from .sources_groups import client_group_create, client_group_update, client_source_create, client_source_update
from .vehicles import VEHICLE_FIELDS, vehicle_create, vehicle_soft_delete, vehicle_update
from .vehicles_bulk import VehicleRow, vehicles_create_many

__all__ = [
    "BULK_MAX_CLIENTS",
    "CLIENT_EVENT_FIELDS",
    "CLIENT_UPDATABLE",
    "MERGE_FILL_FIELDS",
    "VEHICLE_FIELDS",
    "ClientImportRow",
    "UpsertResult",
    "VehicleRow",
    "client_bulk_update",
    "client_bulk_upsert",
    "client_create",
    "client_group_create",
    "client_group_update",
    "client_merge",
    "client_references_check",
    "client_restore",
    "client_snapshot",
    "client_soft_delete",
    "client_source_create",
    "client_source_update",
    "client_update",
    "vehicle_create",
    "vehicle_soft_delete",
    "vehicle_update",
    "vehicles_create_many",
]
