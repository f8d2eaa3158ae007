"""/ws/v1/events/: a query string that is not valid UTF-8 is refused cleanly, never a crash in the middleware."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from backend.accounts.models import User
from backend.accounts.tokens import token_pair_issue
from backend.config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/v1/events/"


def _communicator(query: bytes) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, PATH)
    # The application instance starts on the first message, so the raw bytes can still be set here;
    # WebsocketCommunicator itself only builds query strings from str.
    communicator.scope["query_string"] = query
    return communicator


@pytest.mark.parametrize("query", [b"token=\xff\xfe\xfd", b"\xc3(", b"token=abc\x80def", b"%ff=\xff"])
async def test_invalid_utf8_query_string_is_closed_with_4401(query: bytes) -> None:
    # given a client sending bytes that are not UTF-8
    communicator = _communicator(query)
    # when it connects
    connected, code = await communicator.connect()
    # then it is refused as unauthenticated (not a crash, which would surface as an exception here)
    assert (connected, code) == (False, 4401)
    await communicator.disconnect()


async def test_valid_token_next_to_junk_parameter_still_connects() -> None:
    # given a valid token and another parameter with broken bytes
    user = await sync_to_async(User.objects.create_user)(phone="+77015550177")
    token = (await sync_to_async(token_pair_issue)(user=user)).access_token
    communicator = _communicator(b"x=\xff\xfe&token=" + token.encode())
    # when it connects
    connected, _ = await communicator.connect()
    # then the token is read and the user greeted
    assert connected
    assert await communicator.receive_json_from(timeout=5) == {"type": "hello", "user_id": user.pk}
    await communicator.disconnect()
