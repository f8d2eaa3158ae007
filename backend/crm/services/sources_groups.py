"""Client sources and groups: names unique per organization regardless of case ("VIP" is "vip").

The database holds that rule (a unique index on the organization and the case-folded ``name_key``, Cyrillic and
Kazakh letters included: ``backend.core.names``), so two concurrent creates cannot both win; the services turn
the refused insert into the same 409 a visible clash gives.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from backend.core.events import event_record, snapshot
from backend.core.exceptions import Conflict, ValidationFailed
from backend.core.models import EventAction
from backend.crm.exceptions import CrmErrorCode
from backend.crm.models import ClientGroup, ClientSource
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, tenant_row_for_change

NAME_MAX_LENGTH = 100


def _name_clean(name: str | None) -> str:
    name = (name or "").strip()
    if not name or "\x00" in name or len(name) > NAME_MAX_LENGTH:
        raise ValidationFailed(_("Enter a name."), fields={"name": [_("Enter a name of at most 100 characters.")]})
    return name


def _name_taken(code: str) -> Conflict:
    return Conflict(_("This name is taken."), code=code, fields={"name": [_("This name is taken.")]})


def _save_named(obj: ClientSource | ClientGroup, *, code: str) -> None:
    """Save in a savepoint: the case-insensitive unique index refusing the name is a 409 ``code``, not a 500."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise _name_taken(code) from exc


def _named_create(
    model: type[ClientSource] | type[ClientGroup], *, user: Any, organization_id: int, name: str, code: str
) -> Any:
    organization_access_check(user, organization_id, Perm.CLIENT_CHANGE)
    obj = model(organization_id=organization_id, name=_name_clean(name))
    _save_named(obj, code=code)
    event_record(entity=obj, action=EventAction.CREATE, actor=user, after=snapshot(obj, ["name"]))
    return obj


@transaction.atomic
def client_source_create(*, user: Any, organization_id: int, name: str) -> ClientSource:
    """Add a source; 409 ``source_name_taken`` when the organization has it in any case."""
    return _named_create(
        ClientSource,
        user=user,
        organization_id=organization_id,
        name=name,
        code=CrmErrorCode.SOURCE_NAME_TAKEN,
    )


@transaction.atomic
def client_group_create(*, user: Any, organization_id: int, name: str) -> ClientGroup:
    """Add a group; 409 ``group_name_taken`` when the organization has it in any case."""
    return _named_create(
        ClientGroup, user=user, organization_id=organization_id, name=name, code=CrmErrorCode.GROUP_NAME_TAKEN
    )


@transaction.atomic
def client_source_update(
    *, user: Any, source_id: int, name: str | None = None, is_active: bool | None = None
) -> ClientSource:
    """Rename or (de)activate a source; a name another source has is a 409 ``source_name_taken``."""
    source = tenant_row_for_change(ClientSource, source_id, user=user, perm=Perm.CLIENT_CHANGE)
    before = snapshot(source, ["name", "is_active"])
    if name is not None:
        source.name = _name_clean(name)
    if is_active is not None:
        source.is_active = is_active
    _save_named(source, code=CrmErrorCode.SOURCE_NAME_TAKEN)
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
    """Rename a group; a name another group has is a 409 ``group_name_taken``."""
    group = tenant_row_for_change(ClientGroup, group_id, user=user, perm=Perm.CLIENT_CHANGE)
    before = snapshot(group, ["name"])
    group.name = _name_clean(name)
    _save_named(group, code=CrmErrorCode.GROUP_NAME_TAKEN)
    event_record(entity=group, action=EventAction.UPDATE, actor=user, before=before, after=snapshot(group, ["name"]))
    return group
