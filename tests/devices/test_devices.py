"""Push registration over the API and the push channel of the outbox (file, memory and HTTP backends)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from backend.devices.models import Device, RevokeReason
from backend.devices.push import PUSH_CHANNEL
from backend.devices.services import device_register, push_enqueue
from backend.notifications.dispatch import outbox_deliver_due
from backend.notifications.models import OutboxMessage, OutboxStatus
from tests.conftest import ApiClient
from tests.factories import UserFactory
from tests.notifications.fakes import FakeProvider, Received, Reply

URL = "/api/v1/devices"
TOKEN = "fcm-token-" + "x" * 150


def _unregister(api: ApiClient, body: dict[str, Any]) -> Any:
    return api.client.delete(URL, data=json.dumps(body), content_type="application/json", headers=api._headers(None))


@pytest.fixture
def push_memory(settings: Any) -> None:
    settings.PUSH_BACKEND = "memory"


# --- registration -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_register_is_idempotent_and_takes_the_account_language() -> None:
    user = UserFactory(language="kk")
    api = ApiClient(user)
    first = api.post(URL, {"platform": "android", "token": TOKEN, "app_version": "1.4.0"})
    assert first.status_code == 201, first.content
    assert first.json()["language"] == "kk" and first.json()["active"] is True
    again = api.post(URL, {"platform": "android", "token": TOKEN, "language": "en", "app_version": "1.5.0"})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    device = Device.objects.get()
    assert (device.user_id, device.language, device.app_version) == (user.pk, "en", "1.5.0")
    assert [d["id"] for d in api.get(URL).json()["items"]] == [device.pk]


@pytest.mark.django_db
def test_re_registering_a_token_moves_it_to_the_new_user() -> None:
    alice, bob = UserFactory(), UserFactory()
    ApiClient(alice).post(URL, {"platform": "ios", "token": "apns-1"})
    answer = ApiClient(bob).post(URL, {"platform": "ios", "token": "apns-1"})
    assert answer.status_code == 200
    assert Device.objects.get().user_id == bob.pk
    assert ApiClient(alice).get(URL).json()["items"] == []
    # The same token string on another platform is another device.
    assert ApiClient(alice).post(URL, {"platform": "web", "token": "apns-1"}).status_code == 201


@pytest.mark.django_db
def test_unregister_only_the_callers_own_token() -> None:
    alice, bob = UserFactory(), UserFactory()
    ApiClient(alice).post(URL, {"platform": "android", "token": TOKEN})
    # Bob cannot switch Alice's notifications off, nor learn that the token exists.
    refused = _unregister(ApiClient(bob), {"platform": "android", "token": TOKEN})
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "device_not_found"
    assert Device.objects.get().revoked_at is None
    assert _unregister(ApiClient(alice), {"platform": "android", "token": TOKEN}).status_code == 204
    device = Device.objects.get()
    assert device.revoked_reason == RevokeReason.UNREGISTERED
    assert _unregister(ApiClient(alice), {"platform": "android", "token": TOKEN}).status_code == 404
    # Registering again brings it back.
    assert ApiClient(alice).post(URL, {"platform": "android", "token": TOKEN}).status_code == 200
    assert Device.objects.get().revoked_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"platform": "blackberry", "token": "t"},
        {"platform": "ios", "token": ""},
        {"platform": "ios", "token": "x" * 513},
        {"platform": "ios", "token": "a\x00b"},
        {"platform": "ios", "token": "t", "language": "de"},
    ],
)
def test_bad_registrations_are_422_and_write_nothing(body: dict[str, Any]) -> None:
    answer = ApiClient(UserFactory()).post(URL, body)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "validation_error"
    assert not Device.objects.exists()


@pytest.mark.django_db
def test_anonymous_cannot_register() -> None:
    assert ApiClient().post(URL, {"platform": "ios", "token": "t"}).status_code == 401


# --- the push channel -------------------------------------------------------------------------------------------


def _push_to(user: Any, key: str = "visit:1:reminder") -> int:
    with transaction.atomic():
        return push_enqueue(user=user, title="Tomorrow", body="Haircut at 10:00", dedupe_key=key, data={"a": 1})


@pytest.mark.django_db
def test_file_backend_writes_one_json_line_per_device(settings: Any, tmp_path: Path) -> None:
    settings.PUSH_BACKEND, settings.PUSH_FILE_PATH = "file", str(tmp_path / "push.log")
    user = UserFactory()
    phone, _ = device_register(user=user, platform="android", token="tok-a")
    device_register(user=user, platform="ios", token="tok-b")
    assert _push_to(user) == 2
    assert _push_to(user) == 0  # the same cause again: nothing new
    assert outbox_deliver_due().sent == 2
    lines = [json.loads(line) for line in (tmp_path / "push.log").read_text().splitlines()]
    assert sorted(line["message"]["token"] for line in lines) == ["tok-a", "tok-b"]
    assert lines[0]["message"]["notification"] == {"title": "Tomorrow", "body": "Haircut at 10:00"}
    assert lines[0]["message"]["data"] == {"a": "1"}
    assert OutboxMessage.objects.filter(channel=PUSH_CHANNEL, recipient=str(phone.pk)).exists()


@pytest.mark.django_db
def test_a_push_queued_before_the_token_moved_is_not_delivered_to_the_new_owner(push_memory: None) -> None:
    from backend.notifications.backends import outbox_memory

    outbox_memory.clear()
    alice, bob = UserFactory(), UserFactory()
    device_register(user=alice, platform="android", token="shared-phone")
    _push_to(alice)
    device_register(user=bob, platform="android", token="shared-phone")
    report = outbox_deliver_due()
    assert report.failed == 1 and outbox_memory == []
    assert OutboxMessage.objects.get().last_error == "device moved to another user"


def _http(settings: Any, reply: Any) -> FakeProvider:
    fake = FakeProvider(reply=reply).start()
    settings.PUSH_BACKEND, settings.PUSH_HTTP_URL, settings.PUSH_HTTP_KEY = "http", fake.url + "/v1/send", "k3y"
    return fake


@pytest.mark.django_db
def test_http_backend_posts_json_with_the_bearer_key(settings: Any) -> None:
    fake = _http(settings, lambda r, n: (200, {"name": f"projects/x/messages/{n}"}, {}))
    try:
        user = UserFactory()
        device_register(user=user, platform="android", token="tok-http")
        _push_to(user)
        assert outbox_deliver_due().sent == 1
    finally:
        fake.stop()
    (request,) = fake.received
    assert request.path == "/v1/send"
    assert request.headers["authorization"] == "Bearer k3y"
    assert request.body["message"]["token"] == "tok-http"
    assert OutboxMessage.objects.get().provider_message_id == "projects/x/messages/1"


@pytest.mark.django_db
@pytest.mark.parametrize("status", [404, 410])
def test_http_unregistered_revokes_the_device_and_fails_for_good(settings: Any, status: int) -> None:
    fake = _http(settings, lambda r, n: (status, {"error": {"status": "UNREGISTERED"}}, {}))
    try:
        user = UserFactory()
        device, _ = device_register(user=user, platform="ios", token="dead-token")
        _push_to(user, "k1")
        assert outbox_deliver_due().failed == 1
        device.refresh_from_db()
        assert device.revoked_reason == RevokeReason.PROVIDER and device.revoked_at is not None
        # Nothing more is queued to a revoked device.
        assert _push_to(user, "k2") == 0
    finally:
        fake.stop()
    assert len(fake.received) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("status", [429, 500, 503])
def test_http_throttled_or_down_is_retried_later_then_sent(settings: Any, status: int) -> None:
    def reply(request: Received, count: int) -> Reply:
        return (status, {}, {"Retry-After": "120"}) if count == 1 else (200, {"name": "ok"}, {})

    fake = _http(settings, reply)
    try:
        user = UserFactory()
        device, _ = device_register(user=user, platform="android", token="busy")
        _push_to(user)
        assert outbox_deliver_due().retried == 1
        message = OutboxMessage.objects.get()
        assert message.status == OutboxStatus.PENDING
        assert (message.next_attempt_at - message.created_at).total_seconds() >= 119  # Retry-After honoured
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)
        assert outbox_deliver_due().sent == 1
    finally:
        fake.stop()
    device.refresh_from_db()
    assert device.revoked_at is None
    assert len(fake.received) == 2


@pytest.mark.django_db
def test_http_other_client_error_is_permanent_and_keeps_the_device(settings: Any) -> None:
    fake = _http(settings, lambda r, n: (400, {"error": "INVALID_ARGUMENT"}, {}))
    try:
        user = UserFactory()
        device, _ = device_register(user=user, platform="android", token="tok")
        _push_to(user)
        assert outbox_deliver_due().failed == 1
    finally:
        fake.stop()
    device.refresh_from_db()
    assert device.revoked_at is None
