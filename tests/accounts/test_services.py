"""Service-level details that the API tests do not reach."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from backend.accounts.models import OtpChallenge
from backend.accounts.services import otp_challenges_purge, otp_request, rate_parse


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("5/h", (5, 3600)), ("30/10m", (30, 600)), ("100/day", (100, 86400)), (" 2 / s ", (2, 1))],
)
def test_rate_parse(rate: str, expected: tuple[int, int]) -> None:
    assert rate_parse(rate) == expected


@pytest.mark.parametrize("rate", ["5", "h/5", "5/w", ""])
def test_rate_parse_refuses_nonsense(rate: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        rate_parse(rate)


@pytest.mark.django_db
def test_purge_deletes_old_codes_but_keeps_those_the_limits_still_count() -> None:
    # given: codes from 8 days, 2 hours and now
    for phone in ("+77010000001", "+77010000002", "+77010000003"):
        otp_request(phone=phone, ip="10.0.0.1")
    now = timezone.now()
    OtpChallenge.objects.filter(phone="+77010000001").update(created_at=now - timedelta(days=8))
    OtpChallenge.objects.filter(phone="+77010000002").update(created_at=now - timedelta(hours=2))

    # when
    deleted = otp_challenges_purge()
    too_eager = otp_challenges_purge(before=now)

    # then: the week-old one goes; asking for "everything before now" still keeps the last hour
    assert deleted == 1
    assert too_eager == 1
    assert list(OtpChallenge.objects.values_list("phone", flat=True)) == ["+77010000003"]
