"""The worker runs the periodic sweeps the apps register in settings; core names none of them itself."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from backend.notifications.models import Channel, OutboxMessage, OutboxStatus
from backend.notifications.services import message_enqueue

SWEEPS: list[str] = []


def probe_sweep() -> dict[str, int]:
    SWEEPS.append("probe")
    return {"probed": 1}


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_exactly_the_registered_sweeps(settings) -> None:
    # given a probe registered as the only sweep, and an outbox message that has expired
    settings.BRIGADA_SWEEPS = ["tests.core.test_worker_sweeps.probe_sweep"]
    SWEEPS.clear()
    message, _ = message_enqueue(channel=Channel.SMS, recipient="+77010000001", body="hi", dedupe_key="sweep-probe")
    OutboxMessage.objects.filter(pk=message.pk).update(expires_at="2000-01-01T00:00:00Z")
    # when a worker makes one pass
    call_command("run_worker", "--once", "--queues", "default", "--worker-id", "sweep-probe")
    # then the probe ran, and the outbox sweep, no longer registered, did not
    assert SWEEPS == ["probe"]
    assert OutboxMessage.objects.get(pk=message.pk).status == OutboxStatus.PENDING


@pytest.mark.django_db(transaction=True)
def test_the_outbox_sweep_is_registered_by_default() -> None:
    message, _ = message_enqueue(channel=Channel.SMS, recipient="+77010000002", body="hi", dedupe_key="sweep-real")
    OutboxMessage.objects.filter(pk=message.pk).update(expires_at="2000-01-01T00:00:00Z")

    call_command("run_worker", "--once", "--queues", "default", "--worker-id", "sweep-real")

    assert OutboxMessage.objects.get(pk=message.pk).status == OutboxStatus.CANCELLED
