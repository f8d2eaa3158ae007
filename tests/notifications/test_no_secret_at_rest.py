"""No secret at rest: a one-time code is never stored in clear, in any table, in any state of its message.

Each case requests a real code through the API, drives its outbox message into one state with the real
dispatcher (fake providers only at the HTTP border) and scans every column of every table, the task queue's
included, for the clear code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from backend.notifications.backends import OutcomeUnknown, outbox_memory
from backend.notifications.dispatch import message_claim, outbox_deliver_due, outbox_sweep
from backend.notifications.models import OutboxMessage, OutboxStatus
from backend.notifications.services import message_cancel, message_enqueue, message_mark_sent, message_resend
from backend.notifications.tasks import outbox_deliver
from tests.factories import UserFactory

from .at_rest import rows_holding
from .fakes import FakeProvider, Received, Reply

pytestmark = pytest.mark.django_db

PHONE = "+77017654321"


class _Undo(Exception):
    pass


def _code_as_the_provider_sees_it() -> str:
    """Deliver the pending code inside a transaction that is then rolled back.

    The memory SMS backend keeps the text it was handed; the database forgets the attempt. So the test learns the
    code the way a phone would, without reading it from storage, and the message stays as it was.
    """
    try:
        with transaction.atomic():
            assert outbox_deliver_due(worker="peek").sent == 1
            raise _Undo
    except _Undo:
        pass
    match = re.search(r"\b(\d{6})\b", outbox_memory.pop().body)
    assert match
    return match.group(1)


@pytest.fixture
def request_code(django_capture_on_commit_callbacks: Any) -> Callable[[], tuple[str, OutboxMessage]]:
    """Request a code through the API, with its after-commit hooks run (so the delivery task row exists too)."""

    def request() -> tuple[str, OutboxMessage]:
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post("/api/v1/auth/otp/request", {"phone": PHONE}, content_type="application/json")
        assert response.status_code == 202
        assert DBTaskResult.objects.filter(task_path=outbox_deliver.module_path).exists()
        return _code_and_its_message()

    return request


def _code_and_its_message() -> tuple[str, OutboxMessage]:
    code = _code_as_the_provider_sees_it()
    message = OutboxMessage.objects.get()
    assert message.status == OutboxStatus.PENDING and message.attempts == 0
    return code, message


def _replying(reply: Callable[[Received, int], Reply], settings: Any) -> FakeProvider:
    provider = FakeProvider(reply=reply).start()
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_URL = provider.url + "/sms"
    return provider


class TimedOutAfterSending:
    """An SMS backend whose request went out and whose answer never came (a read time-out)."""

    def send(self, message: OutboxMessage) -> Any:
        raise OutcomeUnknown("read timeout after sending")


def _pending(message: OutboxMessage, settings: Any) -> None:
    pass


def _pending_after_a_failed_try(message: OutboxMessage, settings: Any) -> None:
    provider = _replying(lambda request, n: (503, {}, {}), settings)
    try:
        assert outbox_deliver_due(worker="w1").retried == 1
    finally:
        provider.stop()


def _sending(message: OutboxMessage, settings: Any) -> None:
    assert message_claim(worker="w1") is not None


def _sent(message: OutboxMessage, settings: Any) -> None:
    assert outbox_deliver_due(worker="w1").sent == 1


def _failed_refused(message: OutboxMessage, settings: Any) -> None:
    provider = _replying(lambda request, n: (400, {"error": "bad number"}, {}), settings)
    try:
        assert outbox_deliver_due(worker="w1").failed == 1
    finally:
        provider.stop()


def _failed_gave_up(message: OutboxMessage, settings: Any) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(max_attempts=1)
    provider = _replying(lambda request, n: (503, {}, {}), settings)
    try:
        assert outbox_deliver_due(worker="w1").failed == 1
    finally:
        provider.stop()


def _reconcile_outcome_unknown(message: OutboxMessage, settings: Any) -> None:
    settings.SMS_BACKEND = f"{__name__}.TimedOutAfterSending"
    assert outbox_deliver_due(worker="w1").reconcile == 1


def _reconcile_found_stuck(message: OutboxMessage, settings: Any) -> None:
    assert message_claim(worker="w1") is not None  # ... and the worker died
    OutboxMessage.objects.filter(pk=message.pk).update(sending_started_at=timezone.now() - timedelta(hours=1))
    assert outbox_sweep()["reconcile"] == 1


def _sent_marked_by_operator(message: OutboxMessage, settings: Any) -> None:
    _reconcile_found_stuck(message, settings)
    assert message_mark_sent(message_ids=[message.pk], actor=UserFactory(is_superuser=True)) == 1


def _cancelled_expired(message: OutboxMessage, settings: Any) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    outbox_deliver_due(worker="w1")


def _cancelled_expired_by_sweep(message: OutboxMessage, settings: Any) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert outbox_sweep()["expired"] == 1


def _cancelled_by_operator(message: OutboxMessage, settings: Any) -> None:
    assert message_cancel(message_ids=[message.pk], actor=UserFactory(is_superuser=True)) == 1


STATES: dict[str, tuple[Callable[[OutboxMessage, Any], None], str]] = {
    "pending": (_pending, OutboxStatus.PENDING),
    "pending after a failed try": (_pending_after_a_failed_try, OutboxStatus.PENDING),
    "sending": (_sending, OutboxStatus.SENDING),
    "sent": (_sent, OutboxStatus.SENT),
    "failed: refused": (_failed_refused, OutboxStatus.FAILED),
    "failed: gave up": (_failed_gave_up, OutboxStatus.FAILED),
    "reconcile: outcome unknown": (_reconcile_outcome_unknown, OutboxStatus.RECONCILE),
    "reconcile: found stuck": (_reconcile_found_stuck, OutboxStatus.RECONCILE),
    "sent: marked by operator": (_sent_marked_by_operator, OutboxStatus.SENT),
    "cancelled: expired": (_cancelled_expired, OutboxStatus.CANCELLED),
    "cancelled: expired by sweep": (_cancelled_expired_by_sweep, OutboxStatus.CANCELLED),
    "cancelled: by operator": (_cancelled_by_operator, OutboxStatus.CANCELLED),
}
STILL_TO_SEND = (OutboxStatus.PENDING, OutboxStatus.SENDING)


@pytest.mark.parametrize("state", list(STATES))
def test_the_clear_code_is_in_no_column_of_any_table(state: str, settings: Any, request_code: Any) -> None:
    # given a code requested through the API
    code, message = request_code()
    drive, status = STATES[state]

    # when its message reaches the state
    drive(message, settings)

    # then the code is nowhere in the database
    message.refresh_from_db()
    assert message.status == status
    assert rows_holding(code) == []
    if status not in STILL_TO_SEND:
        # and a message that is not sent again keeps neither the sealed code nor its text
        assert (message.sealed_secret, message.body, message.payload) == ("", "", {})


def test_the_code_still_reaches_the_phone(request_code: Any) -> None:
    # given a code requested through the API
    code, message = request_code()

    # when it is delivered
    outbox_deliver_due(worker="w1")

    # then the provider got the text with the code, and the row kept none of it
    assert len(outbox_memory) == 1 and code in outbox_memory[0].body
    assert "Brigada code" in outbox_memory[0].body
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT and message.sealed_secret == ""


def test_a_retry_after_a_failed_try_sends_the_same_code(settings: Any, request_code: Any) -> None:
    # given a code whose first send failed temporarily
    code, message = request_code()
    _pending_after_a_failed_try(message, settings)
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    settings.SMS_BACKEND = "memory"

    # when delivery runs again
    outbox_deliver_due(worker="w2")

    # then the phone gets the same code
    assert [code in sent.body for sent in outbox_memory] == [True]


def test_a_code_sealed_under_a_rotated_key_still_goes_out_with_the_old_key_as_fallback(
    settings: Any, request_code: Any
) -> None:
    # given a queued code, then a SECRET_KEY rotation that keeps the old key as a fallback
    code, _message = request_code()
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-" + "x" * 50

    # when it is delivered
    outbox_deliver_due(worker="w1")

    # then the code arrives
    assert [code in sent.body for sent in outbox_memory] == [True]


def test_a_code_whose_key_is_gone_fails_and_never_sends_the_slot(settings: Any, request_code: Any) -> None:
    # given a queued code and a SECRET_KEY replaced without a fallback
    _code, message = request_code()
    settings.SECRET_KEY = "a-new-key-" + "y" * 50

    # when delivery runs
    report = outbox_deliver_due(worker="w1")

    # then nothing is sent, the message failed for good and is scrubbed
    message.refresh_from_db()
    assert report.failed == 1 and outbox_memory == []
    assert (message.status, message.sealed_secret, message.body) == (OutboxStatus.FAILED, "", "")
    assert "secret unavailable" in message.last_error


def test_a_scrubbed_code_cannot_be_resent_by_an_operator(settings: Any, request_code: Any) -> None:
    # given a code caught mid-send and flagged for reconciliation
    _code, message = request_code()
    _reconcile_found_stuck(message, settings)

    # when an operator tries to resend it
    resent = message_resend(message_ids=[message.pk], actor=UserFactory(is_superuser=True))

    # then nothing is queued: the user asks for a new code instead
    message.refresh_from_db()
    assert resent == 0 and message.status == OutboxStatus.RECONCILE


def test_a_secret_needs_its_slot_in_the_body() -> None:
    with pytest.raises(ValueError, match="SECRET_SLOT"):
        message_enqueue(channel="sms", recipient=PHONE, body="Your code: 123456", secret="123456", dedupe_key="x")
    assert not OutboxMessage.objects.exists()
