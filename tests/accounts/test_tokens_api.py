"""Refresh rotation, reuse detection that revokes the whole session, and logout."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backend.accounts.models import AuthToken, User
from backend.accounts.tokens import access_token_user

from .helpers import sent_code

pytestmark = pytest.mark.django_db

PHONE = "+77017654321"


def post(path: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client().post(path, data=body or {}, content_type="application/json", headers=headers)


def login() -> dict[str, Any]:
    post("/api/v1/auth/otp/request", {"phone": PHONE})
    response = post("/api/v1/auth/otp/verify", {"phone": PHONE, "code": sent_code(PHONE)})
    assert response.status_code == 200
    return dict(response.json())


def me_status(access: str) -> int:
    return int(Client().get("/api/v1/me", headers={"Authorization": f"Bearer {access}"}).status_code)


def test_refresh_returns_a_new_pair_and_the_old_access_token_keeps_working_until_it_expires() -> None:
    # given
    first = login()

    # when
    response = post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})

    # then
    assert response.status_code == 200
    second = response.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert 0 < second["expires_in"] <= 15 * 60
    assert second["user"]["phone"] == PHONE
    assert me_status(second["access_token"]) == 200
    assert me_status(first["access_token"]) == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family() -> None:
    # given: the pair was refreshed once (by the rightful app, or by a thief)
    first = login()
    second = post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]}).json()

    # when: the old refresh token shows up again
    reuse = post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})

    # then: refused, and every token of the session is dead, including the newest pair
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "invalid_refresh_token"
    assert me_status(first["access_token"]) == 401
    assert me_status(second["access_token"]) == 401
    assert post("/api/v1/auth/refresh", {"refresh_token": second["refresh_token"]}).status_code == 401
    assert not AuthToken.objects.filter(revoked_at__isnull=True).exists()


def test_reuse_revokes_only_that_session() -> None:
    # given: two sessions of one user (phone and tablet)
    phone_session = login()
    tablet_session = login()
    post("/api/v1/auth/refresh", {"refresh_token": phone_session["refresh_token"]})

    # when
    post("/api/v1/auth/refresh", {"refresh_token": phone_session["refresh_token"]})

    # then
    assert me_status(tablet_session["access_token"]) == 200


@pytest.mark.parametrize("token", ["nonsense", "bgr_" + "x" * 43, "bga_" + "x" * 43])
def test_an_unknown_refresh_token_is_401_and_changes_nothing(token: str) -> None:
    # given
    session = login()
    before = list(AuthToken.objects.values_list("id", "used_at", "revoked_at"))

    # when
    response = post("/api/v1/auth/refresh", {"refresh_token": token})

    # then
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_refresh_token"
    assert list(AuthToken.objects.values_list("id", "used_at", "revoked_at")) == before
    assert me_status(session["access_token"]) == 200


def test_an_access_token_is_not_a_refresh_token() -> None:
    # given
    session = login()

    # when
    response = post("/api/v1/auth/refresh", {"refresh_token": session["access_token"]})

    # then
    assert response.status_code == 401
    assert me_status(session["access_token"]) == 200


def test_a_disabled_user_cannot_refresh() -> None:
    # given
    session = login()
    User.objects.filter(phone=PHONE).update(is_active=False)

    # when
    response = post("/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]})

    # then
    assert response.status_code == 401
    assert access_token_user(session["access_token"]) is None


def test_logout_revokes_the_access_and_refresh_tokens_of_that_session_only() -> None:
    # given
    session = login()
    other = login()

    # when
    response = post("/api/v1/auth/logout", token=session["access_token"])

    # then
    assert response.status_code == 204
    assert me_status(session["access_token"]) == 401
    assert post("/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]}).status_code == 401
    assert me_status(other["access_token"]) == 200


def test_logout_needs_a_valid_bearer_token() -> None:
    # when
    response = post("/api/v1/auth/logout", token="bga_not-a-token")

    # then
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("body", [{}, {"refresh_token": ""}, {"refresh_token": "x" * 201}])
def test_refresh_bodies_outside_the_schema_are_422(body: dict[str, Any]) -> None:
    # when
    response = post("/api/v1/auth/refresh", body)

    # then
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
