"""CRM writes. Every change records an event in the same transaction; nothing here hard-deletes a client."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.events import event_record, event_record_many, restore_record, snapshot, soft_delete_record
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.organizations.models import Membership, Organization
from backend.organizations.permissions import Perm
from backend.organizations.selectors import (
    organization_access_check,
    organization_get,
    tenant_row_for_change,
)

from .cleaning import client_derived_refresh, client_fields_clean
from .exceptions import CrmErrorCode
from .models import CONSENT_KINDS, Client, ClientGroup, ClientSource, Vehicle

# What a client's events carry (denormalised search columns and updated_at are noise in a history).
CLIENT_EVENT_FIELDS = (
    "phone",
    "first_name",
    "last_name",
    "middle_name",
    "code",
    "birthday",
    "gender",
    "email",
    "source",
    "curator",
    "notes",
    "extra_contact",
    "last_visit_at",
    "deleted_at",
    *(f"consent_{k}_{p}" for k in CONSENT_KINDS for p in ("at", "by", "how")),
)
VEHICLE_FIELDS = ("make", "model", "plate", "vin", "year")
BULK_MAX_CLIENTS = 10_000


_SNAPSHOT_ATTRS = [(name, getattr(Client._meta.get_field(name), "attname", name)) for name in CLIENT_EVENT_FIELDS]


def client_snapshot(client: Client, *, groups: Iterable[int] | None = None) -> dict[str, Any]:
    """What a client's events carry: the event fields (relations as ids) and the sorted group ids."""
    data: dict[str, Any] = {}
    for name, attname in _SNAPSHOT_ATTRS:  # a flat loop: imports snapshot thousands of rows
        value = getattr(client, attname)
        data[name] = value.isoformat() if isinstance(value, dt.date) else value
    data["groups"] = sorted(groups if groups is not None else client.groups.values_list("id", flat=True))
    return data


def _client_for_change(user: Any, client_id: int, perm: Perm) -> Client:
    """Lock and return a client the caller may change: 404 outside their tenancy, 403 without ``perm``."""
    return tenant_row_for_change(Client, client_id, user=user, perm=perm, not_found=_("Client not found."))


def client_references_check(
    organization_id: int,
    *,
    source_id: int | None = None,
    group_ids: Sequence[int] = (),
    curator_id: int | None = None,
) -> None:
    """Sources, groups and curators must belong to the client's organization."""
    errors: dict[str, list[str]] = {}
    if (
        source_id is not None
        and not ClientSource.objects.filter(id=source_id, organization_id=organization_id).exists()
    ):
        errors["source_id"] = [_("Unknown source.")]
    if group_ids:
        found = set(
            ClientGroup.objects.filter(id__in=group_ids, organization_id=organization_id).values_list("id", flat=True)
        )
        if found != set(group_ids):
            errors["group_ids"] = [_("Unknown group.")]
    if (
        curator_id is not None
        and not Membership.objects.filter(user_id=curator_id, organization_id=organization_id, is_active=True).exists()
    ):
        errors["curator_id"] = [_("The curator must be a member of the organization.")]
    if errors:
        raise ValidationFailed(_("Some references are invalid."), code=CrmErrorCode.INVALID_REFERENCE, fields=errors)


def _uniqueness_check(client: Client) -> None:
    clash = (
        Client.objects.filter(organization_id=client.organization_id, phone=client.phone).exclude(id=client.pk).first()
    )
    if clash is not None:
        message = (
            _("A deleted client has this phone: restore them instead.")
            if clash.is_deleted
            else _("A client with this phone already exists.")
        )
        raise Conflict(
            message,
            code=CrmErrorCode.CLIENT_PHONE_TAKEN,
            fields={
                "phone": [message],
                "existing_client_id": clash.pk,
                "existing_client_deleted": clash.is_deleted,
            },
        )
    if (
        client.code
        and Client.objects.filter(organization_id=client.organization_id, code=client.code)
        .exclude(id=client.pk)
        .exists()
    ):
        raise Conflict(
            _("Another client has this code."),
            code=CrmErrorCode.CLIENT_CODE_TAKEN,
            fields={"code": [_("Another client has this code.")]},
        )


