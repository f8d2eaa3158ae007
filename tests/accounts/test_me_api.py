"""The caller's own profile: GET and PATCH /api/v1/me."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backend.accounts.models import User
from backend.core.models import Event, EventAction

pytestmark = pytest.mark.django_db


def test_patch_me_changes_only_the_fields_sent_and_records_an_event(api_client: Callable[..., Any]) -> None:
    # given
    user = User.objects.create_user(phone="+77017654321", first_name="Aigerim", language="ru")
    client = api_client(user)

    # when
    response = client.patch("/api/v1/me", {"last_name": " Nurlanova ", "language": "kk", "email": "a@example.kz"})

    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["first_name"], body["last_name"], body["language"], body["email"]) == (
        "Aigerim",
        "Nurlanova",
        "kk",
        "a@example.kz",
    )
    user.refresh_from_db()
    assert (user.last_name, user.language, user.email) == ("Nurlanova", "kk", "a@example.kz")
    event = Event.objects.get(entity_type="accounts.user", entity_id=str(user.pk), action=EventAction.UPDATE)
    assert event.actor_id == user.pk
    assert event.before == {"last_name": "", "language": "ru", "email": ""}
    assert event.after == {"last_name": "Nurlanova", "language": "kk", "email": "a@example.kz"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "not-an-email"}, "invalid_email"),
        ({"language": "de"}, "validation_error"),
        ({"first_name": "x" * 151}, "validation_error"),
    ],
)
def test_patch_me_rejects_bad_values_and_changes_nothing(
    api_client: Callable[..., Any], body: dict[str, Any], code: str
) -> None:
    # given
    user = User.objects.create_user(phone="+77017654321", first_name="Aigerim")
    client = api_client(user)

    # when
    response = client.patch("/api/v1/me", body)

    # then
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    user.refresh_from_db()
    assert (user.first_name, user.email, user.language) == ("Aigerim", "", "ru")
    assert not Event.objects.filter(entity_type="accounts.user", action=EventAction.UPDATE).exists()


def test_patch_me_needs_a_token(api_client: Callable[..., Any]) -> None:
    # when
    response = api_client().patch("/api/v1/me", {"first_name": "X"})

    # then
    assert response.status_code == 401
