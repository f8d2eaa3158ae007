"""Bearer authentication for the API."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from backend.accounts.tokens import access_token_user


class BearerAuth(HttpBearer):
    openapi_description = "Access token from /api/v1/auth/otp/verify or /api/v1/auth/refresh."

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = access_token_user(token)
        if user is not None:
            request.user = user
        return user


bearer = BearerAuth()
