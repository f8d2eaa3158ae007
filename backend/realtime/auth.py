"""WebSocket authentication by bearer token: ``?token=...`` or the ``bearer`` subprotocol.

Browsers cannot set headers on a WebSocket, so the token travels either in the query string or as the
second subprotocol (``Sec-WebSocket-Protocol: bearer, <token>``); the consumer echoes ``bearer`` back, without
which Chromium aborts the handshake.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from backend.accounts.tokens import access_token_lookup


def token_from_scope(scope: dict[str, Any]) -> str | None:
    subprotocols = list(scope.get("subprotocols") or [])
    if len(subprotocols) >= 2 and subprotocols[0] == "bearer":
        return str(subprotocols[1])
    # The raw query string is bytes from the client: junk must not crash the handshake. A replaced
    # character can never be part of a valid token, so a mangled token is simply rejected.
    query = parse_qs((scope.get("query_string") or b"").decode("utf-8", errors="replace"))
    values = query.get("token")
    return values[0] if values else None


class BearerTokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        raw = token_from_scope(scope)
        token = await database_sync_to_async(access_token_lookup)(raw) if raw else None
        scope = dict(
            scope,
            user=token.user if token is not None else AnonymousUser(),
            # The socket lives no longer than its token and its session (see EventsConsumer).
            auth_family=str(token.family) if token is not None else None,
            auth_expires_at=token.expires_at if token is not None else None,
            auth_via_subprotocol=bool(scope.get("subprotocols") and scope["subprotocols"][0] == "bearer"),
        )
        return await super().__call__(scope, receive, send)
