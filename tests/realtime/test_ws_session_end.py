"""A socket lives no longer than its session: logout, operator revocation and token expiry close it (4401)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from backend.accounts.models import AuthToken
from backend.accounts.tokens import token_pair_issue, token_revoke, user_sessions_revoke
from backend.config.asgi import application
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/v1/events/"


@pytest.fixture(autouse=True)
def _memory_layer(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


async def _connect(token: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"{PATH}?token={token}")
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "hello"
    return communicator


async def test_logout_closes_the_sessions_socket_but_not_another_sessions() -> None:
    user = await sync_to_async(UserFactory)()
    phone = await sync_to_async(token_pair_issue)(user=user)
    tablet = await sync_to_async(token_pair_issue)(user=user)
    phone_socket = await _connect(phone.access_token)
    tablet_socket = await _connect(tablet.access_token)

    await sync_to_async(token_revoke)(raw=phone.refresh_token)

    assert await phone_socket.receive_json_from() == {"type": "session.ended", "reason": "session_revoked"}
    assert (await phone_socket.receive_output())["code"] == 4401
    assert await tablet_socket.receive_nothing(timeout=0.3)
    await tablet_socket.disconnect()


async def test_operator_revocation_closes_every_socket_of_the_user() -> None:
    user = await sync_to_async(UserFactory)()
    socket = await _connect((await sync_to_async(token_pair_issue)(user=user)).access_token)

    await sync_to_async(user_sessions_revoke)(user_ids=[user.pk], actor=None)

    assert (await socket.receive_json_from())["reason"] == "session_revoked"
    assert (await socket.receive_output())["code"] == 4401


async def test_the_socket_closes_when_its_access_token_expires() -> None:
    user = await sync_to_async(UserFactory)()
    pair = await sync_to_async(token_pair_issue)(user=user)
    soon = timezone.now() + dt.timedelta(seconds=0.5)
    await sync_to_async(AuthToken.objects.filter(kind="access", user=user).update)(expires_at=soon)
    socket = await _connect(pair.access_token)

    assert await socket.receive_json_from(timeout=3) == {"type": "session.ended", "reason": "token_expired"}
    assert (await socket.receive_output())["code"] == 4401
