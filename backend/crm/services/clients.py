"""Client cards: create, change, soft delete and restore, bulk changes. Each write records its event in the same
transaction; nothing here hard-deletes a client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.events import event_record, event_record_many, restore_record, soft_delete_record
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.crm.cleaning import client_derived_refresh, client_fields_clean, nulls_refuse
from backend.crm.exceptions import CrmErrorCode
from backend.crm.fields import CLIENT_NOT_NULL, CLIENT_PLAIN_FIELDS, CLIENT_UPDATABLE, client_snapshot_values
from backend.crm.models import CONSENT_KINDS, Client, ClientGroup, ClientSource
from backend.crm.selectors import client_deleted_visible
from backend.organizations.models import Membership, Organization
from backend.organizations.permissions import Perm
from backend.organizations.selectors import (
    organization_access_check,
    organization_get,
    tenant_row_for_change,
)

BULK_MAX_CLIENTS = 10_000


def client_snapshot(client: Client, *, groups: Iterable[int] | None = None) -> dict[str, Any]:
    """What a client's events carry: the event fields (relations as ids) and the sorted group ids."""
    data = client_snapshot_values(client)
    data["groups"] = sorted(groups if groups is not None else client.groups.values_list("id", flat=True))
    return data


def _client_for_change(user: Any, client_id: int, perm: Perm) -> Client:
    """Lock and return a client the caller may change: 404 outside their tenancy and for a deleted client the
    caller may not see (a 409 ``client_deleted`` would confirm it exists), 403 without ``perm``."""
    return tenant_row_for_change(
        Client,
        client_id,
        user=user,
        perm=perm,
        not_found=_("Client not found."),
        visible=client_deleted_visible(user),
    )


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


@transaction.atomic
def client_update(*, user: Any, client_id: int, data: Mapping[str, Any]) -> Client:
    """Change the fields present in ``data`` (keys from CLIENT_UPDATABLE); records the difference.

    A null for a field that cannot be cleared (CLIENT_NOT_NULL) is a 422 naming the field."""
    client = _client_for_change(user, client_id, Perm.CLIENT_CHANGE)
    if client.is_deleted:
        raise Conflict(_("The client is deleted: restore them first."), code=CrmErrorCode.CLIENT_DELETED)
    unknown = set(data) - set(CLIENT_UPDATABLE)
    if unknown:
        raise ValidationFailed(_("Unknown fields."), fields={name: [_("Unknown field.")] for name in sorted(unknown)})
    nulls_refuse(data, CLIENT_NOT_NULL)
    organization = client.organization
    before = client_snapshot(client)
    cleaned = _clean_or_raise({k: v for k, v in data.items() if k in CLIENT_PLAIN_FIELDS}, organization)
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
    """Bring a soft-deleted client back into lists; restoring a live client changes nothing."""
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