def _save_unique(client: Client, **save_kwargs: Any) -> None:
    """Save; a concurrent insert of the same phone/code that slipped past the check is still a 409."""
    try:
        with transaction.atomic():
            client.save(**save_kwargs)
    except IntegrityError as exc:
        _uniqueness_check(client)  # names the clash when it is visible now
        raise Conflict(_("A client with this phone already exists."), code=CrmErrorCode.CLIENT_PHONE_TAKEN) from exc


def _consents_apply(client: Client, consents: Mapping[str, Any], *, user: Any, now: dt.datetime) -> None:
    """``consents``: {kind: {"given": bool, "how": str}}. Giving stamps when and who; withdrawing clears."""
    actor = user if getattr(user, "is_authenticated", False) else None
    for kind, change in consents.items():
        if kind not in CONSENT_KINDS or change is None:
            continue
        given = bool(change.get("given"))
        how = str(change.get("how") or "")[:100]
        if given and getattr(client, f"consent_{kind}_at") is None:
            setattr(client, f"consent_{kind}_at", now)
            setattr(client, f"consent_{kind}_by", actor)
            setattr(client, f"consent_{kind}_how", how)
        elif given and how:
            setattr(client, f"consent_{kind}_how", how)
        elif not given:
            setattr(client, f"consent_{kind}_at", None)
            setattr(client, f"consent_{kind}_by", None)
            setattr(client, f"consent_{kind}_how", "")


def _clean_or_raise(data: Mapping[str, Any], organization: Organization) -> dict[str, Any]:
    cleaned, errors = client_fields_clean(data, default_region=organization.country or None)
    if errors:
        raise ValidationFailed(
            _("Some fields are invalid."), fields={name: [message] for name, message in errors.items()}
        )
    return cleaned


@transaction.atomic
def client_create(
    *,
    user: Any,
    organization_id: int,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    middle_name: str = "",
    code: str = "",
    birthday: dt.date | None = None,
    gender: str = "",
    email: str = "",
    notes: str = "",
    extra_contact: str = "",
    source_id: int | None = None,
    group_ids: Sequence[int] = (),
    curator_id: int | None = None,
    consents: Mapping[str, Any] | None = None,
) -> Client:
    """Create a client; 409 ``client_phone_taken`` when the organization has the phone (deleted too)."""
    organization = organization_get(user, organization_id, Perm.CLIENT_CHANGE)
    cleaned = _clean_or_raise(
        {
            "phone": phone,
            "first_name": first_name,
            "last_name": last_name,
            "middle_name": middle_name,
            "code": code,
            "birthday": birthday,
            "gender": gender,
            "email": email,
            "notes": notes,
            "extra_contact": extra_contact,
        },
        organization,
    )
    group_ids = sorted(set(group_ids))
    client_references_check(organization_id, source_id=source_id, group_ids=group_ids, curator_id=curator_id)
    client = Client(organization=organization, source_id=source_id, curator_id=curator_id, **cleaned)
    _consents_apply(client, consents or {}, user=user, now=timezone.now())
    client_derived_refresh(client)
    _uniqueness_check(client)
    _save_unique(client)
    if group_ids:
        client.groups.set(group_ids)
    event_record(entity=client, action=EventAction.CREATE, actor=user, after=client_snapshot(client, groups=group_ids))
    return client


CLIENT_UPDATABLE = (
    "phone",
    "first_name",
    "last_name",
    "middle_name",
    "code",
    "birthday",
    "gender",
    "email",
    "notes",
    "extra_contact",
    "source_id",
    "group_ids",
    "curator_id",
    "consents",
)


