"""Admin edits of organizations, branches and memberships (inlines too) and session revocation write Events."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backend.accounts.models import User
from backend.accounts.tokens import access_token_user, token_pair_issue
from backend.core.models import Event, EventAction
from backend.organizations.models import Branch, Membership, Organization, Role
from tests.conftest import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def root() -> User:
    return User.objects.create_superuser(phone="+77010000099", password="pw-123456789")


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff_owner(org: Organization) -> User:
    from django.contrib.auth.models import Permission

    user = member(org, Role.OWNER, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="organizations"))
    return User.objects.get(pk=user.pk)


def management(prefix: str, total: int, initial: int) -> dict[str, Any]:
    return {
        f"{prefix}-TOTAL_FORMS": total,
        f"{prefix}-INITIAL_FORMS": initial,
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
    }


def organization_form(org: Organization, **changes: Any) -> dict[str, Any]:
    data = {
        "name": org.name,
        "kind": org.kind,
        "parent": "",
        "country": org.country,
        "time_zone": org.time_zone,
        "currency": org.currency,
        "language": org.language,
        "is_active": "on",
    }
    data.update(changes)
    return data


def of(entity_type: str, action: str) -> list[Event]:
    return list(Event.objects.filter(entity_type=entity_type, action=action).order_by("id"))


def test_owner_edits_organization_with_branch_and_membership_inlines_and_each_change_is_an_event(
    org: Organization,
) -> None:
    # given org A's owner (staff) and a colleague to add
    owner = staff_owner(org)
    colleague = User.objects.create_user(phone="+77015550111")
    own = Membership.objects.get(user=owner)
    data = organization_form(org, name="Salon A+")
    data |= management("branches", 1, 0) | {
        "branches-0-name": "Center",
        "branches-0-address": "Abay 1",
        "branches-0-is_active": "on",
    }
    data |= management("memberships", 2, 1) | {
        "memberships-0-id": own.pk,
        "memberships-0-organization": org.pk,
        "memberships-0-user": owner.pk,
        "memberships-0-role": Role.OWNER,
        "memberships-0-is_active": "on",
        "memberships-1-user": colleague.pk,
        "memberships-1-role": Role.MASTER,
        "memberships-1-is_active": "on",
    }
    # when they save the organization page
    response = login(owner).post(reverse("admin:organizations_organization_change", args=[org.pk]), data)
    # then everything is saved, and each change is in the event log with them as the actor
    assert response.status_code == 302, response.content.decode()[:3000]
    org.refresh_from_db()
    assert org.name == "Salon A+"
    branch = Branch.objects.get(organization=org)
    membership = Membership.objects.get(user=colleague)
    [org_event] = of("organizations.organization", EventAction.UPDATE)
    [branch_event] = of("organizations.branch", EventAction.CREATE)
    [membership_event] = of("organizations.membership", EventAction.CREATE)
    assert org_event.after == {"name": "Salon A+"} and org_event.organization_id == org.pk
    assert branch_event.entity_id == str(branch.pk) and membership_event.entity_id == str(membership.pk)
    assert {org_event.actor, branch_event.actor, membership_event.actor} == {owner}


def test_membership_inline_removal_and_role_change_are_events(org: Organization) -> None:
    owner = staff_owner(org)
    own = Membership.objects.get(user=owner)
    leaving = Membership.objects.get(user=member(org, Role.MASTER))
    promoted = Membership.objects.get(user=member(org, Role.WORKER))
    rows = [own, leaving, promoted]
    data = organization_form(org) | management("branches", 0, 0) | management("memberships", 3, 3)
    for i, m in enumerate(rows):
        data |= {
            f"memberships-{i}-id": m.pk,
            f"memberships-{i}-organization": org.pk,
            f"memberships-{i}-user": m.user_id,
            f"memberships-{i}-role": m.role,
            f"memberships-{i}-is_active": "on",
        }
    data["memberships-1-DELETE"] = "on"
    data["memberships-2-role"] = Role.DISPATCHER
    response = login(owner).post(reverse("admin:organizations_organization_change", args=[org.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not Membership.objects.filter(pk=leaving.pk).exists()
    assert Membership.objects.get(pk=promoted.pk).role == Role.DISPATCHER
    [deleted] = of("organizations.membership", EventAction.DELETE)
    [updated] = of("organizations.membership", EventAction.UPDATE)
    assert deleted.entity_id == str(leaving.pk) and deleted.before is not None
    assert updated.entity_id == str(promoted.pk) and updated.after == {"role": Role.DISPATCHER}
    assert not of("organizations.organization", EventAction.UPDATE)  # nothing changed on the organization


def test_branch_admin_add_and_change_are_events(org: Organization, root: User) -> None:
    client = login(root)
    added = client.post(
        reverse("admin:organizations_branch_add"),
        {
            "organization": org.pk,
            "name": "Center",
            "address": "",
            "time_zone": "",
            "phone": "",
            "opening_hours": "{}",
            "is_active": "on",
        },
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    branch = Branch.objects.get()
    changed = client.post(
        reverse("admin:organizations_branch_change", args=[branch.pk]),
        {"name": "Center", "address": "Abay 2", "time_zone": "", "phone": "", "opening_hours": "{}", "is_active": "on"},
    )
    assert changed.status_code == 302, changed.content.decode()[:3000]
    [created] = of("organizations.branch", EventAction.CREATE)
    [updated] = of("organizations.branch", EventAction.UPDATE)
    assert created.actor == updated.actor == root
    assert updated.after == {"address": "Abay 2"}


def test_membership_admin_grant_and_delete_are_events(org: Organization) -> None:
    owner = staff_owner(org)
    colleague = User.objects.create_user(phone="+77015550111")
    client = login(owner)
    added = client.post(
        reverse("admin:organizations_membership_add"),
        {"user": colleague.pk, "organization": org.pk, "branch": "", "role": Role.ANALYST, "is_active": "on"},
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    membership = Membership.objects.get(user=colleague)
    deleted = client.post(reverse("admin:organizations_membership_delete", args=[membership.pk]), {"post": "yes"})
    assert deleted.status_code == 302
    assert not Membership.objects.filter(user=colleague).exists()
    assert [e.action for e in Event.objects.filter(entity_type="organizations.membership").order_by("id")] == [
        EventAction.CREATE,
        EventAction.DELETE,
    ]


def test_membership_admin_bulk_delete_goes_through_the_service(org: Organization, other_org: Organization) -> None:
    owner = staff_owner(org)
    mine = Membership.objects.get(user=member(org, Role.MASTER))
    theirs = Membership.objects.get(user=member(other_org, Role.MASTER))
    response = login(owner).post(
        reverse("admin:organizations_membership_changelist"),
        {"action": "delete_selected", "_selected_action": [mine.pk, theirs.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=mine.pk).exists()
    assert Membership.objects.filter(pk=theirs.pk).exists()
    [event] = of("organizations.membership", EventAction.DELETE)
    assert event.entity_id == str(mine.pk)


def test_revoke_sessions_action_records_an_event_per_user(root: User) -> None:
    # given a user with two sessions and one with none
    user = User.objects.create_user(phone="+77017654321")
    idle = User.objects.create_user(phone="+79161234567")
    sessions = [token_pair_issue(user=user), token_pair_issue(user=user)]
    # when the operator logs both out everywhere
    response = login(root).post(
        reverse("admin:accounts_user_changelist"),
        {"action": "revoke_sessions", "_selected_action": [user.pk, idle.pk]},
    )
    # then the sessions are gone and the event log says who did it, for the user who had sessions
    assert response.status_code == 302
    assert all(access_token_user(s.access_token) is None for s in sessions)
    [event] = Event.objects.filter(entity_type="accounts.user", action=EventAction.SESSION_REVOKE)
    assert event.entity_id == str(user.pk) and event.actor == root
    assert event.after == {"tokens_revoked": 4}
    assert event.note == "sessions revoked by operator"


def test_franchise_owner_saves_their_organization_without_touching_the_hq_link(org: Organization) -> None:
    # given a franchise of org A, run by its own owner who does not manage the HQ
    franchise = Organization.objects.create(name="Franchise", kind=org.kind, parent=org)
    owner = staff_owner(franchise)
    data = organization_form(franchise, name="Franchise 2", parent=str(org.pk))
    data.pop("parent")
    data |= (
        management("branches", 0, 0)
        | management("memberships", 1, 1)
        | {
            "memberships-0-id": Membership.objects.get(user=owner).pk,
            "memberships-0-organization": franchise.pk,
            "memberships-0-user": owner.pk,
            "memberships-0-role": Role.OWNER,
            "memberships-0-is_active": "on",
        }
    )
    # when they rename it (the HQ link is read-only for them)
    response = login(owner).post(reverse("admin:organizations_organization_change", args=[franchise.pk]), data)
    # then the rename is saved and the HQ link kept
    assert response.status_code == 302, response.content.decode()[:3000]
    franchise.refresh_from_db()
    assert (franchise.name, franchise.parent_id) == ("Franchise 2", org.pk)
    [event] = of("organizations.organization", EventAction.UPDATE)
    assert event.after == {"name": "Franchise 2"}


def test_superuser_adds_an_organization_and_it_is_an_event(root: User) -> None:
    data = (
        {
            "name": "New Salon",
            "kind": "beauty_salon",
            "parent": "",
            "country": "KZ",
            "time_zone": "Asia/Almaty",
            "currency": "KZT",
            "language": "kk",
            "is_active": "on",
        }
        | management("branches", 1, 0)
        | management("memberships", 0, 0)
        | {"branches-0-name": "Main"}
    )
    response = login(root).post(reverse("admin:organizations_organization_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    created = Organization.objects.get(name="New Salon")
    assert Branch.objects.get(organization=created).name == "Main"
    [event] = of("organizations.organization", EventAction.CREATE)
    assert event.entity_id == str(created.pk) and event.actor == root
    assert len(of("organizations.branch", EventAction.CREATE)) == 1


def test_a_refused_save_is_a_message_and_leaves_nothing(org: Organization, root: User) -> None:
    # given an HQ with a franchise
    franchise = Organization.objects.create(name="Franchise", kind=org.kind, parent=org)
    data = organization_form(org, parent=str(franchise.pk), name="Renamed")
    data |= management("branches", 1, 0) | management("memberships", 0, 0) | {"branches-0-name": "New"}
    # when a superuser makes the HQ a franchise of its own franchise
    response = login(root).post(reverse("admin:organizations_organization_change", args=[org.pk]), data, follow=True)
    # then the service's refusal is shown, and neither the rename nor the inline branch is kept
    assert response.status_code == 200
    assert "cannot be its own HQ" in response.content.decode()
    org.refresh_from_db()
    assert (org.name, org.parent_id) == ("Salon A", None)
    assert not Branch.objects.exists() and not Event.objects.exists()


def test_typing_a_strangers_id_in_the_membership_form_does_not_reveal_them(
    org: Organization, other_org: Organization
) -> None:
    # given a user of org B only, and org A's owner
    stranger = member(other_org, Role.MASTER, first_name="Stranger", last_name="Danger")
    owner = staff_owner(org)
    # when the owner posts an invalid grant naming the stranger's id (the form comes back with the id in it)
    response = login(owner).post(
        reverse("admin:organizations_membership_add"),
        {"user": stranger.pk, "organization": org.pk, "role": "emperor", "is_active": "on"},
    )
    # then the form is shown again without the stranger's name or phone, and nothing is granted
    assert response.status_code == 200
    page = response.content.decode()
    assert "Danger" not in page and stranger.phone not in page
    assert not Membership.objects.filter(user=stranger, organization=org).exists()
