from __future__ import annotations

from enum import StrEnum


class DeviceErrorCode(StrEnum):
    DEVICE_NOT_FOUND = "device_not_found"
