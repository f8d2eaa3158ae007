"""/ws/v1/events/: bearer auth (query string or subprotocol), no Origin needed, events only after commit.

Every case runs on the in-memory channel layer and on Redis (channels-redis).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from backend.accounts.models import User
from backend.accounts.tokens import token_pair_issue
from backend.config.asgi import application
from backend.config.channel_layers import redis_layer
from backend.realtime.services import realtime_publish
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/v1/events/"


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/7"


def use_layer(settings: Any, kind: str) -> None:
    if kind == "memory":
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    else:
        try:
            redis.Redis.from_url(redis_url(), socket_connect_timeout=1).ping()
        except redis.RedisError:
            pytest.skip("Redis is not reachable")
        # A prefix of our own: parallel runs on one Redis must not hear each other.
        settings.CHANNEL_LAYERS = {"default": redis_layer(redis_url(), prefix=f"brigada-test-{uuid.uuid4().hex[:8]}")}


@pytest.fixture(params=["memory", "redis"])
def channel_layer(request: Any, settings: Any) -> Iterator[str]:
    use_layer(settings, request.param)
    yield request.param


@pytest.fixture
def user_and_token(channel_layer: str) -> tuple[User, str]:
    user = UserFactory()
    return user, token_pair_issue(user=user).access_token


def publish(user_id: int, event: dict[str, Any], *, commit: bool) -> None:
    try:
        with transaction.atomic():
            realtime_publish(user_id=user_id, event=event)
            if not commit:
                raise RuntimeError("the change failed")
    except RuntimeError:
        pass


async def test_token_in_query_string_connects_without_origin(user_and_token: tuple[User, str]) -> None:
    # given a native client: no Origin header, token in the query string
    user, token = user_and_token
    communicator = WebsocketCommunicator(application, f"{PATH}?token={token}", headers=[])
    # when it connects
    connected, _ = await communicator.connect()
    # then it is accepted and greeted as that user
    assert connected
    assert await communicator.receive_json_from(timeout=5) == {"type": "hello", "user_id": user.pk}
    await communicator.disconnect()


async def test_token_in_bearer_subprotocol_is_echoed(user_and_token: tuple[User, str]) -> None:
    # given a browser client that can only pass the token as a subprotocol
    user, token = user_and_token
    communicator = WebsocketCommunicator(application, PATH, subprotocols=["bearer", token])
    # when it connects
    connected, subprotocol = await communicator.connect()
    # then the server accepts with "bearer" (browsers abort the handshake without the echo)
    assert connected and subprotocol == "bearer"
    assert (await communicator.receive_json_from(timeout=5))["user_id"] == user.pk
    await communicator.disconnect()


@pytest.mark.parametrize("path", [PATH, f"{PATH}?token=not-a-token", f"{PATH}?token="])
async def test_missing_or_bad_token_is_closed_with_4401(channel_layer: str, path: str) -> None:
    communicator = WebsocketCommunicator(application, path)
    connected, code = await communicator.connect()
    assert (connected, code) == (False, 4401)
    await communicator.disconnect()


async def test_bad_token_in_subprotocol_is_closed_with_4401(channel_layer: str) -> None:
    communicator = WebsocketCommunicator(application, PATH, subprotocols=["bearer", "forged"])
    connected, code = await communicator.connect()
    assert (connected, code) == (False, 4401)
    await communicator.disconnect()


async def test_event_arrives_after_commit_and_never_for_a_rollback(user_and_token: tuple[User, str]) -> None:
    # given a connected user
    user, token = user_and_token
    communicator = WebsocketCommunicator(application, f"{PATH}?token={token}")
    assert (await communicator.connect())[0]
    await communicator.receive_json_from(timeout=5)  # hello
    # when one change rolls back and the next one commits
    await sync_to_async(publish)(user.pk, {"type": "appointment.created", "id": 1}, commit=False)
    await sync_to_async(publish)(user.pk, {"type": "appointment.created", "id": 2}, commit=True)
    # then only the committed change is pushed
    assert await communicator.receive_json_from(timeout=5) == {"type": "appointment.created", "id": 2}
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_events_go_only_to_their_user(user_and_token: tuple[User, str]) -> None:
    user, token = user_and_token
    other = await sync_to_async(UserFactory)()
    communicator = WebsocketCommunicator(application, f"{PATH}?token={token}")
    assert (await communicator.connect())[0]
    await communicator.receive_json_from(timeout=5)
    await sync_to_async(publish)(other.pk, {"type": "offer.created", "id": 1}, commit=True)
    await sync_to_async(publish)(user.pk, {"type": "offer.created", "id": 2}, commit=True)
    assert (await communicator.receive_json_from(timeout=5))["id"] == 2
    await communicator.disconnect()


async def test_ping_pong(user_and_token: tuple[User, str]) -> None:
    _, token = user_and_token
    communicator = WebsocketCommunicator(application, f"{PATH}?token={token}")
    assert (await communicator.connect())[0]
    await communicator.receive_json_from(timeout=5)
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
    await communicator.disconnect()


@pytest.fixture
def redis_user_and_token(settings: Any) -> tuple[User, str]:
    use_layer(settings, "redis")
    user = UserFactory()
    return user, token_pair_issue(user=user).access_token


async def test_event_published_by_another_process_arrives_over_redis(
    redis_user_and_token: tuple[User, str], tmp_path: Any
) -> None:
    """A task worker is another process: only a shared layer (Redis) carries its events to the sockets."""
    import asyncio
    import sys

    from django.conf import settings

    user, token = redis_user_and_token
    communicator = WebsocketCommunicator(application, f"{PATH}?token={token}")
    assert (await communicator.connect())[0]
    await communicator.receive_json_from(timeout=5)
    # when a separate Django process (as a worker would) publishes to the user
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    code = (
        "from django.conf import settings; "
        f"settings.CHANNEL_LAYERS['default']['CONFIG']['prefix'] = {prefix!r}; "
        "from backend.realtime.services import realtime_publish; "
        f"realtime_publish(user_id={user.pk}, event={{'type': 'offer.created', 'id': 77}})"
    )
    env = {
        **os.environ,
        "REDIS_URL": redis_url(),
        "BRIGADA_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "backend.config.settings.base",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "manage.py", "shell", "-c", code, env=env, cwd=str(settings.BASE_DIR)
    )
    assert await process.wait() == 0
    # then the socket in this process receives it
    assert await communicator.receive_json_from(timeout=10) == {"type": "offer.created", "id": 77}
    await communicator.disconnect()
