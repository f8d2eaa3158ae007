"""Push registration and push messages: the only way devices are written or pushed to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.exceptions import NotFound
from backend.notifications.services import PushNote, message_enqueue

from .exceptions import DeviceErrorCode
from .models import Device, RevokeReason
from .push import PUSH_CHANNEL


def _take_over(device: Device, *, user: Any, language: str, app_version: str) -> Device:
    device.user = user
    device.language = language
    device.app_version = app_version
    device.last_seen_at = timezone.now()
    device.revoked_at, device.revoked_reason = None, ""
    device.save(update_fields=["user", "language", "app_version", "last_seen_at", "revoked_at", "revoked_reason"])
    return device


@transaction.atomic
def device_register(
    *, user: Any, platform: str, token: str, language: str | None = None, app_version: str = ""
) -> tuple[Device, bool]:
    """Register a push token for ``user``; returns ``(device, created)``.

    Idempotent: the same call again refreshes ``last_seen_at``. A token already registered to another user moves
    to this one (the phone's previous account logged out, or it changed hands): a token is never pushed to for two
    people. A revoked token becomes active again (the app got it back from the provider, so it is valid).
    """
    language = language or user.language
    existing = Device.objects.select_for_update().filter(platform=platform, token=token).first()
    if existing is not None:
        return _take_over(existing, user=user, language=language, app_version=app_version), False
    try:
        with transaction.atomic():  # savepoint: a concurrent first registration of the same token wins the insert
            device = Device.objects.create(
                user=user, platform=platform, token=token, language=language, app_version=app_version
            )
    except IntegrityError:
        existing = Device.objects.select_for_update().get(platform=platform, token=token)
        return _take_over(existing, user=user, language=language, app_version=app_version), False
    return device, True


@transaction.atomic
def device_unregister(*, user: Any, platform: str, token: str) -> Device:
    """The app logs out or turns notifications off: stop pushing to this token.

    Only the caller's own active token: another user's token (or an unknown one) is a 404, so nobody can switch off
    someone else's notifications or learn that a token exists.
    """
    revoked = Device.objects.filter(user=user, platform=platform, token=token, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=RevokeReason.UNREGISTERED
    )
    if not revoked:
        raise NotFound(_("No such device is registered to you."), code=DeviceErrorCode.DEVICE_NOT_FOUND)
    return Device.objects.get(user=user, platform=platform, token=token)


def devices_active(*, user: Any) -> list[Device]:
    """The caller's devices that receive pushes, most recently seen first."""
    return list(Device.objects.filter(user=user, revoked_at__isnull=True).order_by("-last_seen_at", "-id"))


def device_revoke_by_provider(*, device_id: int) -> bool:
    """The push provider says the token is dead (404/410 unregistered): never push to it again until re-registered."""
    return bool(
        Device.objects.filter(pk=device_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=RevokeReason.PROVIDER
        )
    )


def _push_to_devices(
    *,
    user: Any,
    render: Callable[[Device], tuple[str, str]],
    dedupe_key: str,
    data: Mapping[str, Any],
    organization_id: int | None,
    expires_at: datetime | None,
) -> int:
    created = 0
    for device in Device.objects.filter(user=user, revoked_at__isnull=True).order_by("id"):
        title, body = render(device)
        _, new = message_enqueue(
            channel=PUSH_CHANNEL,
            recipient=str(device.pk),
            subject=title[:200],
            body=body,
            dedupe_key=f"{dedupe_key}:device:{device.pk}"[:200],
            user=user,
            organization_id=organization_id,
            payload={"device_id": device.pk, "user_id": user.pk, "data": dict(data)},
            expires_at=expires_at,
        )
        created += int(new)
    return created


def push_enqueue(
    *,
    user: Any,
    title: str,
    body: str,
    dedupe_key: str,
    data: Mapping[str, Any] | None = None,
    organization_id: int | None = None,
    expires_at: datetime | None = None,
) -> int:
    """Queue a push to every active device of ``user`` in the caller's transaction; returns how many are new.

    One outbox message per device, keyed ``<dedupe_key>:device:<id>``, so a retry of the cause sends nothing twice.
    The outbox row names the device, not its token: the token is read when the message is sent, so a device
    revoked (or moved to another user) meanwhile is not pushed to. Business events do not call this: they hand a
    ``PushNote`` to the outbox (``message_enqueue(push=...)``), which comes to ``push_note_enqueue``.
    """
    return _push_to_devices(
        user=user,
        render=lambda device: (title, body),
        dedupe_key=dedupe_key,
        data=data or {},
        organization_id=organization_id,
        expires_at=expires_at,
    )


def push_note_enqueue(
    *, user: Any, note: PushNote, dedupe_key: str, organization_id: int | None, expires_at: datetime | None
) -> int:
    """The outbox's push producer (registered by ``DevicesConfig.ready``): ``note`` to each active device of
    ``user``, in the device's language, with the deep link (``kind``, ``id``) as data."""
    return _push_to_devices(
        user=user,
        render=lambda device: note.render(device.language),
        dedupe_key=dedupe_key,
        data=note.data(),
        organization_id=organization_id,
        expires_at=expires_at,
    )
