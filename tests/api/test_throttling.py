"""Throttles answer 429 in the envelope with Retry-After; client IPs trust only the configured proxies."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from ninja import NinjaAPI
from ninja.testing import TestClient
from ninja.throttling import AnonRateThrottle

from backend.core.net import client_ip
from mobile_api.errors import install_error_handlers


@pytest.fixture(autouse=True)
def _clear_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


def _throttled_api(rate: str) -> TestClient:
    api = NinjaAPI(urls_namespace=f"throttle-{rate}", throttle=[AnonRateThrottle(rate)])
    install_error_handlers(api)

    @api.get("/ping", auth=None)
    def ping(request: HttpRequest) -> dict[str, bool]:
        return {"pong": True}

    return TestClient(api)


def test_over_the_rate_gets_429_envelope_with_retry_after() -> None:
    client = _throttled_api("2/m")

    statuses = [client.get("/ping", REMOTE_ADDR="10.0.0.1").status_code for _ in range(3)]
    blocked = client.get("/ping", REMOTE_ADDR="10.0.0.1")

    assert statuses == [200, 200, 429]
    assert blocked.json()["error"]["code"] == "throttled"
    assert int(blocked["Retry-After"]) >= 1


@override_settings(NINJA_NUM_PROXIES=0)
def test_without_trusted_proxies_a_forged_forwarded_for_does_not_reset_the_limit() -> None:
    client = _throttled_api("1/m")

    first = client.get("/ping", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1")
    second = client.get("/ping", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="2.2.2.2")

    assert (first.status_code, second.status_code) == (200, 429)


def test_client_ip_uses_remote_addr_when_no_proxy_is_trusted() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6")

    with override_settings(NINJA_NUM_PROXIES=0):
        assert client_ip(request) == "10.0.0.9"


def test_client_ip_takes_the_address_seen_by_the_trusted_proxy_not_the_forged_left_end() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")

    with override_settings(NINJA_NUM_PROXIES=1):
        assert client_ip(request) == "203.0.113.7"
    with override_settings(NINJA_NUM_PROXIES=2):
        assert client_ip(request) == "6.6.6.6"
