"""Back-office sign-in: wrong passwords lock the account (and the IP); the lock is race-safe and in the log."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from backend.accounts.lockout import admin_login_attempt_start, admin_login_failed
from backend.accounts.models import LoginThrottle, User
from backend.core.exceptions import Throttled
from backend.core.models import Event, EventAction

PASSWORD = "Right-passphrase-1"
PHONE = "+77017654321"


@pytest.fixture
def staff() -> User:
    return User.objects.create_user(phone=PHONE, password=PASSWORD, is_staff=True, is_superuser=True)


def sign_in(username: str, password: str, ip: str = "203.0.113.7") -> Any:
    return Client(REMOTE_ADDR=ip).post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})


def signed_in(response: Any) -> bool:
    return response.status_code == 302 and response.url == "/admin/"


def lockouts() -> list[Event]:
    return list(Event.objects.filter(action=EventAction.LOCKOUT).order_by("id"))


@pytest.mark.django_db
def test_five_wrong_passwords_lock_the_account_even_against_the_right_password(staff: User) -> None:
    # given
    for _ in range(5):
        assert not signed_in(sign_in(PHONE, "wrong"))

    # when
    response = sign_in(PHONE, PASSWORD)

    # then
    assert not signed_in(response)
    assert "this account is locked" in response.text and "Try again in 15 min" in response.text
    [event] = lockouts()
    assert (event.entity_type, event.entity_id, event.actor) == ("accounts.user", str(staff.pk), None)
    assert event.after is not None and event.after["scope"] == "account" and event.after["failures"] == 5


@pytest.mark.django_db
def test_the_lock_covers_other_spellings_of_the_phone_and_ends_after_its_time(staff: User) -> None:
    # given
    for _ in range(5):
        sign_in("+7 701 765 43 21", "wrong", ip=f"198.51.100.{_}")
    assert not signed_in(sign_in(PHONE, PASSWORD, ip="198.51.100.99"))

    # when: the 15 minutes have passed
    LoginThrottle.objects.filter(scope="account").update(locked_until=timezone.now() - timedelta(seconds=1))

    # then
    assert signed_in(sign_in(PHONE, PASSWORD))
    assert len(lockouts()) == 1


@pytest.mark.django_db
def test_a_success_clears_the_account_count(staff: User) -> None:
    # given
    for _ in range(4):
        sign_in(PHONE, "wrong")
    assert signed_in(sign_in(PHONE, PASSWORD))

    # when
    for _ in range(4):
        sign_in(PHONE, "wrong")

    # then
    assert signed_in(sign_in(PHONE, PASSWORD))
    assert lockouts() == []


@pytest.mark.django_db
def test_twenty_failures_from_one_ip_lock_that_ip_for_every_account(staff: User) -> None:
    # given: 20 wrong passwords spread over 5 made-up accounts, below each account's limit
    for n in range(20):
        sign_in(f"+7701000{n % 5:04d}", "wrong", ip="192.0.2.50")

    # when
    from_there = sign_in(PHONE, PASSWORD, ip="192.0.2.50")
    from_elsewhere = sign_in(PHONE, PASSWORD, ip="192.0.2.51")

    # then
    assert not signed_in(from_there) and "from your network" in from_there.text
    assert signed_in(from_elsewhere)
    [event] = lockouts()
    assert event.entity_type == "accounts.loginthrottle" and event.after is not None
    assert event.after["key"] == "192.0.2.50"


@pytest.mark.django_db
def test_an_unknown_phone_is_throttled_like_a_known_one() -> None:
    # given
    for _ in range(5):
        sign_in("+77019999999", "guess")

    # when
    response = sign_in("+77019999999", "guess")

    # then: the same answer as for a real account, so the lock reveals nothing
    assert "this account is locked" in response.text
    [event] = lockouts()
    assert event.entity_type == "accounts.loginthrottle"


@pytest.mark.django_db
def test_a_locked_attempt_changes_nothing(staff: User) -> None:
    # given
    for _ in range(5):
        sign_in(PHONE, "wrong")
    rows = list(LoginThrottle.objects.order_by("pk").values())
    events = Event.objects.count()

    # when
    with pytest.raises(Throttled):
        admin_login_attempt_start(username=PHONE, ip="203.0.113.7")

    # then
    assert list(LoginThrottle.objects.order_by("pk").values()) == rows
    assert Event.objects.count() == events


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_guesses_check_at_most_five_passwords_and_lock_once(staff: User) -> None:
    # given
    threads_count = 30
    barrier = threading.Barrier(threads_count)
    checked: list[int] = []
    refused: list[int] = []

    def guess(n: int) -> None:
        try:
            barrier.wait()
            try:
                attempt = admin_login_attempt_start(username=PHONE, ip=f"10.0.{n}.1")
            except Throttled:
                refused.append(n)
                return
            checked.append(n)  # here the real form would test the password
            admin_login_failed(attempt=attempt)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=guess, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert len(checked) == 5 and len(refused) == threads_count - 5
    assert len(lockouts()) == 1
    assert LoginThrottle.objects.get(scope="account").locked_until is not None


@pytest.mark.django_db
def test_a_superuser_lifts_a_lock_in_the_admin_and_the_event_log_says_who(staff: User) -> None:
    # given
    for _ in range(5):
        sign_in(PHONE, "wrong")
    root = User.objects.create_superuser(phone="+77010000099", password="admin-pass-123")
    operator = Client()
    operator.force_login(root)
    lock = LoginThrottle.objects.get(scope="account")

    # when
    response = operator.post("/admin/accounts/loginthrottle/", {"action": "unlock", "_selected_action": [lock.pk]})

    # then
    assert response.status_code == 302
    assert signed_in(sign_in(PHONE, PASSWORD))
    [event] = Event.objects.filter(entity_type="accounts.loginthrottle", note="sign-in lock lifted by operator")
    assert event.actor == root
