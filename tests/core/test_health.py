"""/healthz: database, channel layer and task queue; 503 "degraded" when one of them fails."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest
from django.test import Client

from backend.config.channel_layers import redis_layer
from backend.core.tasking import heartbeat_beat

pytestmark = pytest.mark.django_db


def dead_port() -> int:
    """A local port nobody listens on (bound, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_all_checks_ok() -> None:
    # given a worker that beat just now
    heartbeat_beat(worker_id="w1")
    # when the load balancer asks
    response = Client().get("/healthz")
    # then every check is reported and the answer is 200 ok
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "channel_layer", "task_queue"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["task_queue"]["workers_alive"] == 1
    assert body["checks"]["task_queue"]["ready"] == 0


def test_redis_channel_layer_ok(settings: Any) -> None:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/7"
    settings.CHANNEL_LAYERS = {"default": redis_layer(url, prefix="brigada-health-test")}
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["channel_layer"]["backend"] == "RedisChannelLayer"


def test_dead_redis_makes_it_degraded_503(settings: Any) -> None:
    # given the channel layer points at a Redis that is down
    settings.CHANNEL_LAYERS = {"default": redis_layer(f"redis://127.0.0.1:{dead_port()}/0")}
    # when the load balancer asks
    response = Client().get("/healthz")
    # then it is told the node is degraded, and which part failed
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["checks"]["channel_layer"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True and body["checks"]["task_queue"]["ok"] is True


def test_only_get_is_allowed() -> None:
    assert Client().post("/healthz").status_code == 405
