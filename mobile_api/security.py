"""Bearer authentication for the API."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from backend.accounts.models import User
from backend.accounts.tokens import access_token_user

_MEMO = "_brigada_bearer"


def request_token_user(request: HttpRequest, token: str) -> User | None:
    """The active user of the access token ``token`` sent with ``request``, or None; read once per request.

    A write with an Idempotency-Key meets the token twice (the middleware scopes the key by caller, then the
    route authenticates): the second asks for the same token on the same request and gets the row already read,
    one query instead of two. Another token on the same request is looked up on its own."""
    memo = getattr(request, _MEMO, None)
    if memo is not None and memo[0] == token:
        return memo[1]  # type: ignore[no-any-return]
    user = access_token_user(token)
    setattr(request, _MEMO, (token, user))
    return user


class BearerAuth(HttpBearer):
    openapi_description = "Access token from /api/v1/auth/otp/verify or /api/v1/auth/refresh."

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = request_token_user(request, token)
        if user is not None:
            request.user = user
        return user


bearer = BearerAuth()