@transaction.atomic
def client_update(*, user: Any, client_id: int, data: Mapping[str, Any]) -> Client:
    """Change the fields present in ``data`` (keys from CLIENT_UPDATABLE); records the difference."""
    client = _client_for_change(user, client_id, Perm.CLIENT_CHANGE)
    if client.is_deleted:
        raise Conflict(_("The client is deleted: restore them first."), code=CrmErrorCode.CLIENT_DELETED)
    unknown = set(data) - set(CLIENT_UPDATABLE)
    if unknown:
        raise ValidationFailed(_("Unknown fields."), fields={name: [_("Unknown field.")] for name in sorted(unknown)})
    organization = client.organization
    before = client_snapshot(client)
    cleaned = _clean_or_raise(
        {k: v for k, v in data.items() if k not in ("source_id", "group_ids", "curator_id")}, organization
    )
    group_ids = sorted(set(data["group_ids"])) if data.get("group_ids") is not None else None
    client_references_check(
        client.organization_id,
        source_id=data.get("source_id"),
        group_ids=group_ids or (),
        curator_id=data.get("curator_id"),
    )
    for name, value in cleaned.items():
        setattr(client, name, value)
    if "source_id" in data:
        client.source_id = data["source_id"]
    if "curator_id" in data:
        client.curator_id = data["curator_id"]
    if data.get("consents"):
        _consents_apply(client, data["consents"], user=user, now=timezone.now())
    client_derived_refresh(client)
    _uniqueness_check(client)
    _save_unique(client)
    if group_ids is not None:
        client.groups.set(group_ids)
    after = client_snapshot(client)
    if after != before:
        event_record(entity=client, action=EventAction.UPDATE, actor=user, before=before, after=after)
    return client


@transaction.atomic
def client_soft_delete(*, user: Any, client_id: int) -> Client:
    """Hide a client from lists; the row, its history and its phone stay. Deleting twice changes nothing."""
    client = _client_for_change(user, client_id, Perm.CLIENT_DELETE)
    soft_delete_record(entity=client, actor=user)
    return client


@transaction.atomic
def client_restore(*, user: Any, client_id: int) -> Client:
    client = _client_for_change(user, client_id, Perm.CLIENT_DELETE)
    restore_record(entity=client, actor=user)
    return client


_UNSET: Any = object()


@transaction.atomic
def client_bulk_update(
    *,
    user: Any,
    organization_id: int,
    client_ids: Sequence[int],
    source_id: int | None = _UNSET,
    curator_id: int | None = _UNSET,
    add_group_ids: Sequence[int] = (),
    remove_group_ids: Sequence[int] = (),
) -> int:
    """Set source/curator and add/remove groups for many clients: one UPDATE, one event per changed client.

    Returns how many clients changed. Deleted clients and ids outside the organization make the whole call a
    404, so a half-applied bulk change never happens.
    """
    organization_access_check(user, organization_id, Perm.CLIENT_CHANGE)
    ids = sorted(set(client_ids))
    if not ids or len(ids) > BULK_MAX_CLIENTS:
        raise ValidationFailed(
            _("Choose between 1 and %(n)d clients.") % {"n": BULK_MAX_CLIENTS},
            fields={"client_ids": [_("Choose between 1 and %(n)d clients.") % {"n": BULK_MAX_CLIENTS}]},
        )
    add_groups = sorted(set(add_group_ids))
    remove_groups = sorted(set(remove_group_ids) - set(add_groups))
    client_references_check(
        organization_id,
        source_id=None if source_id is _UNSET else source_id,
        group_ids=sorted(set(add_groups) | set(remove_groups)),
        curator_id=None if curator_id is _UNSET else curator_id,
    )
    qs = Client.objects.filter(organization_id=organization_id, id__in=ids, deleted_at__isnull=True)
    rows = {row["id"]: row for row in qs.select_for_update().values("id", "source_id", "curator_id")}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound(_("Some clients were not found."), fields={"client_ids": missing[:100]})

    through = Client.groups.through
    groups_before: dict[int, set[int]] = {i: set() for i in ids}
    for cid, gid in through.objects.filter(client_id__in=ids).values_list("client_id", "clientgroup_id"):
        groups_before[cid].add(gid)

    now = timezone.now()
    updates: dict[str, Any] = {}
    if source_id is not _UNSET:
        updates["source_id"] = source_id
    if curator_id is not _UNSET:
        updates["curator_id"] = curator_id
    if updates:
        qs.update(**updates, updated_at=now)
    if add_groups:
        through.objects.bulk_create(
            [
                through(client_id=cid, clientgroup_id=gid)
                for cid in ids
                for gid in add_groups
                if gid not in groups_before[cid]
            ],
            batch_size=1000,
        )
    if remove_groups:
        through.objects.filter(client_id__in=ids, clientgroup_id__in=remove_groups).delete()

    entities = []
    for cid in ids:
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for name, value in updates.items():
            if rows[cid][name] != value:
                key = name.removesuffix("_id")
                before[key], after[key] = rows[cid][name], value
        new_groups = (groups_before[cid] | set(add_groups)) - set(remove_groups)
        if new_groups != groups_before[cid]:
            before["groups"], after["groups"] = sorted(groups_before[cid]), sorted(new_groups)
        if after:
            entities.append((Client(id=cid, organization_id=organization_id), before, after))
    event_record_many(entities=entities, action=EventAction.BULK_UPDATE, actor=user)
    return len(entities)


