"""Retention: hourly housekeeping purges expired idempotency records, old task rows and old one-time codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from backend.accounts.models import OtpChallenge
from backend.core.models import IdempotencyRecord
from backend.core.services import housekeeping_run

pytestmark = pytest.mark.django_db


def test_housekeeping_purges_only_what_is_past_retention() -> None:
    now = timezone.now()
    old = IdempotencyRecord.objects.create(scope="user:1 /x", key="old", request_hash="h")
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=now - timedelta(hours=49))
    IdempotencyRecord.objects.create(scope="user:1 /x", key="fresh", request_hash="h")
    OtpChallenge.objects.create(phone="+77011234567", code_hash="x" * 64, expires_at=now - timedelta(days=9))
    OtpChallenge.objects.filter(phone="+77011234567").update(created_at=now - timedelta(days=9))

    report = housekeeping_run()

    assert report["idempotency_purge"] == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
    assert report["otp_challenges_purge"] == 1
    assert report["task_results_purge"] == 0
    assert DBTaskResult.objects.count() == 0
