"""Writes for organizations, branches and memberships; each one is permission-checked and leaves an Event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from backend.core.events import event_record, snapshot
from backend.core.exceptions import Conflict, PermissionDenied, ValidationFailed
from backend.core.models import EventAction

from .models import Branch, Membership, Organization, Role
from .permissions import Perm
from .selectors import organization_access_check, tenant_row_for_change

ORGANIZATION_FIELDS = ("name", "kind", "parent", "country", "time_zone", "currency", "language", "is_active")
BRANCH_FIELDS = (
    "organization",
    "name",
    "address",
    "latitude",
    "longitude",
    "time_zone",
    "phone",
    "opening_hours",
    "is_active",
)
MEMBERSHIP_FIELDS = ("user", "organization", "branch", "role", "is_active")


def _fields(data: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationFailed(_("Unknown fields."), fields={k: [_("Unknown field.")] for k in unknown})
    return dict(data)


def _pk(value: Any) -> Any:
    return value.pk if hasattr(value, "pk") else value


def _parent_check(user: Any, organization: Organization | None, parent_id: int | None) -> None:
    """A parent must be manageable by the caller, and never the organization itself or one of its franchises."""
    if parent_id is None:
        return
    organization_access_check(user, parent_id, Perm.ORG_MANAGE)
    node: int | None = parent_id
    seen: set[int] = set()
    while node is not None and node not in seen:
        if organization is not None and node == organization.pk:
            raise ValidationFailed(
                _("An organization cannot be its own HQ."), fields={"parent": [_("This would make a cycle.")]}
            )
        seen.add(node)
        node = Organization.objects.filter(pk=node).values_list("parent_id", flat=True).first()


@transaction.atomic
def organization_create(*, user: Any, data: Mapping[str, Any]) -> Organization:
    """Only superusers found organizations (everyone else acts inside the ones they belong to)."""
    if not getattr(user, "is_superuser", False):
        raise PermissionDenied(_("Your role does not allow this action."))
    values = {k: _pk(v) for k, v in _fields(data, ORGANIZATION_FIELDS).items()}
    parent_id = values.pop("parent", None)
    _parent_check(user, None, parent_id)
    organization = Organization.objects.create(parent_id=parent_id, **values)
    event_record(
        entity=organization,
        action=EventAction.CREATE,
        actor=user,
        organization_id=organization.pk,
        after=snapshot(organization, ORGANIZATION_FIELDS),
    )
    return organization


@transaction.atomic
def organization_update(*, user: Any, organization_id: int, data: Mapping[str, Any]) -> Organization:
    """Change an organization's settings (manage right); leaving an HQ also needs the HQ's manage right."""
    organization_access_check(user, organization_id, Perm.ORG_MANAGE)
    organization = Organization.objects.select_for_update().get(pk=organization_id)
    values = {k: _pk(v) for k, v in _fields(data, ORGANIZATION_FIELDS).items()}
    before = snapshot(organization, ORGANIZATION_FIELDS)
    if "parent" in values:
        parent_id = values.pop("parent")
        if parent_id != organization.parent_id:
            if organization.parent_id is not None:
                # Leaving an HQ ends its oversight: only someone who runs the HQ may do that.
                organization_access_check(user, organization.parent_id, Perm.ORG_MANAGE)
            _parent_check(user, organization, parent_id)
        organization.parent_id = parent_id
    for name, value in values.items():
        setattr(organization, name, value)
    organization.save()
    after = snapshot(organization, ORGANIZATION_FIELDS)
    if after != before:
        event_record(
            entity=organization,
            action=EventAction.UPDATE,
            actor=user,
            organization_id=organization.pk,
            before=before,
            after=after,
        )
    return organization


@transaction.atomic
def branch_create(*, user: Any, organization_id: int, data: Mapping[str, Any]) -> Branch:
    """Create a branch in the organization (manage right), with a create event."""
    organization_access_check(user, organization_id, Perm.ORG_MANAGE)
    values = _fields(data, BRANCH_FIELDS)
    values.pop("organization", None)
    branch = Branch.objects.create(organization_id=organization_id, **values)
    event_record(entity=branch, action=EventAction.CREATE, actor=user, after=snapshot(branch, BRANCH_FIELDS))
    return branch


@transaction.atomic
def branch_update(*, user: Any, branch_id: int, data: Mapping[str, Any]) -> Branch:
    """Change a branch (manage right); a branch never moves to another organization."""
    branch = tenant_row_for_change(Branch, branch_id, user=user, perm=Perm.ORG_MANAGE)
    values = _fields(data, BRANCH_FIELDS)
    if "organization" in values and _pk(values.pop("organization")) != branch.organization_id:
        # Moving a branch would silently move its memberships' scope: create a new one instead.
        raise ValidationFailed(
            _("A branch cannot move to another organization."),
            fields={"organization": [_("Create a branch in the other organization instead.")]},
        )
    before = snapshot(branch, BRANCH_FIELDS)
    for name, value in values.items():
        setattr(branch, name, value)
    branch.save()
    after = snapshot(branch, BRANCH_FIELDS)
    if after != before:
        event_record(entity=branch, action=EventAction.UPDATE, actor=user, before=before, after=after)
    return branch


def _membership_check(user: Any, organization_id: int, branch_id: int | None, role: str) -> None:
    organization_access_check(user, organization_id, Perm.ORG_MANAGE)
    if role not in Role.values:
        raise ValidationFailed(_("Unknown role."), fields={"role": [_("Unknown role.")]})
    if branch_id is not None and not Branch.objects.filter(pk=branch_id, organization_id=organization_id).exists():
        raise ValidationFailed(
            _("The branch belongs to another organization."),
            fields={"branch": [_("The branch belongs to another organization.")]},
        )


def _membership_save(membership: Membership) -> None:
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError:
        raise Conflict(_("This user already has this role in the organization.")) from None


@transaction.atomic
def membership_grant(
    *,
    user: Any,
    member_id: int,
    organization_id: int,
    role: str,
    branch_id: int | None = None,
    is_active: bool = True,
) -> Membership:
    """Give ``member_id`` a role; needs the manage right in that organization (so nobody promotes themselves
    in an organization they do not already run)."""
    _membership_check(user, organization_id, branch_id, role)
    membership = Membership(
        user_id=member_id, organization_id=organization_id, branch_id=branch_id, role=role, is_active=is_active
    )
    _membership_save(membership)
    event_record(
        entity=membership, action=EventAction.CREATE, actor=user, after=snapshot(membership, MEMBERSHIP_FIELDS)
    )
    return membership


def _membership_for_change(user: Any, membership_id: int) -> Membership:
    return tenant_row_for_change(Membership, membership_id, user=user, perm=Perm.ORG_MANAGE)


@transaction.atomic
def membership_update(*, user: Any, membership_id: int, data: Mapping[str, Any]) -> Membership:
    """Change a role, branch or activity; moving it to another organization needs the manage right there too."""
    membership = _membership_for_change(user, membership_id)
    values = {k: _pk(v) for k, v in _fields(data, MEMBERSHIP_FIELDS).items()}
    before = snapshot(membership, MEMBERSHIP_FIELDS)
    organization_id = values.get("organization", membership.organization_id)
    branch_id = values.get("branch", membership.branch_id)
    role = values.get("role", membership.role)
    _membership_check(user, organization_id, branch_id, role)
    membership.user_id = values.get("user", membership.user_id)
    membership.organization_id = organization_id
    membership.branch_id = branch_id
    membership.role = role
    membership.is_active = values.get("is_active", membership.is_active)
    _membership_save(membership)
    after = snapshot(membership, MEMBERSHIP_FIELDS)
    if after != before:
        event_record(entity=membership, action=EventAction.UPDATE, actor=user, before=before, after=after)
    return membership


@transaction.atomic
def membership_revoke(*, user: Any, membership_id: int) -> None:
    """Delete a membership (the event keeps what it was)."""
    membership = _membership_for_change(user, membership_id)
    before = snapshot(membership, MEMBERSHIP_FIELDS)
    event_record(entity=membership, action=EventAction.DELETE, actor=user, before=before)
    membership.delete()