MERGE_FILL_FIELDS = (
    "first_name",
    "last_name",
    "middle_name",
    "code",
    "birthday",
    "gender",
    "email",
    "extra_contact",
    "source_id",
    "curator_id",
)


@transaction.atomic
def client_merge(*, user: Any, client_id: int, duplicate_id: int) -> Client:
    """Fold a duplicate card into ``client_id``: empty fields filled, notes joined, groups and vehicles moved,
    earliest consents kept; the duplicate is soft-deleted (restorable, its history stays) with a merge event."""
    if client_id == duplicate_id:
        raise ValidationFailed(
            _("A client cannot be merged into itself."), fields={"duplicate_id": [_("Choose another client.")]}
        )
    # Lock in id order so two opposite merges cannot deadlock.
    first, second = sorted((client_id, duplicate_id))
    locked = {
        c.pk: c
        for c in (
            _client_for_change(user, first, Perm.CLIENT_CHANGE),
            _client_for_change(user, second, Perm.CLIENT_CHANGE),
        )
    }
    survivor, duplicate = locked[client_id], locked[duplicate_id]
    organization_access_check(user, duplicate.organization_id, Perm.CLIENT_DELETE)
    if survivor.organization_id != duplicate.organization_id:
        raise NotFound(_("Client not found."))
    if survivor.is_deleted or duplicate.is_deleted:
        raise Conflict(_("Restore the client first."), code=CrmErrorCode.CLIENT_DELETED)
    before = client_snapshot(survivor)
    duplicate_before = client_snapshot(duplicate)
    now = timezone.now()

    if duplicate.code and not survivor.code:
        survivor.code, duplicate.code = duplicate.code, ""  # the code is unique: it moves, it is not copied
    for name in MERGE_FILL_FIELDS:
        if name != "code" and not getattr(survivor, name) and getattr(duplicate, name):
            setattr(survivor, name, getattr(duplicate, name))
    if not survivor.extra_contact:
        survivor.extra_contact = duplicate.phone
    if duplicate.notes:
        survivor.notes = "\n".join(p for p in (survivor.notes, duplicate.notes) if p)[:5000]
    for kind in CONSENT_KINDS:
        mine, theirs = getattr(survivor, f"consent_{kind}_at"), getattr(duplicate, f"consent_{kind}_at")
        if theirs is not None and (mine is None or theirs < mine):
            for part in ("at", "by_id", "how"):
                setattr(survivor, f"consent_{kind}_{part}", getattr(duplicate, f"consent_{kind}_{part}"))
    if duplicate.last_visit_at and (survivor.last_visit_at is None or duplicate.last_visit_at > survivor.last_visit_at):
        survivor.last_visit_at = duplicate.last_visit_at

    duplicate.deleted_at = now
    duplicate.save(update_fields=["code", "deleted_at", "updated_at"])
    client_derived_refresh(survivor)
    survivor.save()
    survivor.groups.add(*duplicate.groups.all())
    vehicles = list(Vehicle.objects.filter(client=duplicate))
    Vehicle.objects.filter(client=duplicate).update(client=survivor, updated_at=now)
    event_record_many(
        entities=[(v, {"client": duplicate.pk}, {"client": survivor.pk}) for v in vehicles],
        action=EventAction.MERGE,
        actor=user,
    )
    note = f"merged client #{duplicate.pk} into #{survivor.pk}"
    event_record(
        entity=survivor, action=EventAction.MERGE, actor=user, before=before, after=client_snapshot(survivor), note=note
    )
    event_record(
        entity=duplicate,
        action=EventAction.MERGE,
        actor=user,
        before=duplicate_before,
        after={**client_snapshot(duplicate), "merged_into": survivor.pk},
        note=note,
    )
    return survivor


# --- sources and groups ------------------------------------------------------------------------------------


