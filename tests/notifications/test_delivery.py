"""Outbox delivery: claim one, commit SENDING, send, then SENT / retry / FAILED / RECONCILE."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from backend.notifications.backends import outbox_memory
from backend.notifications.dispatch import message_claim, outbox_deliver_due, outbox_sweep
from backend.notifications.models import Channel, OutboxMessage, OutboxStatus
from backend.notifications.services import message_enqueue
from backend.notifications.tasks import outbox_deliver

from .fakes import FakeProvider

pytestmark = pytest.mark.django_db


def sms(key: str = "k1", **kwargs: Any) -> OutboxMessage:
    message, _ = message_enqueue(
        channel=Channel.SMS, recipient="+77010000001", body="Your visit is at 10:00", dedupe_key=key, **kwargs
    )
    return message


def test_enqueue_is_once_per_dedupe_key() -> None:
    # given a message already in the outbox
    first = sms("appointment:1:reminder")
    # when the same change enqueues it again
    second, created = message_enqueue(
        channel=Channel.SMS, recipient="+77010000001", body="other text", dedupe_key="appointment:1:reminder"
    )
    # then the first message is returned untouched
    assert (created, second.pk, second.body) == (False, first.pk, "Your visit is at 10:00")
    assert OutboxMessage.objects.count() == 1


def test_due_message_is_sent_once_and_a_second_run_sends_nothing() -> None:
    # given one pending message
    message = sms()
    # when delivery runs twice (a re-run task must be harmless)
    first = outbox_deliver_due(worker="w1")
    second = outbox_deliver_due(worker="w2")
    # then it reached the provider exactly once and is SENT
    message.refresh_from_db()
    assert (first.sent, second.sent) == (1, 0)
    assert [r.dedupe_key for r in outbox_memory] == ["k1"]
    assert message.status == OutboxStatus.SENT and message.attempts == 1 and message.sent_at is not None


def test_claim_commits_sending_before_the_provider_is_called() -> None:
    # given a pending message
    message = sms()
    # when a worker claims it
    claimed = message_claim(worker="w1")
    # then it is SENDING, owned by the worker, with the attempt counted, and nobody else can claim it
    assert claimed is not None and claimed.pk == message.pk
    assert (claimed.status, claimed.claimed_by, claimed.attempts) == (OutboxStatus.SENDING, "w1", 1)
    assert message_claim(worker="w2") is None


def test_message_not_yet_due_is_left_alone() -> None:
    message = sms()
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert outbox_deliver_due(worker="w1").sent == 0
    assert outbox_memory == []


def test_expired_message_is_cancelled_not_sent() -> None:
    # given a message whose moment has passed (e.g. a reminder for a visit that already started)
    message = sms(expires_at=timezone.now() - timedelta(seconds=1), sensitive=True)
    # when delivery runs
    outbox_deliver_due(worker="w1")
    # then nothing is sent, the row is CANCELLED and its sensitive body scrubbed
    message.refresh_from_db()
    assert outbox_memory == []
    assert (message.status, message.body) == (OutboxStatus.CANCELLED, "")


def test_sensitive_body_is_scrubbed_once_sent() -> None:
    message = sms(sensitive=True, payload={"code_hint": "x"})
    outbox_deliver_due(worker="w1")
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert (message.body, message.payload) == ("", {})
    assert outbox_memory[0].body == "Your visit is at 10:00"  # the provider got the text before the scrub


def test_stuck_sending_row_goes_to_reconcile_and_is_never_resent(settings: Any) -> None:
    # given a message claimed by a worker that then died (SENDING past the time-out)
    settings.OUTBOX_SENDING_TIMEOUT = 60
    message = sms()
    message_claim(worker="dead-worker")
    OutboxMessage.objects.filter(pk=message.pk).update(sending_started_at=timezone.now() - timedelta(minutes=5))
    # when the sweep and delivery run
    result = outbox_sweep()
    outbox_deliver_due(worker="w2")
    # then it waits for a human: RECONCILE, nothing sent again
    message.refresh_from_db()
    assert result["reconcile"] == 1
    assert message.status == OutboxStatus.RECONCILE
    assert outbox_memory == []


def test_sending_row_within_timeout_is_not_flagged(settings: Any) -> None:
    settings.OUTBOX_SENDING_TIMEOUT = 60
    message = sms()
    message_claim(worker="busy-worker")
    assert outbox_sweep()["reconcile"] == 0
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENDING


def test_sweep_cancels_expired_rows_and_kicks_delivery_when_work_is_due() -> None:
    # given one expired and one due message, and no delivery task waiting
    expired = sms("old", expires_at=timezone.now() - timedelta(minutes=1))
    due = sms("new")
    DBTaskResult.objects.all().delete()
    # when the periodic sweep runs
    result = outbox_sweep()
    # then the expired one is cancelled and exactly one delivery task is queued for the due one
    expired.refresh_from_db()
    due.refresh_from_db()
    assert result == {"reconcile": 0, "expired": 1, "due": 1}
    assert expired.status == OutboxStatus.CANCELLED and due.status == OutboxStatus.PENDING
    assert DBTaskResult.objects.filter(task_path=outbox_deliver.module_path, status="READY").count() == 1
    outbox_sweep()
    assert DBTaskResult.objects.filter(task_path=outbox_deliver.module_path, status="READY").count() == 1


def test_delivery_task_delivers() -> None:
    sms()
    result = outbox_deliver.call()
    assert result == {"sent": 1, "retried": 0, "failed": 0, "reconcile": 0}


# --- HTTP SMS provider --------------------------------------------------------------------------------


def test_http_sms_provider_gets_json_and_idempotency_key(sms_provider: FakeProvider) -> None:
    message = sms("otp:42")
    outbox_deliver_due(worker="w1")
    message.refresh_from_db()
    [request] = sms_provider.received
    assert request.body == {
        "to": "+77010000001",
        "text": "Your visit is at 10:00",
        "dedupe_key": "otp:42",
        "id": message.pk,
    }
    assert request.headers["idempotency-key"] == "otp:42"
    assert (message.status, message.provider_message_id) == (OutboxStatus.SENT, "fake-1")


@pytest.mark.parametrize("status", [429, 500, 503])
def test_http_sms_busy_or_broken_provider_means_retry_with_backoff(sms_provider: FakeProvider, status: int) -> None:
    # given a provider that answers 429 / 5xx
    sms_provider.reply = lambda request, n: (status, {"error": "busy"}, {})
    message = sms()
    before = timezone.now()
    # when delivery runs
    report = outbox_deliver_due(worker="w1")
    # then the message waits for another attempt later (not sent, not failed)
    message.refresh_from_db()
    assert report.retried == 1
    assert (message.status, message.attempts, message.claimed_by) == (OutboxStatus.PENDING, 1, "")
    assert message.next_attempt_at > before + timedelta(seconds=4)
    assert f"HTTP {status}" in message.last_error


def test_http_sms_retry_after_header_is_honoured(sms_provider: FakeProvider) -> None:
    sms_provider.reply = lambda request, n: (429, {}, {"Retry-After": "120"})
    message = sms()
    before = timezone.now()
    outbox_deliver_due(worker="w1")
    message.refresh_from_db()
    assert message.next_attempt_at >= before + timedelta(seconds=120)


def test_http_sms_4xx_is_a_permanent_failure(sms_provider: FakeProvider) -> None:
    sms_provider.reply = lambda request, n: (400, {"error": "invalid number"}, {})
    message = sms(sensitive=True)
    outbox_deliver_due(worker="w1")
    message.refresh_from_db()
    assert (message.status, message.attempts, message.body) == (OutboxStatus.FAILED, 1, "")
    assert len(sms_provider.received) == 1


def test_retries_stop_at_max_attempts(sms_provider: FakeProvider) -> None:
    # given a provider that is always down and a message allowed 3 attempts
    sms_provider.reply = lambda request, n: (503, {}, {})
    message = sms()
    OutboxMessage.objects.filter(pk=message.pk).update(max_attempts=3)
    # when delivery runs whenever the message is due again
    for _ in range(5):
        OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.PENDING).update(next_attempt_at=timezone.now())
        outbox_deliver_due(worker="w1")
    # then it was tried exactly 3 times and gave up
    message.refresh_from_db()
    assert (message.status, message.attempts, len(sms_provider.received)) == (OutboxStatus.FAILED, 3, 3)


def test_unreachable_provider_is_a_temporary_failure(settings: Any) -> None:
    # given a gateway URL nobody listens on (the request never left)
    provider = FakeProvider().start()
    url = provider.url
    provider.stop()
    settings.SMS_BACKEND, settings.SMS_HTTP_URL = "http", url
    message = sms()
    outbox_deliver_due(worker="w1")
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)


def test_timeout_after_the_request_was_sent_means_reconcile(sms_provider: FakeProvider, monkeypatch: Any) -> None:
    # given a provider that takes longer than our read time-out: it may well have sent the SMS
    import httpx

    import backend.notifications.backends as backends

    monkeypatch.setattr(backends, "HTTP_TIMEOUT", httpx.Timeout(0.2, connect=1.0))
    sms_provider.delay = 1.0
    message = sms()
    # when delivery runs
    report = outbox_deliver_due(worker="w1")
    # then the message is flagged for reconciliation instead of being retried (a retry could double-send)
    message.refresh_from_db()
    assert report.reconcile == 1
    assert message.status == OutboxStatus.RECONCILE
    outbox_deliver_due(worker="w1")
    assert len(sms_provider.received) == 1


def test_slow_send_flagged_meanwhile_is_settled_as_sent(sms_provider: FakeProvider) -> None:
    # given a worker that claimed a message, and a sweep that flagged it while the provider was slow
    message = sms()
    claimed = message_claim(worker="w1")
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxStatus.RECONCILE)
    # when the provider finally accepts it
    from backend.notifications.dispatch import message_deliver

    assert claimed is not None
    message_deliver(claimed, worker="w1")
    # then the worker, knowing the outcome, settles it
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT


# --- file and console SMS, e-mail ---------------------------------------------------------------------


def test_file_sms_backend_appends_json_lines(settings: Any, tmp_path: Path) -> None:
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = str(tmp_path / "sms.log")
    sms("a")
    sms("b")
    outbox_deliver_due(worker="w1")
    lines = [json.loads(line) for line in (tmp_path / "sms.log").read_text().splitlines()]
    assert [(line["to"], line["dedupe_key"]) for line in lines] == [("+77010000001", "a"), ("+77010000001", "b")]


def test_console_sms_backend_logs_masked_phone_and_hides_sensitive_body(settings: Any, caplog: Any) -> None:
    settings.SMS_BACKEND = "console"
    message_enqueue(
        channel=Channel.SMS, recipient="+77011234567", body="Login code 5821", dedupe_key="otp:1", sensitive=True
    )
    with caplog.at_level("INFO", logger="brigada.outbox"):
        outbox_deliver_due(worker="w1")
    text = caplog.text
    assert "+77*******67" in text
    assert "+77011234567" not in text and "5821" not in text


def test_email_goes_through_django_mail() -> None:
    from django.core import mail

    message_enqueue(
        channel=Channel.EMAIL,
        recipient="owner@example.com",
        subject="Report",
        body="Weekly report",
        dedupe_key="report:1",
    )
    outbox_deliver_due(worker="w1")
    assert [(m.subject, m.to) for m in mail.outbox] == [("Report", ["owner@example.com"])]
    assert OutboxMessage.objects.get().status == OutboxStatus.SENT


# --- transactions -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_for_a_rolled_back_change() -> None:
    # given a business change that enqueues a message and then fails
    with pytest.raises(RuntimeError), transaction.atomic():
        sms("booking:1:confirmation")
        raise RuntimeError("the booking failed")
    # when delivery runs
    outbox_deliver_due(worker="w1")
    # then there is no message, no delivery task, and nothing reached a provider
    assert OutboxMessage.objects.count() == 0
    assert DBTaskResult.objects.count() == 0
    assert outbox_memory == []


@pytest.mark.django_db(transaction=True)
def test_committed_change_queues_one_delivery_task_after_commit() -> None:
    # given a change that enqueues two messages
    with transaction.atomic():
        sms("a")
        sms("b")
        # nothing is queued before the commit
        assert DBTaskResult.objects.count() == 0
    # then one delivery task waits after the commit, and running it delivers both
    [task_row] = DBTaskResult.objects.all()
    assert (task_row.task_path, task_row.queue_name, task_row.status) == (outbox_deliver.module_path, "outbox", "READY")
    assert outbox_deliver.call()["sent"] == 2
