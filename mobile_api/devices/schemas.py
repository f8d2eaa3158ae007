"""Push registration: what the app sends and gets back."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from backend.accounts.models import Language
from backend.devices.models import TOKEN_MAX_LENGTH, Platform
from mobile_api.types import Text


class DeviceRegisterIn(Schema):
    platform: Platform
    token: Text = Field(..., min_length=1, max_length=TOKEN_MAX_LENGTH, description="The push provider's token.")
    language: Language | None = Field(None, description="Language of the pushes; the account's when left out.")
    app_version: Text = Field("", max_length=32)


class DeviceUnregisterIn(Schema):
    platform: Platform
    token: Text = Field(..., min_length=1, max_length=TOKEN_MAX_LENGTH)


class DeviceOut(Schema):
    id: int
    platform: Platform
    language: Language
    app_version: str
    last_seen_at: dt.datetime
    active: bool


class DeviceListOut(Schema):
    items: list[DeviceOut]
