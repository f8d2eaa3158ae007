"""Request and response bodies of the auth endpoints; lengths mirror the database columns."""

from __future__ import annotations

from typing import Literal

from ninja import Field, Schema

LanguageCode = Literal["ru", "kk", "en"]

# Generous for any spelling of a phone (spaces, dashes, brackets); the service normalizes to E.164.
PHONE_MAX = 32


class OtpRequestIn(Schema):
    phone: str = Field(..., max_length=PHONE_MAX, examples=["+77011234567"])
    language: LanguageCode | None = Field(None, description="language of the message; defaults to the user's")


class OtpRequestOut(Schema):
    sent: bool
    expires_in: int = Field(..., description="seconds the code stays valid")
    retry_after: int | None = Field(None, description="seconds before another code may be requested")


class OtpVerifyIn(Schema):
    phone: str = Field(..., max_length=PHONE_MAX, examples=["+77011234567"])
    code: str = Field(..., min_length=1, max_length=12, examples=["123456"])


class RefreshIn(Schema):
    refresh_token: str = Field(..., min_length=1, max_length=200)


class UserOut(Schema):
    id: int
    phone: str
    first_name: str
    last_name: str
    email: str
    language: str
    telegram_linked: bool


class TokenPairOut(Schema):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(..., description="seconds the access token stays valid")
    refresh_expires_in: int = Field(..., description="seconds the refresh token stays valid")
    user: UserOut
