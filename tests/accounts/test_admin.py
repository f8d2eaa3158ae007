"""Back office for users, tokens and one-time codes."""

from __future__ import annotations

import pytest
from django.test import Client

from backend.accounts.models import AuthToken, OtpChallenge, User
from backend.accounts.services import otp_request
from backend.accounts.tokens import access_token_user, token_hash, token_pair_issue
from backend.core.models import Event, EventAction
from backend.organizations.models import Membership, Organization, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db: None) -> Client:
    superuser = User.objects.create_superuser(phone="+77010000099", password="admin-pass-123")
    client = Client()
    client.force_login(superuser)
    return client


def test_user_changelist_searches_by_phone_and_filters_by_language(admin: Client) -> None:
    # given
    User.objects.create_user(phone="+77017654321", first_name="Aigerim", language="kk")
    User.objects.create_user(phone="+79161234567", first_name="Ivan", language="ru")

    # when
    by_phone = admin.get("/admin/accounts/user/", {"q": "7654"})
    by_language = admin.get("/admin/accounts/user/", {"language__exact": "ru"})

    # then
    assert by_phone.status_code == by_language.status_code == 200
    assert "+77017654321" in by_phone.text and "+79161234567" not in by_phone.text
    assert "+79161234567" in by_language.text and "+77017654321" not in by_language.text


def test_adding_a_user_by_phone_normalizes_it_and_records_an_event(admin: Client) -> None:
    # when
    response = admin.post(
        "/admin/accounts/user/add/",
        {
            "phone": "+7 (916) 123-45-67",
            "first_name": "Ivan",
            "last_name": "",
            "language": "ru",
            "usable_password": "false",
            "password1": "",
            "password2": "",
        },
    )

    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(phone="+79161234567")
    assert not user.has_usable_password()
    event = Event.objects.get(entity_type="accounts.user", entity_id=str(user.pk), action=EventAction.CREATE)
    assert event.actor is not None and event.actor.phone == "+77010000099"
    assert "password" not in (event.after or {})


def test_adding_a_user_with_a_garbage_phone_shows_the_error(admin: Client) -> None:
    # when
    response = admin.post("/admin/accounts/user/add/", {"phone": "12345", "language": "ru", "usable_password": "false"})

    # then
    assert response.status_code == 200
    assert "valid phone number" in response.text
    assert User.objects.count() == 1


def test_the_user_page_shows_memberships_inline(admin: Client) -> None:
    # given
    user = User.objects.create_user(phone="+77017654321")
    salon = Organization.objects.create(name="Salon Lotus", kind="beauty_salon")
    Membership.objects.create(user=user, organization=salon, role=Role.MASTER)

    # when
    response = admin.get(f"/admin/accounts/user/{user.pk}/change/")

    # then
    assert response.status_code == 200
    assert "membership" in response.text.lower()


def test_log_out_everywhere_revokes_all_tokens_of_the_selected_users(admin: Client) -> None:
    # given
    user = User.objects.create_user(phone="+77017654321")
    other = User.objects.create_user(phone="+79161234567")
    sessions = [token_pair_issue(user=user), token_pair_issue(user=user)]
    kept = token_pair_issue(user=other)

    # when
    response = admin.post("/admin/accounts/user/", {"action": "revoke_sessions", "_selected_action": [str(user.pk)]})

    # then
    assert response.status_code == 302
    assert all(access_token_user(s.access_token) is None for s in sessions)
    assert access_token_user(kept.access_token) == other


def test_tokens_are_read_only_without_hashes_and_revocable_by_session(admin: Client) -> None:
    # given
    user = User.objects.create_user(phone="+77017654321")
    session = token_pair_issue(user=user)
    other_session = token_pair_issue(user=user)
    token = AuthToken.objects.get(token_hash=token_hash(session.refresh_token))

    # when
    changelist = admin.get("/admin/accounts/authtoken/")
    detail = admin.get(f"/admin/accounts/authtoken/{token.pk}/change/")
    add = admin.get("/admin/accounts/authtoken/add/")
    revoke = admin.post("/admin/accounts/authtoken/", {"action": "revoke", "_selected_action": [str(token.pk)]})

    # then
    assert changelist.status_code == detail.status_code == 200
    assert add.status_code == 403
    assert token.token_hash not in changelist.text + detail.text
    assert revoke.status_code == 302
    assert access_token_user(session.access_token) is None
    assert access_token_user(other_session.access_token) == user


def test_one_time_codes_are_read_only_and_never_show_the_hash(admin: Client) -> None:
    # given
    otp_request(phone="+77017654321", ip="10.0.0.1")
    challenge = OtpChallenge.objects.get()

    # when
    changelist = admin.get("/admin/accounts/otpchallenge/", {"q": "+77017654321"})
    detail = admin.get(f"/admin/accounts/otpchallenge/{challenge.pk}/change/")
    add = admin.get("/admin/accounts/otpchallenge/add/")

    # then
    assert changelist.status_code == detail.status_code == 200
    assert "+77017654321" in changelist.text
    assert add.status_code == 403
    assert challenge.code_hash not in changelist.text + detail.text
