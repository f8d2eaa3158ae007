"""Merging duplicate client cards. What happens to each field is its ``Merge`` policy in ``backend.crm.fields``."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.events import event_record, event_record_many
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.crm.cleaning import client_derived_refresh
from backend.crm.exceptions import CrmErrorCode
from backend.crm.fields import CLIENT_FIELDS_BY_NAME, Merge, merge_fields
from backend.crm.models import CONSENT_KINDS, Client, Vehicle
from backend.crm.selectors import client_deleted_visible
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for

from .clients import client_snapshot

#: Fields whose empty value on the survivor is filled from the duplicate (relations by id).
MERGE_FILL_FIELDS = tuple(CLIENT_FIELDS_BY_NAME[name].attname for name in merge_fields(Merge.FILL))


def _fields_fold(survivor: Client, duplicate: Client) -> None:
    """Apply every field's merge policy to ``survivor`` (and move unique values off ``duplicate``)."""
    for name in merge_fields(Merge.MOVE):
        if getattr(duplicate, name) and not getattr(survivor, name):
            # unique in the organization: it moves, it is not copied
            setattr(survivor, name, getattr(duplicate, name))
            setattr(duplicate, name, "")
    for attname in MERGE_FILL_FIELDS:
        if not getattr(survivor, attname) and getattr(duplicate, attname):
            setattr(survivor, attname, getattr(duplicate, attname))
    if not survivor.extra_contact:
        survivor.extra_contact = duplicate.phone  # the duplicate's phone (kept by the survivor's) stays reachable
    for name in merge_fields(Merge.JOIN):
        limit = int(getattr(Client._meta.get_field(name), "max_length", 0) or 0)
        joined = "\n".join(p for p in (getattr(survivor, name), getattr(duplicate, name)) if p)
        setattr(survivor, name, joined[:limit] if limit else joined)
    for kind in CONSENT_KINDS:  # Merge.EARLIEST: the consent given first, with who recorded it and how
        mine, theirs = getattr(survivor, f"consent_{kind}_at"), getattr(duplicate, f"consent_{kind}_at")
        if theirs is not None and (mine is None or theirs < mine):
            for part in ("at", "by_id", "how"):
                setattr(survivor, f"consent_{kind}_{part}", getattr(duplicate, f"consent_{kind}_{part}"))
    for name in merge_fields(Merge.LATEST):
        theirs = getattr(duplicate, name)
        if theirs is not None and (getattr(survivor, name) is None or theirs > getattr(survivor, name)):
            setattr(survivor, name, theirs)


@transaction.atomic
def client_merge(*, user: Any, client_id: int, duplicate_id: int) -> Client:
    """Fold a duplicate card into ``client_id``: empty fields filled, notes joined, groups and vehicles moved,
    earliest consents kept; the duplicate is soft-deleted (restorable, its history stays) with a merge event."""
    if client_id == duplicate_id:
        raise ValidationFailed(
            _("A client cannot be merged into itself."), fields={"duplicate_id": [_("Choose another client.")]}
        )
    # Lock in id order so two opposite merges cannot deadlock. Both cards are found (or not: a 404) before any
    # right is checked, so a 403 about the one cannot tell whether the other exists.
    locked = {
        c.pk: c
        for c in Client.objects.select_for_update()
        .filter(client_deleted_visible(user), pk__in=(client_id, duplicate_id))
        .filter(organization_id__in=organization_ids_for(user))
        .order_by("id")
    }
    if len(locked) != 2:
        raise NotFound(_("Client not found."))
    survivor, duplicate = locked[client_id], locked[duplicate_id]
    for client in (survivor, duplicate):
        organization_access_check(user, client.organization_id, Perm.CLIENT_CHANGE)
    organization_access_check(user, duplicate.organization_id, Perm.CLIENT_DELETE)
    if survivor.organization_id != duplicate.organization_id:
        raise NotFound(_("Client not found."))
    if survivor.is_deleted or duplicate.is_deleted:
        raise Conflict(_("Restore the client first."), code=CrmErrorCode.CLIENT_DELETED)
    before = client_snapshot(survivor)
    duplicate_before = client_snapshot(duplicate)
    now = timezone.now()

    _fields_fold(survivor, duplicate)
    duplicate.deleted_at = now
    duplicate.save(update_fields=[*merge_fields(Merge.MOVE), "deleted_at", "updated_at"])
    client_derived_refresh(survivor)
    survivor.save()
    survivor.groups.add(*duplicate.groups.all())  # Merge.UNION
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
