"""Back-office sign-in: wrong passwords lock the account (and the IP); the lock is race-safe and in the log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from backend.accounts.lockout import admin_login_attempt_start, admin_login_failed, admin_login_succeeded
from backend.accounts.models import LoginThrottle, User
from backend.core.exceptions import Throttled
from backend.core.models import Event, EventAction
from tests.notifications.at_rest import rows_holding

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


class Clock:
    """The time every ``timezone.now()`` call sees (the lockout module's included), moved by the test."""

    def __init__(self) -> None:
        self.start = self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: float) -> None:
        """Set the time to ``minutes`` after the start."""
        self.now = self.start + timedelta(minutes=minutes)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(timezone, "now", fake)
    yield fake


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
def test_the_lock_covers_other_spellings_of_the_phone_and_ends_after_its_time(staff: User, clock: Clock) -> None:
    # given
    for _ in range(5):
        sign_in("+7 701 765 43 21", "wrong", ip=f"198.51.100.{_}")
    clock.at(14.9)
    assert not signed_in(sign_in(PHONE, PASSWORD, ip="198.51.100.99"))

    # when: the 15 minutes have passed
    clock.at(15.1)

    # then
    assert signed_in(sign_in(PHONE, PASSWORD))
    assert len(lockouts()) == 1


@pytest.mark.django_db
def test_a_lock_set_late_in_the_window_lasts_its_full_time(staff: User, clock: Clock) -> None:
    # given: one wrong password at 0:00 opens the window; four more at 14:00 lock the account until 29:00
    sign_in(PHONE, "wrong")
    clock.at(14)
    for _ in range(4):
        sign_in(PHONE, "wrong")
    [event] = lockouts()

    # when: the window has ended, the lock has not
    clock.at(15.5)
    during = sign_in(PHONE, PASSWORD)
    clock.at(28.9)
    still = sign_in(PHONE, PASSWORD)
    clock.at(29.1)
    after = sign_in(PHONE, PASSWORD)

    # then
    assert not signed_in(during) and "this account is locked" in during.text and "Try again in 14 min" in during.text
    assert not signed_in(still) and "this account is locked" in still.text
    assert signed_in(after)
    assert len(lockouts()) == 1 and event.after is not None


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["account", "ip"])
def test_a_lockout_longer_than_the_window_is_served_in_full(
    staff: User, clock: Clock, settings: Any, scope: str
) -> None:
    # given: an hour's lock, four times the 15-minute counting window
    settings.BRIGADA_ADMIN_LOCKOUT_SECONDS = 3600
    if scope == "account":
        for _ in range(5):
            sign_in(PHONE, "wrong", ip="198.51.100.1")
    else:
        for n in range(20):
            sign_in(f"+7701000{n % 5:04d}", "wrong", ip="203.0.113.7")

    # when
    answers = {}
    for minutes in (16, 31, 59.9, 60.1):
        clock.at(minutes)
        answers[minutes] = signed_in(sign_in(PHONE, PASSWORD, ip="203.0.113.7"))

    # then
    assert answers == {16: False, 31: False, 59.9: False, 60.1: True}
    [event] = lockouts()
    assert event.after is not None and event.after["scope"] == scope


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
def test_one_staff_login_interleaved_with_guesses_gains_the_ip_no_tries(staff: User) -> None:
    # given: 19 wrong passwords on other accounts (each below its own limit), then the guesser's own good login
    for n in range(19):
        sign_in(f"+7701000{n % 5:04d}", "wrong", ip="192.0.2.50")

    # when: good logins between every further guess
    outcomes = []
    for n in range(10):
        assert signed_in(sign_in(PHONE, PASSWORD, ip="192.0.2.50")) or n > 0
        outcomes.append(sign_in(f"+7701001{n % 5:04d}", "wrong", ip="192.0.2.50"))

    # then: the 20th failure locked the IP; every later try, good or bad, is refused
    assert ["from your network" in r.text for r in outcomes] == [False] + [True] * 9
    assert not signed_in(sign_in(PHONE, PASSWORD, ip="192.0.2.50"))
    [event] = lockouts()
    assert event.after is not None and event.after["key"] == "192.0.2.50" and event.after["failures"] == 20


@pytest.mark.django_db
def test_successes_spent_in_one_window_give_nothing_back_in_the_next(staff: User, clock: Clock) -> None:
    # given: slow good logins that spent their IP try in the old window finish after a new one began
    admin_login_failed(attempt=admin_login_attempt_start(username="+77010000099", ip="192.0.2.60"))  # opens it
    clock.at(14.9)
    pending = [admin_login_attempt_start(username=PHONE, ip="192.0.2.60") for _ in range(5)]
    clock.at(15.1)
    for n in range(20):
        attempt = admin_login_attempt_start(username=f"+7701000{n % 5:04d}", ip="192.0.2.60")
        admin_login_failed(attempt=attempt)
        if n == 9:
            for good in pending:
                admin_login_succeeded(attempt=good)

    # when
    with pytest.raises(Throttled) as refused:
        admin_login_attempt_start(username=f"+7701000{9:04d}", ip="192.0.2.60")

    # then: 20 failures in the new window, whatever the successes, and the IP is locked
    assert refused.value.code == "network_locked"
    ip_row = LoginThrottle.objects.get(scope="ip", key="192.0.2.60")
    assert ip_row.failures == 20 and ip_row.locked_until is not None


@pytest.mark.django_db
def test_text_typed_as_the_username_is_kept_nowhere(staff: User) -> None:
    # given: a password typed into the phone field, five times
    typed = "Tr0ub4dor&3-Horse"

    # when
    for _ in range(5):
        sign_in(typed, PASSWORD)
    locked = sign_in(typed, PASSWORD)

    # then: locked like any account, and neither the text nor its lower-cased form is in any column of any table
    assert "this account is locked" in locked.text
    assert rows_holding(typed) == [] and rows_holding(typed.lower()) == []
    [row] = LoginThrottle.objects.filter(scope="account")
    assert row.key.startswith("hmac:") and len(row.key) <= 64
    [event] = lockouts()
    assert event.after is not None and event.after["key_kind"] == "hash" and event.after["key"] == row.key
    assert typed.lower() not in json.dumps(event.after).lower()


@pytest.mark.django_db
def test_the_event_names_the_user_not_the_phone_typed(staff: User) -> None:
    # when
    for _ in range(5):
        sign_in("+7 701 765 43 21", "wrong")

    # then
    [event] = lockouts()
    assert event.after is not None and event.after["user_id"] == staff.pk and "key" not in event.after


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
    assert event.after is not None and (event.after["key_kind"], event.after["key"]) == ("phone", "+77*******99")


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


@pytest.mark.django_db
def test_a_superuser_finds_a_hashed_key_by_the_text_typed(staff: User) -> None:
    # given
    for _ in range(2):
        sign_in("not-a-phone", "wrong")
        sign_in("+77019999999", "wrong")
    operator = Client()
    operator.force_login(staff)

    # when
    by_text = operator.get("/admin/accounts/loginthrottle/", {"q": "  Not-A-Phone "})
    by_spelling = operator.get("/admin/accounts/loginthrottle/", {"q": "+7 701 999 99 99"})

    # then
    [hashed] = LoginThrottle.objects.filter(key__startswith="hmac:")
    assert [row.pk for row in by_text.context["cl"].result_list] == [hashed.pk]
    assert [row.key for row in by_spelling.context["cl"].result_list] == ["+77019999999"]