def _named_create(
    model: type[ClientSource] | type[ClientGroup], *, user: Any, organization_id: int, name: str, code: str
) -> Any:
    organization_access_check(user, organization_id, Perm.CLIENT_CHANGE)
    name = (name or "").strip()
    if not name or "\x00" in name or len(name) > 100:
        raise ValidationFailed(_("Enter a name."), fields={"name": [_("Enter a name of at most 100 characters.")]})
    if model.objects.filter(organization_id=organization_id, name__iexact=name).exists():
        raise Conflict(_("This name is taken."), code=code, fields={"name": [_("This name is taken.")]})
    obj = model(organization_id=organization_id, name=name)
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise Conflict(_("This name is taken."), code=code, fields={"name": [_("This name is taken.")]}) from exc
    event_record(entity=obj, action=EventAction.CREATE, actor=user, after=snapshot(obj, ["name"]))
    return obj


@transaction.atomic
def client_source_create(*, user: Any, organization_id: int, name: str) -> ClientSource:
    return _named_create(
        ClientSource,
        user=user,
        organization_id=organization_id,
        name=name,
        code=CrmErrorCode.SOURCE_NAME_TAKEN,
    )


@transaction.atomic
def client_group_create(*, user: Any, organization_id: int, name: str) -> ClientGroup:
    return _named_create(
        ClientGroup, user=user, organization_id=organization_id, name=name, code=CrmErrorCode.GROUP_NAME_TAKEN
    )


@transaction.atomic
def client_source_update(
    *, user: Any, source_id: int, name: str | None = None, is_active: bool | None = None
) -> ClientSource:
    source = tenant_row_for_change(ClientSource, source_id, user=user, perm=Perm.CLIENT_CHANGE)
    before = snapshot(source, ["name", "is_active"])
    if name is not None:
        name = name.strip()
        if not name:
            raise ValidationFailed(_("Enter a name."), fields={"name": [_("Enter a name.")]})
        if (
            ClientSource.objects.filter(organization_id=source.organization_id, name__iexact=name)
            .exclude(id=source.id)
            .exists()
        ):
            raise Conflict(_("This name is taken."), code=CrmErrorCode.SOURCE_NAME_TAKEN)
        source.name = name
    if is_active is not None:
        source.is_active = is_active
    source.save()
    event_record(
        entity=source,
        action=EventAction.UPDATE,
        actor=user,
        before=before,
        after=snapshot(source, ["name", "is_active"]),
    )
    return source


@transaction.atomic
def client_group_update(*, user: Any, group_id: int, name: str) -> ClientGroup:
    group = tenant_row_for_change(ClientGroup, group_id, user=user, perm=Perm.CLIENT_CHANGE)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(_("Enter a name."), fields={"name": [_("Enter a name.")]})
    if (
        ClientGroup.objects.filter(organization_id=group.organization_id, name__iexact=name)
        .exclude(id=group.id)
        .exists()
    ):
        raise Conflict(_("This name is taken."), code=CrmErrorCode.GROUP_NAME_TAKEN)
    before = snapshot(group, ["name"])
    group.name = name
    group.save()
    event_record(entity=group, action=EventAction.UPDATE, actor=user, before=before, after=snapshot(group, ["name"]))
    return group


# --- vehicles ---------------------------------------------------------------------------------------------


