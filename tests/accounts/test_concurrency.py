"""Races that only a real database can show: parallel guesses, refreshes, sends and first logins (PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from django.db import connection

from backend.accounts.models import AuthToken, OtpChallenge, User
from backend.accounts.services import otp_request, otp_verify, user_get_or_create_by_phone
from backend.accounts.tokens import token_hash, token_pair_issue, token_refresh
from backend.core.exceptions import ApplicationError
from backend.notifications.models import OutboxMessage

from .helpers import sent_code, wrong_code

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PHONE = "+77017654321"
T = TypeVar("T")


def in_parallel(threads: int, action: Callable[[int], T]) -> list[T | ApplicationError]:
    """Run ``action(i)`` in ``threads`` threads released together; each thread uses its own connection."""
    barrier = threading.Barrier(threads)
    results: list[Any] = [None] * threads

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = action(i)
        except ApplicationError as exc:
            results[i] = exc
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, ApplicationError)]
    assert not unexpected, unexpected
    return results


def outcome(result: object) -> str:
    return result.code if isinstance(result, ApplicationError) else "ok"


def test_one_hundred_parallel_wrong_guesses_get_exactly_five_comparisons() -> None:
    # given: one open code
    otp_request(phone=PHONE, ip="10.0.0.1")
    code = sent_code(PHONE)
    wrong = wrong_code(code)

    # when: 100 wrong guesses from 50 threads (two each) released together, each thread on its own connection;
    # 50 keeps the shared CI server below max_connections while other suites run
    def guess_twice(_: int) -> list[str]:
        answers = []
        for _attempt in range(2):
            try:
                otp_verify(phone=PHONE, code=wrong)
                answers.append("ok")
            except ApplicationError as exc:
                answers.append(exc.code)
        return answers

    results = in_parallel(50, guess_twice)

    # then: the database compared exactly five guesses and refused the other 95 without comparing
    answers = Counter(answer for result in results if isinstance(result, list) for answer in result)
    assert answers == {"invalid_code": 5, "too_many_attempts": 95}
    assert OtpChallenge.objects.get(phone=PHONE).attempts == 5
    with pytest.raises(ApplicationError) as refused:
        otp_verify(phone=PHONE, code=code)
    assert refused.value.code == "too_many_attempts"
    assert not User.objects.filter(phone=PHONE).exists()
    assert AuthToken.objects.count() == 0


def test_parallel_verifies_with_the_right_code_log_in_once() -> None:
    # given
    otp_request(phone=PHONE, ip="10.0.0.1")
    code = sent_code(PHONE)

    # when
    results = in_parallel(10, lambda _: otp_verify(phone=PHONE, code=code))

    # then
    outcomes = Counter(outcome(r) for r in results)
    assert outcomes["ok"] == 1
    assert set(outcomes) <= {"ok", "code_expired", "too_many_attempts"}
    assert User.objects.filter(phone=PHONE).count() == 1
    assert AuthToken.objects.count() == 2


def test_parallel_refreshes_of_one_refresh_token_yield_exactly_one_new_pair() -> None:
    # given
    user = User.objects.create_user(phone=PHONE)
    pair = token_pair_issue(user=user)
    family = AuthToken.objects.get(token_hash=token_hash(pair.refresh_token)).family

    # when
    results = in_parallel(20, lambda _: token_refresh(refresh_token=pair.refresh_token))

    # then: one winner; the 19 others look exactly like a replayed token, so (strict reuse detection) the
    # session ends for everyone: clients must refresh from one place at a time
    assert Counter(outcome(r) for r in results) == {"ok": 1, "invalid_refresh_token": 19}
    assert AuthToken.objects.filter(family=family).count() == 4
    assert not AuthToken.objects.filter(family=family, revoked_at__isnull=True).exists()


def test_parallel_requests_for_one_phone_respect_the_send_limit_exactly(settings: Any) -> None:
    # given
    settings.BRIGADA_OTP_SEND_PER_PHONE = "5/h"

    # when
    results = in_parallel(20, lambda i: otp_request(phone=PHONE, ip=f"10.0.0.{i + 1}"))

    # then
    assert Counter(outcome(r) for r in results) == {"ok": 5, "throttled": 15}
    assert OtpChallenge.objects.filter(phone=PHONE).count() == 5
    assert OutboxMessage.objects.filter(dedupe_key__startswith="otp:").count() == 5
    assert OtpChallenge.objects.filter(phone=PHONE, superseded_at__isnull=True).count() == 1


def test_parallel_requests_from_one_ip_respect_the_send_limit_exactly(settings: Any) -> None:
    # given
    settings.BRIGADA_OTP_SEND_PER_IP = "5/h"

    # when
    results = in_parallel(20, lambda i: otp_request(phone=f"+7701000{i:04d}", ip="10.9.9.9"))

    # then
    assert Counter(outcome(r) for r in results) == {"ok": 5, "throttled": 15}
    assert OtpChallenge.objects.filter(ip="10.9.9.9").count() == 5


def test_parallel_first_logins_create_one_user() -> None:
    # when
    results = in_parallel(10, lambda _: user_get_or_create_by_phone(phone=PHONE))

    # then
    assert User.objects.filter(phone=PHONE).count() == 1
    created = [r for r in results if isinstance(r, tuple) and r[1]]
    assert len(created) == 1
