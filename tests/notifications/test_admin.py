"""Back office for the outbox: filters, search, deliberate resend / mark sent / cancel, sensitive bodies hidden."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backend.accounts.models import User
from backend.core.models import Event, WorkerHeartbeat
from backend.notifications.models import Channel, OutboxMessage, OutboxStatus
from backend.notifications.services import message_enqueue

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:notifications_outboxmessage_changelist"


@pytest.fixture
def admin_client_() -> Client:
    user = User.objects.create_superuser("+77019990000", "pw")
    client = Client()
    client.force_login(user)
    return client


def message(key: str, status: str = OutboxStatus.PENDING, **kwargs: Any) -> OutboxMessage:
    msg, _ = message_enqueue(
        channel=kwargs.pop("channel", Channel.SMS),
        recipient=kwargs.pop("recipient", "+77010000001"),
        body=kwargs.pop("body", "text"),
        dedupe_key=key,
        **kwargs,
    )
    OutboxMessage.objects.filter(pk=msg.pk).update(status=status, claimed_by="dead-worker")
    msg.refresh_from_db()
    return msg


def act(client: Client, action: str, *messages: OutboxMessage) -> Any:
    return client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [m.pk for m in messages]}, follow=True
    )


def test_changelist_filters_and_search(admin_client_: Client) -> None:
    message("a", OutboxStatus.RECONCILE)
    message("b", OutboxStatus.SENT, channel=Channel.TELEGRAM, recipient="555")
    page = admin_client_.get(reverse(CHANGELIST), {"status__exact": "reconcile"})
    assert page.status_code == 200 and list(page.context["cl"].queryset.values_list("dedupe_key", flat=True)) == ["a"]
    page = admin_client_.get(reverse(CHANGELIST), {"q": "555"})
    assert list(page.context["cl"].queryset.values_list("dedupe_key", flat=True)) == ["b"]
    page = admin_client_.get(reverse(CHANGELIST), {"channel__exact": "telegram"})
    assert list(page.context["cl"].queryset.values_list("dedupe_key", flat=True)) == ["b"]


def test_resend_requeues_reconcile_and_failed_only_and_records_events(admin_client_: Client) -> None:
    # given messages in every state an operator may select
    stuck = message("stuck", OutboxStatus.RECONCILE)
    failed = message("failed", OutboxStatus.FAILED)
    sent = message("sent", OutboxStatus.SENT)
    # when the operator resends all three
    act(admin_client_, "resend", stuck, failed, sent)
    # then only the undelivered ones are queued again, each with an audit event; the sent one is untouched
    statuses = dict(OutboxMessage.objects.values_list("dedupe_key", "status"))
    assert statuses == {"stuck": "pending", "failed": "pending", "sent": "sent"}
    assert OutboxMessage.objects.get(pk=stuck.pk).attempts == 0
    events = Event.objects.filter(entity_type="notifications.outboxmessage")
    assert sorted(int(e.entity_id) for e in events) == sorted([stuck.pk, failed.pk])
    assert all(e.after["status"] == "pending" for e in events)


def test_scrubbed_sensitive_message_cannot_be_resent(admin_client_: Client) -> None:
    scrubbed = message("otp", OutboxStatus.FAILED, sensitive=True)
    OutboxMessage.objects.filter(pk=scrubbed.pk).update(body="")
    act(admin_client_, "resend", scrubbed)
    assert OutboxMessage.objects.get(pk=scrubbed.pk).status == OutboxStatus.FAILED
    assert not Event.objects.exists()


def test_mark_sent_settles_reconciliation(admin_client_: Client) -> None:
    stuck = message("stuck", OutboxStatus.RECONCILE)
    pending = message("pending", OutboxStatus.PENDING)
    act(admin_client_, "mark_sent", stuck, pending)
    stuck.refresh_from_db()
    pending.refresh_from_db()
    assert (stuck.status, pending.status) == (OutboxStatus.SENT, OutboxStatus.PENDING)
    assert stuck.sent_at is not None


def test_cancel_stops_undelivered_messages(admin_client_: Client) -> None:
    pending = message("pending")
    sent = message("sent", OutboxStatus.SENT)
    act(admin_client_, "cancel", pending, sent)
    assert dict(OutboxMessage.objects.values_list("dedupe_key", "status")) == {"pending": "cancelled", "sent": "sent"}


def test_sensitive_body_is_hidden_in_the_admin(admin_client_: Client) -> None:
    secret = message("otp", body="Your login code 482913", sensitive=True)
    page = admin_client_.get(reverse("admin:notifications_outboxmessage_change", args=[secret.pk]))
    assert page.status_code == 200
    assert b"482913" not in page.content
    plain = message("hello", body="See you tomorrow")
    page = admin_client_.get(reverse("admin:notifications_outboxmessage_change", args=[plain.pk]))
    assert b"See you tomorrow" in page.content


def test_heartbeats_are_listed(admin_client_: Client) -> None:
    WorkerHeartbeat.objects.create(worker_id="host-1-abc", hostname="host", pid=1)
    page = admin_client_.get(reverse("admin:core_workerheartbeat_changelist"))
    assert page.status_code == 200 and b"host-1-abc" in page.content
