"""Push registration: the app registers its token after login and unregisters it on logout. Thin: services only.

The token travels in the body, also to unregister (``DELETE`` with a JSON body), so it never appears in a URL or an
access log.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from backend.devices import services
from backend.devices.models import Device
from mobile_api.errors import COMMON_ERROR_RESPONSES, OBJECT_ERROR_RESPONSES

from .schemas import DeviceListOut, DeviceOut, DeviceRegisterIn, DeviceUnregisterIn

router = Router(tags=["devices"])


def device_out(device: Device) -> DeviceOut:
    return DeviceOut(
        id=device.pk,
        platform=device.platform,  # type: ignore[arg-type]
        language=device.language,  # type: ignore[arg-type]
        app_version=device.app_version,
        last_seen_at=device.last_seen_at,
        active=device.is_active,
    )


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


@router.post(
    "",
    response={200: DeviceOut, 201: DeviceOut, **COMMON_ERROR_RESPONSES},
    summary="Register this device for push notifications",
    description=(
        "Idempotent: 201 the first time a token is seen, 200 afterwards (last seen refreshed). A token registered to "
        "another account moves to the caller's."
    ),
)
def device_register(request: HttpRequest, payload: DeviceRegisterIn) -> Status[DeviceOut]:
    device, created = services.device_register(
        user=_user(request),
        platform=payload.platform,
        token=payload.token,
        language=payload.language,
        app_version=payload.app_version,
    )
    return Status(201 if created else 200, device_out(device))


@router.delete(
    "",
    response={204: None, **OBJECT_ERROR_RESPONSES},
    summary="Stop push notifications to this device",
    description="404 `device_not_found` unless the token is registered (and active) for the caller.",
)
def device_unregister(request: HttpRequest, payload: DeviceUnregisterIn) -> Status[None]:
    services.device_unregister(user=_user(request), platform=payload.platform, token=payload.token)
    return Status(204, None)


@router.get("", response={200: DeviceListOut, **COMMON_ERROR_RESPONSES}, summary="My devices that get pushes")
def device_list(request: HttpRequest) -> DeviceListOut:
    return DeviceListOut(items=[device_out(d) for d in services.devices_active(user=_user(request))])
