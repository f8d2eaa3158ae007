"""Organization, branch and membership writes: permission-checked, and each one leaves an Event."""

from __future__ import annotations

import pytest
from django.db.models import Model

from backend.accounts.models import User
from backend.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from backend.core.models import Event, EventAction
from backend.organizations.models import Branch, Membership, Organization, Role
from backend.organizations.services import (
    branch_create,
    branch_update,
    membership_grant,
    membership_revoke,
    membership_update,
    organization_create,
    organization_update,
)
from tests.conftest import member

pytestmark = pytest.mark.django_db


def events(entity: Model) -> list[Event]:
    return list(Event.objects.filter(entity_type=entity._meta.label_lower, entity_id=str(entity.pk)).order_by("id"))


def test_owner_updates_their_organization_and_the_event_holds_the_diff(owner: User, org: Organization) -> None:
    # when
    old_currency = org.currency
    organization_update(user=owner, organization_id=org.pk, data={"name": "Salon A+", "currency": "XTS"})
    # then
    org.refresh_from_db()
    assert (org.name, org.currency) == ("Salon A+", "XTS")
    [event] = events(org)
    assert event.action == EventAction.UPDATE and event.organization_id == org.pk and event.actor == owner
    assert event.before == {"name": "Salon A", "currency": old_currency}
    assert event.after == {"name": "Salon A+", "currency": "XTS"}


def test_manager_cannot_update_the_organization_and_nothing_changes(manager: User, org: Organization) -> None:
    with pytest.raises(PermissionDenied):
        organization_update(user=manager, organization_id=org.pk, data={"name": "Taken"})
    org.refresh_from_db()
    assert org.name == "Salon A" and not Event.objects.exists()


def test_owner_cannot_touch_another_organization(owner: User, other_org: Organization) -> None:
    with pytest.raises(NotFound):
        organization_update(user=owner, organization_id=other_org.pk, data={"name": "Taken"})
    with pytest.raises(NotFound):
        branch_create(user=owner, organization_id=other_org.pk, data={"name": "Mine"})
    with pytest.raises(NotFound):
        membership_grant(user=owner, member_id=owner.pk, organization_id=other_org.pk, role=Role.OWNER)
    other_org.refresh_from_db()
    assert other_org.name == "Salon B"
    assert not Branch.objects.exists()
    assert not Membership.objects.filter(user=owner, organization=other_org).exists()
    assert not Event.objects.exists()


def test_an_organization_cannot_become_its_own_hq(owner: User, org: Organization) -> None:
    franchise = Organization.objects.create(name="Franchise", kind=org.kind, parent=org)
    with pytest.raises(ValidationFailed):
        organization_update(user=owner, organization_id=org.pk, data={"parent": franchise})
    with pytest.raises(ValidationFailed):
        organization_update(user=owner, organization_id=org.pk, data={"parent": org.pk})
    org.refresh_from_db()
    assert org.parent_id is None and not Event.objects.exists()


def test_only_superusers_create_organizations(owner: User) -> None:
    with pytest.raises(PermissionDenied):
        organization_create(user=owner, data={"name": "New", "kind": "generic"})
    root = User.objects.create_superuser(phone="+77010000099", password="pw-123456789")
    created = organization_create(user=root, data={"name": "New", "kind": "generic"})
    [event] = events(created)
    assert event.action == EventAction.CREATE and event.after is not None and event.after["name"] == "New"
    assert Organization.objects.filter(name="New").count() == 1


def test_branch_create_and_update_record_events(owner: User, org: Organization) -> None:
    branch = branch_create(user=owner, organization_id=org.pk, data={"name": "Center", "address": "Abay 1"})
    branch_update(user=owner, branch_id=branch.pk, data={"address": "Abay 2"})
    branch_update(user=owner, branch_id=branch.pk, data={"address": "Abay 2"})  # no change, no event
    created, updated = events(branch)
    assert created.action == EventAction.CREATE and created.organization_id == org.pk
    assert updated.before == {"address": "Abay 1"} and updated.after == {"address": "Abay 2"}


def test_a_branch_does_not_move_between_organizations(owner: User, org: Organization) -> None:
    other = Organization.objects.create(name="Mine too", kind=org.kind, parent=org)
    branch = branch_create(user=owner, organization_id=org.pk, data={"name": "Center"})
    with pytest.raises(ValidationFailed):
        branch_update(user=owner, branch_id=branch.pk, data={"organization": other.pk})
    branch.refresh_from_db()
    assert branch.organization_id == org.pk and len(events(branch)) == 1


def test_membership_grant_update_revoke_record_events(owner: User, org: Organization) -> None:
    colleague = User.objects.create_user(phone="+77015550111")
    branch = Branch.objects.create(organization=org, name="Center")
    membership = membership_grant(user=owner, member_id=colleague.pk, organization_id=org.pk, role=Role.MASTER)
    membership_update(user=owner, membership_id=membership.pk, data={"role": Role.DISPATCHER, "branch": branch})
    membership_revoke(user=owner, membership_id=membership.pk)
    granted, updated, revoked = events(membership)
    actions = [e.action for e in (granted, updated, revoked)]
    assert actions == [EventAction.CREATE, EventAction.UPDATE, EventAction.DELETE]
    assert all(e.organization_id == org.pk and e.actor == owner for e in (granted, updated, revoked))
    assert updated.after == {"role": Role.DISPATCHER, "branch": branch.pk}
    assert revoked.before is not None and revoked.before["user"] == colleague.pk
    assert not Membership.objects.filter(user=colleague).exists()


def test_membership_rules_leave_nothing_behind(owner: User, org: Organization, other_org: Organization) -> None:
    colleague = member(org, Role.MASTER)
    foreign_branch = Branch.objects.create(organization=other_org, name="Elsewhere")
    with pytest.raises(Conflict):
        membership_grant(user=owner, member_id=colleague.pk, organization_id=org.pk, role=Role.MASTER)
    with pytest.raises(ValidationFailed):
        membership_grant(
            user=owner, member_id=colleague.pk, organization_id=org.pk, role=Role.WORKER, branch_id=foreign_branch.pk
        )
    with pytest.raises(ValidationFailed):
        membership_grant(user=owner, member_id=colleague.pk, organization_id=org.pk, role="emperor")
    assert Membership.objects.filter(user=colleague).count() == 1 and not Event.objects.exists()


def test_moving_a_membership_needs_the_manage_right_in_the_target(
    owner: User, org: Organization, other_org: Organization
) -> None:
    colleague = member(org, Role.MASTER)
    membership = Membership.objects.get(user=colleague)
    with pytest.raises(NotFound):
        membership_update(user=owner, membership_id=membership.pk, data={"organization": other_org.pk})
    membership.refresh_from_db()
    assert membership.organization_id == org.pk and not Event.objects.exists()


def test_manager_cannot_grant_roles_even_in_their_own_organization(manager: User, org: Organization) -> None:
    with pytest.raises(PermissionDenied):
        membership_grant(user=manager, member_id=manager.pk, organization_id=org.pk, role=Role.OWNER)
    assert not Membership.objects.filter(user=manager, role=Role.OWNER).exists() and not Event.objects.exists()


def test_a_franchise_owner_cannot_leave_the_hq(org: Organization) -> None:
    franchise = Organization.objects.create(name="Franchise", kind=org.kind, parent=org)
    franchise_owner = member(franchise, Role.OWNER)
    with pytest.raises(NotFound):
        organization_update(user=franchise_owner, organization_id=franchise.pk, data={"parent": None})
    franchise.refresh_from_db()
    assert franchise.parent_id == org.pk and not Event.objects.exists()
