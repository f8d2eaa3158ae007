"""Stable error codes of the identity domain; clients branch on these."""

from __future__ import annotations

from enum import StrEnum


class AuthErrorCode(StrEnum):
    INVALID_PHONE = "invalid_phone"
    INVALID_CODE = "invalid_code"
    CODE_EXPIRED = "code_expired"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    ACCOUNT_DISABLED = "account_disabled"
    INVALID_REFRESH_TOKEN = "invalid_refresh_token"
    INVALID_EMAIL = "invalid_email"
    INVALID_LANGUAGE = "invalid_language"
    ACCOUNT_LOCKED = "account_locked"
    NETWORK_LOCKED = "network_locked"
