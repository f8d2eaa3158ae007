"""Health checks for /healthz: each probe is cheap and bounded."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.utils import timezone

PROBE_TIMEOUT = 3.0


def _timed(probe: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = probe()
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **(detail or {})}
    except Exception as exc:
        return {
            "ok": False,
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "error": type(exc).__name__,
        }


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _channel_layer() -> dict[str, Any]:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer")

    async def roundtrip() -> None:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.ping", "nonce": uuid.uuid4().hex})
        await layer.receive(channel)

    async def bounded() -> None:
        # A hung Redis must not hang the health check (load balancers time out and retry).
        await asyncio.wait_for(roundtrip(), timeout=PROBE_TIMEOUT)

    async_to_sync(bounded)()
    return {"backend": type(layer).__name__}


def _task_queue() -> dict[str, Any]:
    """Backlog of due tasks, how long the oldest has waited, and how many workers beat recently.

    No live worker is reported, not failed: web nodes may run without a worker on the same machine.
    """
    from django_tasks_db.models import DBTaskResult

    from .tasking import workers_alive

    ready = DBTaskResult.objects.ready()
    oldest = ready.order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return {
        "ready": ready.count(),
        "oldest_ready_age_s": round(lag, 1),
        "running": DBTaskResult.objects.running().count(),
        "workers_alive": workers_alive(),
    }


def health_report() -> dict[str, Any]:
    checks = {
        "database": _timed(_database),
        "channel_layer": _timed(_channel_layer),
        "task_queue": _timed(_task_queue),
    }
    return {"status": "ok" if all(c["ok"] for c in checks.values()) else "degraded", "checks": checks}
