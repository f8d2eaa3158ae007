"""Push delivery backends for the outbox's ``push`` channel (see ADR 0025).

``PUSH_BACKEND`` picks one: ``file`` (default: one JSON line per push in ``PUSH_FILE_PATH``, the simulated
phone), ``memory`` (tests), ``http`` (an FCM/APNs-shaped provider: POST JSON with a bearer key to
``PUSH_HTTP_URL``) or a dotted path to a custom class. The outbox message names a device id; the token is read at
send time, so a device revoked or moved to another user since the push was queued is not pushed to.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from backend.notifications.backends import (
    HTTP_TIMEOUT,
    Delivery,
    MessageBackend,
    OutcomeUnknown,
    PermanentFailure,
    SentRecord,
    TemporaryFailure,
    http_client,
    outbox_memory,
)
from backend.notifications.backends import _retry_after_header as retry_after_header
from backend.notifications.models import OutboxMessage

from .models import Device

PUSH_CHANNEL = "push"  # the outbox channel value (Channel.PUSH once notifications lists it)
UNREGISTERED_STATUSES = (404, 410)  # FCM answers 404 UNREGISTERED, APNs 410 Unregistered


def _device(message: OutboxMessage) -> Device:
    """The live device a queued push is for, or a permanent failure (nothing to send to any more)."""
    payload = message.payload or {}
    try:
        device = Device.objects.get(pk=int(payload.get("device_id") or message.recipient))
    except (Device.DoesNotExist, TypeError, ValueError):
        raise PermanentFailure("device no longer exists") from None
    if device.revoked_at is not None:
        raise PermanentFailure("device revoked")
    if payload.get("user_id") is not None and device.user_id != payload["user_id"]:
        raise PermanentFailure("device moved to another user")
    return device


def push_body(message: OutboxMessage, device: Device) -> dict[str, Any]:
    """The provider request: FCM-shaped (``message.token``, ``notification``, string-valued ``data``)."""
    data = (message.payload or {}).get("data") or {}
    return {
        "message": {
            "token": device.token,
            "platform": device.platform,
            "notification": {"title": message.subject, "body": message.body},
            "data": {str(k): str(v) for k, v in data.items()},
        },
        "dedupe_key": message.dedupe_key,
    }


class FilePushBackend:
    """Appends one JSON line per push to ``PUSH_FILE_PATH``: the default, and what ``make demo`` shows."""

    _lock = threading.Lock()

    def send(self, message: OutboxMessage) -> Delivery:
        device = _device(message)
        path = Path(settings.PUSH_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {"at": timezone.now().isoformat(), "id": message.pk, "device_id": device.pk, **push_body(message, device)},
            ensure_ascii=False,
        )
        with self._lock, path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return Delivery(provider_message_id=f"file-{message.pk}")


class MemoryPushBackend:
    def send(self, message: OutboxMessage) -> Delivery:
        device = _device(message)
        outbox_memory.append(SentRecord(PUSH_CHANNEL, device.token, message.body, message.dedupe_key, message.subject))
        return Delivery(provider_message_id=f"memory-{len(outbox_memory)}")


class HttpPushBackend:
    """An FCM/APNs-shaped HTTP provider: POST ``push_body`` as JSON with ``Authorization: Bearer PUSH_HTTP_KEY``.

    2xx = sent (the provider's ``name`` or ``id`` kept); 404/410 = the token is dead: the device is revoked and the
    message fails for good; 429 and 5xx = try again, honouring Retry-After; another 4xx = permanent. A connection
    that never opened is safe to retry; a request that timed out after it was sent has an unknown outcome.
    """

    def __init__(self, url: str | None = None, key: str | None = None) -> None:
        self.url = url or settings.PUSH_HTTP_URL
        self.key = key if key is not None else settings.PUSH_HTTP_KEY

    def send(self, message: OutboxMessage) -> Delivery:
        if not self.url:
            raise PermanentFailure("PUSH_HTTP_URL is not set")
        device = _device(message)
        headers = {"Idempotency-Key": message.dedupe_key}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        try:
            response = http_client().post(
                self.url, json=push_body(message, device), headers=headers, timeout=HTTP_TIMEOUT
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TemporaryFailure(f"connect: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise OutcomeUnknown(f"after sending: {type(exc).__name__}") from exc
        if response.is_success:
            try:
                answer = response.json() or {}
            except ValueError:
                answer = {}
            return Delivery(provider_message_id=str(answer.get("name") or answer.get("id") or "")[:100])
        if response.status_code in UNREGISTERED_STATUSES:
            from .services import device_revoke_by_provider

            device_revoke_by_provider(device_id=device.pk)
            raise PermanentFailure(f"HTTP {response.status_code}: token unregistered, device revoked")
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryFailure(f"HTTP {response.status_code}", retry_after=retry_after_header(response))
        raise PermanentFailure(f"HTTP {response.status_code}: {response.text[:200]}")


PUSH_BACKENDS: dict[str, type] = {"file": FilePushBackend, "memory": MemoryPushBackend, "http": HttpPushBackend}


def push_backend() -> MessageBackend:
    """The configured push backend (``PUSH_BACKEND``)."""
    name = settings.PUSH_BACKEND
    cls = PUSH_BACKENDS.get(name) or import_string(name)
    return cls()  # type: ignore[no-any-return]
