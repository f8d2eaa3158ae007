"""Privileged changes leave events: grants, passwords, operator tokens, logouts and revocations."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client

from backend.accounts.models import AuthToken, User
from backend.accounts.services import user_privileges_set
from backend.core.exceptions import PermissionDenied
from backend.core.models import Event, EventAction

from .helpers import sent_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def root() -> User:
    return User.objects.create_superuser(phone="+77010000099", password="admin-pass-123")


def admin_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def events(user_or_group: Any, action: str) -> list[Event]:
    return list(
        Event.objects.filter(
            entity_type=user_or_group._meta.label_lower, entity_id=str(user_or_group.pk), action=action
        ).order_by("id")
    )


def user_form(user: User, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "phone": user.phone,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "language": user.language,
        "telegram_user_id": "",
        "is_active": "on",
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
        "memberships-MIN_NUM_FORMS": 0,
        "memberships-MAX_NUM_FORMS": 1000,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_granting_superuser_groups_and_permissions_in_the_admin_records_one_privilege_event(root: User) -> None:
    # given
    target = User.objects.create_user(phone="+77017654321", first_name="Dana")
    dispatchers = Group.objects.create(name="dispatchers")
    export_perm = Permission.objects.get(content_type__app_label="crm", codename="view_client")

    # when
    response = admin_client(root).post(
        f"/admin/accounts/user/{target.pk}/change/",
        user_form(
            target,
            is_staff="on",
            is_superuser="on",
            groups=[dispatchers.pk],
            user_permissions=[export_perm.pk],
        ),
    )

    # then
    assert response.status_code == 302, response.content.decode()[:3000]
    target.refresh_from_db()
    assert target.is_superuser and target.is_staff
    assert list(target.groups.all()) == [dispatchers]
    [event] = events(target, EventAction.PRIVILEGE_CHANGE)
    assert event.actor == root
    assert event.before == {"is_staff": False, "is_superuser": False, "groups": [], "user_permissions": []}
    assert event.after == {
        "is_staff": True,
        "is_superuser": True,
        "groups": ["dispatchers"],
        "user_permissions": ["crm.view_client"],
    }
    assert not events(target, EventAction.UPDATE)  # the profile did not change


def test_withdrawing_a_group_in_the_admin_records_what_was_taken(root: User) -> None:
    # given
    target = User.objects.create_user(phone="+77017654321", is_staff=True)
    auditors = Group.objects.create(name="auditors")
    target.groups.add(auditors)

    # when
    response = admin_client(root).post(
        f"/admin/accounts/user/{target.pk}/change/", user_form(target, is_staff="on", first_name="Renamed")
    )

    # then
    assert response.status_code == 302
    [event] = events(target, EventAction.PRIVILEGE_CHANGE)
    assert (event.before, event.after) == ({"groups": ["auditors"]}, {"groups": []})
    [profile] = events(target, EventAction.UPDATE)
    assert profile.after == {"first_name": "Renamed"}


def test_a_non_superuser_cannot_grant_privileges_through_the_service_and_nothing_changes() -> None:
    # given
    staff = User.objects.create_user(phone="+77010000011", is_staff=True)
    target = User.objects.create_user(phone="+77017654321")

    # when
    with pytest.raises(PermissionDenied):
        user_privileges_set(user=target, actor=staff, is_superuser=True, groups=[Group.objects.create(name="x")])

    # then
    target.refresh_from_db()
    assert not target.is_superuser and not target.groups.exists()
    assert not Event.objects.filter(action=EventAction.PRIVILEGE_CHANGE).exists()


def test_changing_a_group_s_permissions_in_the_admin_is_recorded(root: User) -> None:
    # given
    group = Group.objects.create(name="dispatchers")
    perm = Permission.objects.get(content_type__app_label="crm", codename="change_client")

    # when
    response = admin_client(root).post(
        f"/admin/auth/group/{group.pk}/change/", {"name": "dispatchers", "permissions": [perm.pk]}
    )

    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    [event] = events(group, EventAction.PRIVILEGE_CHANGE)
    assert (event.before, event.after) == ({"permissions": []}, {"permissions": ["crm.change_client"]})
    assert event.actor == root


def test_a_password_change_in_the_admin_is_recorded_without_the_password(root: User) -> None:
    # given
    target = User.objects.create_user(phone="+77017654321", password="old-password-1")

    # when
    response = admin_client(root).post(
        f"/admin/accounts/user/{target.pk}/password/",
        {"password1": "N3w-sturdy-passphrase", "password2": "N3w-sturdy-passphrase", "usable_password": "true"},
    )

    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    target.refresh_from_db()
    assert target.check_password("N3w-sturdy-passphrase")
    [event] = events(target, EventAction.PASSWORD_CHANGE)
    assert event.actor == root and event.after == {"password": "set"}
    assert target.password not in str(event.after) and "N3w" not in str(event.after)


def test_a_refused_password_change_records_nothing(root: User) -> None:
    # given
    target = User.objects.create_user(phone="+77017654321", password="old-password-1")

    # when
    response = admin_client(root).post(
        f"/admin/accounts/user/{target.pk}/password/",
        {"password1": "a-new-password", "password2": "another-one", "usable_password": "true"},
    )

    # then
    assert response.status_code == 200
    assert not events(target, EventAction.PASSWORD_CHANGE)


def test_issue_token_records_who_ran_it() -> None:
    # given
    user = User.objects.create_user(phone="+77017654321")

    # when
    call_command("issue_token", "--phone", user.phone, stdout=StringIO(), stderr=StringIO())

    # then
    [event] = events(user, EventAction.TOKEN_ISSUE)
    family = AuthToken.objects.get(user=user, kind="access").family
    assert event.after is not None and event.after["family"] == str(family)
    assert "@" in event.after["issued_by"]


def _post(path: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client().post(path, data=body or {}, content_type="application/json", headers=headers)


def _login(phone: str) -> dict[str, Any]:
    _post("/api/v1/auth/otp/request", {"phone": phone})
    response = _post("/api/v1/auth/otp/verify", {"phone": phone, "code": sent_code(phone)})
    assert response.status_code == 200
    return dict(response.json())


def test_logout_is_recorded_once() -> None:
    # given
    session = _login("+77017654321")
    user = User.objects.get(phone="+77017654321")

    # when
    assert _post("/api/v1/auth/logout", token=session["access_token"]).status_code == 204
    assert _post("/api/v1/auth/logout", token=session["access_token"]).status_code == 401  # already ended

    # then
    [event] = events(user, EventAction.LOGOUT)
    assert event.actor == user and event.after == {
        "family": str(AuthToken.objects.filter(user=user).values_list("family", flat=True).first()),
        "tokens_revoked": 2,
    }


def test_refresh_token_reuse_revocation_is_recorded() -> None:
    # given
    session = _login("+77017654321")
    user = User.objects.get(phone="+77017654321")
    assert _post("/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]}).status_code == 200

    # when: the rotated token comes back
    reused = _post("/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]})

    # then
    assert reused.status_code == 401
    [event] = events(user, EventAction.SESSION_REVOKE)
    assert event.actor is None
    assert event.after is not None and event.after["reason"] == "refresh_token_reused"
    assert event.after["tokens_revoked"] == 4  # both pairs of the session: none had been revoked yet


def test_createsuperuser_from_the_shell_records_the_creation_and_the_grant(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Sturdy-passphrase-9")

    # when
    call_command("createsuperuser", "--noinput", "--phone", "+77017654321", stdout=StringIO(), stderr=StringIO())

    # then
    user = User.objects.get(phone="+77017654321")
    assert user.is_superuser and user.check_password("Sturdy-passphrase-9")
    [grant] = events(user, EventAction.PRIVILEGE_CHANGE)
    assert grant.after == {"is_staff": True, "is_superuser": True}
    assert grant.note.startswith("created by createsuperuser (") and "@" in grant.note
    assert len(events(user, EventAction.CREATE)) == 1


def test_changepassword_from_the_shell_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: the operator types the new password twice at the prompt
    user = User.objects.create_user(phone="+77017654321", password="old-password-1")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "Sturdy-passphrase-9")

    # when
    call_command("changepassword", "+77017654321", stdout=StringIO())

    # then
    user.refresh_from_db()
    assert user.check_password("Sturdy-passphrase-9")
    [event] = events(user, EventAction.PASSWORD_CHANGE)
    assert event.after == {"password": "set"} and event.note.startswith("changepassword (")
