"""Importing clients: a bulk upsert matched by phone, written in chunks of prepared statements with one event
per changed row. The caller (``backend.imports``) owns the transaction, so a file is all-or-nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.bulk_sql import UpsertResult, links_insert, rows_insert, rows_update
from backend.core.events import changes_to, event_record_many
from backend.core.models import EventAction
from backend.core.names import name_key
from backend.crm.cleaning import client_derived_refresh
from backend.crm.models import CONSENT_KINDS, Client, ClientGroup, ClientSource
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check

from .clients import client_snapshot


@dataclass
class ClientImportRow:
    """One validated file row: plain fields, consent timestamps and names of source/groups."""

    row: int
    fields: dict[str, Any]
    source_name: str | None = None  # None: the file has no such column
    group_names: list[str] | None = None


def _names_resolve(
    model: type[ClientSource] | type[ClientGroup],
    organization_id: int,
    names: set[str],
    *,
    user: Any,
    batch_id: uuid.UUID,
    dry_run: bool,
) -> dict[str, int]:
    """Map name keys (``backend.core.names.name_key``) to ids, creating the missing ones (unless dry run) with
    import events. "ВИП" in the file finds the stored "вип": the key is the one the unique constraint is on."""
    existing = dict(model.objects.filter(organization_id=organization_id).values_list("name_key", "id"))
    missing: dict[str, str] = {}
    for name in names:
        if name_key(name) not in existing:
            missing.setdefault(name_key(name), name)
    if missing and not dry_run:
        new_rows: list[Any] = [model(organization_id=organization_id, name=n) for n in missing.values()]
        created = model.objects.bulk_create(new_rows)  # NameKeyField.pre_save fills name_key
        event_record_many(
            entities=[(obj, None, {"name": obj.name}) for obj in created],
            action=EventAction.IMPORT,
            actor=user,
            batch_id=batch_id,
        )
        existing.update({obj.name_key: obj.pk for obj in created})
    return existing


def client_bulk_upsert(
    *,
    user: Any,
    organization_id: int,
    rows: Sequence[ClientImportRow],
    batch_id: uuid.UUID,
    dry_run: bool,
    chunk_size: int = 1000,
) -> UpsertResult:
    """Create or update clients matched by phone (deleted ones are skipped, not revived).

    Only the columns a row carries are compared and written; unchanged rows are skipped without an event. A
    client code already used by another client (or an earlier row) is a row error in ``errors``. Writes go in
    chunks of prepared INSERT/UPDATE statements plus one bulk event insert per chunk; the caller owns the
    transaction (the import is all-or-nothing). With ``dry_run`` nothing is written; counts say what would be.
    """
    organization_access_check(user, organization_id, Perm.CLIENT_IMPORT)
    result = UpsertResult()
    phones = [r.fields["phone"] for r in rows]
    existing: dict[str, Client] = {}
    matched = Client.objects.filter(organization_id=organization_id)
    if not dry_run:
        # The rows are written back later with values read here (the union of changed columns): lock them now, in
        # id order so two imports cannot deadlock, so an edit committed meanwhile is read, not overwritten.
        matched = matched.select_for_update().order_by("id")
    for start in range(0, len(phones), chunk_size):
        for client in matched.filter(phone__in=phones[start : start + chunk_size]):
            existing[client.phone] = client
    group_map: dict[int, set[int]] = {}
    if existing and any(r.group_names is not None for r in rows):
        ids = [c.pk for c in existing.values()]
        through = Client.groups.through
        for start in range(0, len(ids), chunk_size):
            for cid, gid in through.objects.filter(client_id__in=ids[start : start + chunk_size]).values_list(
                "client_id", "clientgroup_id"
            ):
                group_map.setdefault(cid, set()).add(gid)

    codes: dict[str, int | None] = dict(
        Client.objects.filter(organization_id=organization_id).exclude(code="").values_list("code", "id")
    )

    source_names = {r.source_name for r in rows if r.source_name}
    group_names = {g for r in rows if r.group_names for g in r.group_names}
    sources = _names_resolve(ClientSource, organization_id, source_names, user=user, batch_id=batch_id, dry_run=dry_run)
    groups = _names_resolve(ClientGroup, organization_id, group_names, user=user, batch_id=batch_id, dry_run=dry_run)

    to_create: list[tuple[Client, list[int] | None]] = []
    to_update: list[tuple[Client, dict[str, Any], dict[str, Any]]] = []
    group_changes: list[tuple[int, set[int], set[int]]] = []  # client id, before, after
    update_fields: set[str] = set()
    seen: set[str] = set()
    now = timezone.now()
    actor = user if getattr(user, "is_authenticated", False) else None
    for r in rows:
        phone = r.fields["phone"]
        if phone in seen:
            result.skipped += 1
            result.notes.append({"row": r.row, "field": "phone", "message": _("Repeats an earlier row; skipped.")})
            continue
        seen.add(phone)
        values = dict(r.fields)
        if r.source_name is not None:
            values["source_id"] = sources.get(name_key(r.source_name)) if r.source_name else None
        wanted_groups = {groups.get(name_key(g), -1) for g in r.group_names} if r.group_names is not None else None
        client = existing.get(phone)
        code = values.get("code")
        if code:
            holder = codes.get(code, client.pk if client is not None else None)
            if holder != (client.pk if client is not None else None) or (holder is None and code in codes):
                result.errors.append({"row": r.row, "field": "code", "message": _("Another client has this code.")})
                continue
            codes[code] = client.pk if client is not None else None
        for kind in CONSENT_KINDS:
            key = f"consent_{kind}_at"
            if key not in values:
                continue
            if values[key] is True:  # "yes" in the file: keep the moment it was first given
                values[key] = (getattr(client, key) if client is not None else None) or now
            if values[key] is None:
                values[f"consent_{kind}_by_id"], values[f"consent_{kind}_how"] = None, ""
            elif client is None or getattr(client, key) != values[key]:
                # A consent the file brings is recorded as given by the importing user, "import".
                values[f"consent_{kind}_by_id"] = actor.pk if actor else None
                values[f"consent_{kind}_how"] = "import"
        if client is None:
            client = Client(organization_id=organization_id, **values)
            client_derived_refresh(client)
            to_create.append((client, sorted(wanted_groups) if wanted_groups else None))
            result.created += 1
            continue
        if client.is_deleted:
            result.skipped += 1
            result.notes.append(
                {
                    "row": r.row,
                    "field": "phone",
                    "message": _("A deleted client has this phone; restore them to update."),
                }
            )
            continue
        before, after = changes_to(client, values)
        if wanted_groups is not None and wanted_groups != group_map.get(client.pk, set()):
            group_changes.append((client.pk, group_map.get(client.pk, set()), wanted_groups))
            before["groups"], after["groups"] = sorted(group_map.get(client.pk, set())), sorted(wanted_groups)
        if not after:
            result.skipped += 1
            continue
        for name, value in after.items():
            if name != "groups":
                setattr(client, name, value)
                update_fields.add(name)
        client_derived_refresh(client)
        client.updated_at = now
        to_update.append((client, before, after))
        result.updated += 1

    if dry_run or result.errors:
        return result

    through = Client.groups.through
    for start in range(0, len(to_create), chunk_size):
        chunk = to_create[start : start + chunk_size]
        created = _insert_rows([c for c, _g in chunk], now=now)
        links = [(c.pk, g) for c, gs in zip(created, [g for _c, g in chunk], strict=True) for g in gs or ()]
        links_insert(Client.groups.through, ("client", "clientgroup"), links)
        event_record_many(
            entities=[
                (c, None, client_snapshot(c, groups=gs or []))
                for c, gs in zip(created, [g for _c, g in chunk], strict=True)
            ],
            action=EventAction.IMPORT,
            actor=user,
            batch_id=batch_id,
        )
    if to_update:
        fields_to_write = sorted(update_fields | {"search_text", "name_key", "updated_at"})
        for start in range(0, len(to_update), chunk_size):
            update_chunk = to_update[start : start + chunk_size]
            rows_update(Client, [c for c, _b, _a in update_chunk], fields_to_write)
            event_record_many(
                entities=[(c, _jsonable_refs(b), _jsonable_refs(a)) for c, b, a in update_chunk],
                action=EventAction.IMPORT,
                actor=user,
                batch_id=batch_id,
            )
    if group_changes:
        removals = [(cid, old - new) for cid, old, new in group_changes if old - new]
        for cid, gone in removals:
            through.objects.filter(client_id=cid, clientgroup_id__in=gone).delete()
        through.objects.bulk_create(
            [through(client_id=cid, clientgroup_id=g) for cid, old, new in group_changes for g in new - old],
            batch_size=chunk_size,
        )
    return result


def _jsonable_refs(values: dict[str, Any]) -> dict[str, Any]:
    """Event keys name relations without the ``_id`` suffix, like snapshots do."""
    return {k.removesuffix("_id"): v for k, v in values.items()}


def _insert_rows(clients: Sequence[Client], *, now: dt.datetime) -> list[Client]:
    """INSERT new clients with one prepared statement, then read their ids back by phone.

    The phone is unique in the organization, so the ids are found again in one query.
    """
    if not clients:
        return []
    for c in clients:
        c.updated_at = now
    rows_insert(Client, clients)
    organization_id = clients[0].organization_id
    ids = dict(
        Client.objects.filter(organization_id=organization_id, phone__in=[c.phone for c in clients]).values_list(
            "phone", "id"
        )
    )
    for c in clients:
        c.pk = ids[c.phone]
        c._state.adding = False
    return list(clients)