def _vehicle_clean(data: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in ("make", "model", "plate", "vin"):
        if name in data:
            value = str(data[name] or "").strip()
            if name in ("plate", "vin"):
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
    client = _client_for_change(user, client_id, Perm.CLIENT_CHANGE)
    if client.is_deleted:
        raise Conflict(_("The client is deleted: restore them first."), code=CrmErrorCode.CLIENT_DELETED)
    cleaned = _vehicle_clean({"make": make, "model": model, "plate": plate, "vin": vin, "year": year})
    vehicle = Vehicle.objects.create(organization_id=client.organization_id, client=client, **cleaned)
    event_record(
        entity=vehicle,
        action=EventAction.CREATE,
        actor=user,
        after={"client": client.pk, **snapshot(vehicle, VEHICLE_FIELDS)},
    )
    return vehicle


def _vehicle_for_change(user: Any, vehicle_id: int) -> Vehicle:
    return tenant_row_for_change(
        Vehicle, vehicle_id, user=user, perm=Perm.CLIENT_CHANGE, not_found=_("Vehicle not found.")
    )


@transaction.atomic
def vehicle_update(*, user: Any, vehicle_id: int, data: Mapping[str, Any]) -> Vehicle:
    vehicle = _vehicle_for_change(user, vehicle_id)
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
    vehicle = _vehicle_for_change(user, vehicle_id)
    soft_delete_record(entity=vehicle, actor=user)
    return vehicle


# --- import (bulk upsert) ---------------------------------------------------------------------------------


@dataclass
class ClientImportRow:
    """One validated file row: plain fields, consent timestamps and names of source/groups."""

    row: int
    fields: dict[str, Any]
    source_name: str | None = None  # None: the file has no such column
    group_names: list[str] | None = None


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    notes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def _names_resolve(
    model: type[ClientSource] | type[ClientGroup],
    organization_id: int,
    names: set[str],
    *,
    user: Any,
    batch_id: uuid.UUID,
    dry_run: bool,
) -> dict[str, int]:
    """Map lowercase names to ids, creating the missing ones (unless dry run) with import events."""
    existing = {
        n.lower(): i for i, n in model.objects.filter(organization_id=organization_id).values_list("id", "name")
    }
    missing: dict[str, str] = {}
    for name in names:
        if name.lower() not in existing:
            missing.setdefault(name.lower(), name)
    if missing and not dry_run:
        new_rows: list[Any] = [model(organization_id=organization_id, name=n) for n in missing.values()]
        created = model.objects.bulk_create(new_rows)
        event_record_many(
            entities=[(obj, None, {"name": obj.name}) for obj in created],
            action=EventAction.IMPORT,
            actor=user,
            batch_id=batch_id,
        )
        existing.update({obj.name.lower(): obj.pk for obj in created})
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
            values["source_id"] = sources.get(r.source_name.lower()) if r.source_name else None
        wanted_groups = {groups.get(g.lower(), -1) for g in r.group_names} if r.group_names is not None else None
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
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for name, value in values.items():
            current = getattr(client, name)
            if current != value:
                before[name], after[name] = current, value
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
        _insert_links(links)
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
            _update_rows([c for c, _b, _a in update_chunk], fields_to_write)
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


_PLAIN_FIELDS = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey)


def _db_params(clients: Sequence[Client], fields: Sequence[Any]) -> list[list[Any]]:
    """Row values ready for the driver; only dates and times need the backend's conversion."""
    getters = []
    for f in fields:
        if isinstance(f, _PLAIN_FIELDS) and not isinstance(f, models.DateField):
            getters.append((f.attname, None))
        else:
            getters.append((f.attname, f))
    return [
        [getattr(c, a) if f is None else f.get_db_prep_save(getattr(c, a), connection) for a, f in getters]
        for c in clients
    ]


def _insert_rows(clients: Sequence[Client], *, now: dt.datetime) -> list[Client]:
    """INSERT new clients with one prepared statement (executemany), then read their ids back by phone.

    bulk_create compiles every value of every row through the ORM (about 30 columns here), which cost more than
    the database itself; the phone is unique in the organization, so ids are found again in one query.
    """
    if not clients:
        return []
    meta = Client._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    for c in clients:
        c.updated_at = now
    params = _db_params(clients, fields)
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
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


def _insert_links(links: Sequence[tuple[int, int]]) -> None:
    if not links:
        return
    through = Client.groups.through._meta
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(through.db_table)} ({quote('client_id')}, {quote('clientgroup_id')}) "  # noqa: S608
        "VALUES (%s, %s)"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, [list(link) for link in links])


def _update_rows(clients: Sequence[Client], field_names: Sequence[str]) -> None:
    """One parameterised UPDATE per row, sent with executemany.

    QuerySet.bulk_update builds a CASE WHEN per row and column, which made re-imports several times slower
    than inserting; a prepared statement executed many times is the fast path on both SQLite and PostgreSQL.
    """
    meta = Client._meta
    fields: list[Any] = [meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    params = [[*row, c.pk] for row, c in zip(_db_params(clients, fields), clients, strict=True)]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _jsonable_refs(values: dict[str, Any]) -> dict[str, Any]:
    """Event keys name relations without the ``_id`` suffix, like snapshots do."""
    return {k.removesuffix("_id"): v for k, v in values.items()}
