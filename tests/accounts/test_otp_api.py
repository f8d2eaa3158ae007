"""One-time-code login through the API: request, verify, limits, and the same answer for any phone."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

import phonenumbers
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from backend.accounts.models import AuthToken, OtpChallenge, User
from backend.core.models import Event, EventAction
from backend.notifications.models import OutboxMessage
from tests.factories import UserFactory
from tests.notifications.at_rest import rows_holding

from .helpers import sent_code, sent_message, wrong_code

pytestmark = pytest.mark.django_db

REQUEST = "/api/v1/auth/otp/request"
VERIFY = "/api/v1/auth/otp/verify"
PHONE = "+77017654321"


def post(path: str, body: dict[str, Any], **extra: Any) -> Any:
    return Client().post(path, data=body, content_type="application/json", **extra)


def state() -> tuple[int, int, int, int]:
    """Row counts that a refused request must leave unchanged."""
    return (
        User.objects.count(),
        AuthToken.objects.count(),
        OtpChallenge.objects.count(),
        OutboxMessage.objects.count(),
    )


def test_request_for_unknown_phone_sends_an_sms_and_creates_no_user() -> None:
    # when
    response = post(REQUEST, {"phone": PHONE})

    # then
    assert response.status_code == 202
    assert response.json() == {"sent": True, "expires_in": settings.BRIGADA_OTP_TTL, "retry_after": None}
    assert not User.objects.filter(phone=PHONE).exists()
    challenge = OtpChallenge.objects.get(phone=PHONE)
    message = sent_message(PHONE)
    assert (message.channel, message.recipient, message.sensitive) == ("sms", PHONE, True)
    assert message.expires_at == challenge.expires_at
    assert challenge.expires_at - challenge.created_at <= timedelta(minutes=10)


def test_code_is_stored_only_as_its_hmac() -> None:
    # when
    post(REQUEST, {"phone": PHONE})

    # then
    code = sent_code(PHONE)
    challenge = OtpChallenge.objects.get(phone=PHONE)
    expected = hmac.new(settings.SECRET_KEY.encode(), f"brigada.otp:{PHONE}:{code}".encode(), hashlib.sha256)
    assert challenge.code_hash == expected.hexdigest()
    stored = " ".join(str(v) for v in OtpChallenge.objects.values().get())
    assert code not in stored.replace(challenge.code_hash, "")
    # ... and in clear nowhere else either: every column of every table, the outbox and the task queue included
    # (each outbox state is scanned in tests/notifications/test_no_secret_at_rest.py)
    assert rows_holding(code) == []
    assert "Brigada code" in sent_message(PHONE).body and code not in sent_message(PHONE).body


def test_known_and_unknown_phones_get_the_same_answer() -> None:
    # given
    UserFactory(phone="+77010000001")

    # when
    known = post(REQUEST, {"phone": "+77010000001"})
    unknown = post(REQUEST, {"phone": "+77010000002"})

    # then
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert known["Content-Type"] == unknown["Content-Type"]


def test_a_user_with_telegram_gets_the_code_in_telegram() -> None:
    # given
    UserFactory(phone=PHONE, telegram_user_id=424242)

    # when
    response = post(REQUEST, {"phone": PHONE})

    # then
    assert response.status_code == 202
    message = sent_message(PHONE)
    assert (message.channel, message.recipient) == ("telegram", "424242")
    assert OtpChallenge.objects.get(phone=PHONE).channel == "telegram"


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "Brigada code"), ("ru", "Код Brigada"), ("kk", "Brigada коды")],
)
def test_the_message_is_in_the_requested_language(language: str, words: str) -> None:
    # when
    post(REQUEST, {"phone": PHONE, "language": language})

    # then
    assert words in sent_message(PHONE).body


def test_without_a_requested_language_the_message_uses_the_users_language() -> None:
    # given
    UserFactory(phone=PHONE, language="kk")

    # when
    post(REQUEST, {"phone": PHONE})

    # then
    assert "Brigada коды" in sent_message(PHONE).body


def test_for_an_unknown_phone_the_device_language_is_used() -> None:
    # when
    post(REQUEST, {"phone": PHONE}, HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9")

    # then
    assert "Код Brigada" in sent_message(PHONE).body
    assert OtpChallenge.objects.get(phone=PHONE).language == "ru"


def test_verify_with_the_right_code_creates_the_user_and_returns_tokens() -> None:
    # given
    post(REQUEST, {"phone": PHONE, "language": "kk"})

    # when
    response = post(VERIFY, {"phone": PHONE, "code": sent_code(PHONE)}, HTTP_USER_AGENT="BrigadaApp/1.0")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 15 * 60
    assert body["refresh_expires_in"] > body["expires_in"]
    user = User.objects.get(phone=PHONE)
    assert body["user"] == {
        "id": user.pk,
        "phone": PHONE,
        "first_name": "",
        "last_name": "",
        "email": "",
        "language": "kk",
        "telegram_linked": False,
    }
    assert user.last_login is not None
    assert not user.has_usable_password()
    me = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["phone"] == PHONE
    assert AuthToken.objects.filter(user=user, user_agent="BrigadaApp/1.0").count() == 2
    events = Event.objects.filter(entity_type="accounts.user", entity_id=str(user.pk))
    actions = list(events.values_list("action", flat=True))
    assert sorted(actions) == sorted([EventAction.CREATE, EventAction.LOGIN])
    assert OtpChallenge.objects.get(phone=PHONE).consumed_at is not None


def test_verify_for_an_existing_user_logs_that_user_in() -> None:
    # given
    user = User.objects.create_user(phone=PHONE)
    post(REQUEST, {"phone": PHONE})

    # when
    response = post(VERIFY, {"phone": PHONE, "code": sent_code(PHONE)})

    # then
    assert response.status_code == 200
    assert response.json()["user"]["id"] == user.pk
    assert User.objects.count() == 1


def test_a_phone_in_another_spelling_verifies_the_same_code() -> None:
    # given
    post(REQUEST, {"phone": "+7 (701) 765-43-21"})

    # when
    response = post(VERIFY, {"phone": "0077017654321", "code": sent_code(PHONE)})

    # then
    assert response.status_code == 200


def test_a_wrong_code_is_422_invalid_code_and_spends_one_attempt() -> None:
    # given
    post(REQUEST, {"phone": PHONE})
    before = state()

    # when
    response = post(VERIFY, {"phone": PHONE, "code": wrong_code(sent_code(PHONE))})

    # then
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_code"
    assert "code" in response.json()["error"]["fields"]
    assert OtpChallenge.objects.get(phone=PHONE).attempts == 1
    assert state() == before


def test_after_five_wrong_codes_even_the_right_one_is_refused() -> None:
    # given
    post(REQUEST, {"phone": PHONE})
    code = sent_code(PHONE)
    answers = [post(VERIFY, {"phone": PHONE, "code": wrong_code(code)}).json()["error"]["code"] for _ in range(5)]
    before = state()

    # when
    response = post(VERIFY, {"phone": PHONE, "code": code})

    # then
    assert answers == ["invalid_code"] * 5
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "too_many_attempts"
    assert OtpChallenge.objects.get(phone=PHONE).attempts == 5
    assert state() == before


def test_an_expired_code_is_refused() -> None:
    # given
    post(REQUEST, {"phone": PHONE})
    OtpChallenge.objects.filter(phone=PHONE).update(expires_at=timezone.now() - timedelta(seconds=1))
    before = state()

    # when
    response = post(VERIFY, {"phone": PHONE, "code": sent_code(PHONE)})

    # then
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "code_expired"
    assert OtpChallenge.objects.get(phone=PHONE).attempts == 0
    assert state() == before


def test_a_code_works_once() -> None:
    # given
    post(REQUEST, {"phone": PHONE})
    code = sent_code(PHONE)
    assert post(VERIFY, {"phone": PHONE, "code": code}).status_code == 200
    before = state()

    # when
    response = post(VERIFY, {"phone": PHONE, "code": code})

    # then
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "code_expired"
    assert state() == before


def test_a_new_request_supersedes_the_older_code() -> None:
    # given
    post(REQUEST, {"phone": PHONE})
    old = sent_code(PHONE)
    post(REQUEST, {"phone": PHONE})
    new = sent_code(PHONE)

    # when
    with_old = post(VERIFY, {"phone": PHONE, "code": old}) if old != new else None
    with_new = post(VERIFY, {"phone": PHONE, "code": new})

    # then
    if with_old is not None:
        assert with_old.status_code == 422
        assert with_old.json()["error"]["code"] == "invalid_code"
    assert with_new.status_code == 200
    assert OtpChallenge.objects.filter(phone=PHONE, superseded_at__isnull=False).count() == 1


def test_verify_without_a_request_does_not_reveal_whether_the_phone_exists() -> None:
    # given
    UserFactory(phone="+77010000001")
    before = state()

    # when
    known = post(VERIFY, {"phone": "+77010000001", "code": "123456"})
    unknown = post(VERIFY, {"phone": "+77010000002", "code": "123456"})

    # then
    assert known.status_code == unknown.status_code == 422
    assert known.json() == unknown.json()
    assert known.json()["error"]["code"] == "code_expired"
    assert state() == before


def test_a_disabled_user_gets_403_and_the_code_is_spent() -> None:
    # given
    UserFactory(phone=PHONE, is_active=False)
    post(REQUEST, {"phone": PHONE})
    code = sent_code(PHONE)

    # when
    response = post(VERIFY, {"phone": PHONE, "code": code})

    # then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_disabled"
    assert AuthToken.objects.count() == 0
    assert post(VERIFY, {"phone": PHONE, "code": code}).json()["error"]["code"] == "code_expired"


def test_the_per_phone_send_limit_answers_429_with_retry_after(settings: Any) -> None:
    # given
    settings.BRIGADA_OTP_SEND_PER_PHONE = "2/h"
    post(REQUEST, {"phone": PHONE})
    post(REQUEST, {"phone": PHONE})
    before = state()

    # when
    response = post(REQUEST, {"phone": PHONE})

    # then
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert 3500 <= int(response["Retry-After"]) <= 3601
    assert state() == before
    assert post(REQUEST, {"phone": "+77010000009"}).status_code == 202


def test_the_per_phone_limit_reopens_when_the_oldest_code_leaves_the_window(settings: Any) -> None:
    # given: two codes, the first sent 59 minutes ago
    settings.BRIGADA_OTP_SEND_PER_PHONE = "2/h"
    post(REQUEST, {"phone": PHONE})
    post(REQUEST, {"phone": PHONE})
    first = OtpChallenge.objects.filter(phone=PHONE).earliest("created_at")
    OtpChallenge.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=59))

    # when
    response = post(REQUEST, {"phone": PHONE})

    # then: about a minute to wait
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61


def test_the_per_ip_send_limit_counts_every_phone(settings: Any) -> None:
    # given
    settings.BRIGADA_OTP_SEND_PER_IP = "3/h"
    for n in range(3):
        assert post(REQUEST, {"phone": f"+7701000000{n}"}).status_code == 202
    before = state()

    # when
    response = post(REQUEST, {"phone": "+77010000009"})

    # then
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert state() == before
    assert post(REQUEST, {"phone": "+77010000009"}, REMOTE_ADDR="10.1.2.3").status_code == 202


def test_the_resend_cooldown_is_announced_and_enforced(settings: Any) -> None:
    # given
    settings.BRIGADA_OTP_RESEND_INTERVAL = 60
    first = post(REQUEST, {"phone": PHONE})
    before = state()

    # when
    second = post(REQUEST, {"phone": PHONE})

    # then
    assert first.json()["retry_after"] == 60
    assert second.status_code == 429
    assert 1 <= int(second["Retry-After"]) <= 61
    assert state() == before


def test_the_code_lifetime_is_capped_at_ten_minutes(settings: Any) -> None:
    # given
    settings.BRIGADA_OTP_TTL = 3600

    # when
    response = post(REQUEST, {"phone": PHONE})

    # then
    assert response.json()["expires_in"] == 600
    challenge = OtpChallenge.objects.get(phone=PHONE)
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("+77011234567", "KZ"),
        ("+79161234567", "RU"),
        ("+37491234567", "AM"),
        ("+375291234567", "BY"),
        ("+380501234567", "UA"),
        ("+37061234567", "LT"),
        ("+994501234567", "AZ"),
        ("+995555123456", "GE"),
        ("+7 (701) 123-45-67", "KZ"),
        ("00 7 916 123 45 67", "RU"),
    ],
)
def test_cis_and_baltic_phones_are_accepted_and_stored_as_e164(raw: str, region: str) -> None:
    # when
    response = post(REQUEST, {"phone": raw})

    # then
    assert response.status_code == 202
    stored = OtpChallenge.objects.get().phone
    number = phonenumbers.parse(stored)
    assert phonenumbers.region_code_for_number(number) == region
    assert stored == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize("raw", ["", "abc", "+7123", "12345", "+999123456789", "+7701123456789012", "☎☎☎"])
@pytest.mark.parametrize("path", [REQUEST, VERIFY])
def test_garbage_phones_are_422_invalid_phone(raw: str, path: str) -> None:
    # when
    response = post(path, {"phone": raw, "code": "123456"})

    # then
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_phone"
    assert state() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "+7" * 20},
        {"phone": PHONE, "language": "de"},
        {"phone": PHONE, "code": "1" * 13},
        {"phone": PHONE, "code": ""},
        {"code": "123456"},
        {"phone": 77011234567, "code": "123456"},
    ],
)
def test_bodies_outside_the_schema_are_422_validation_error(body: dict[str, Any]) -> None:
    # when
    path = VERIFY if "code" in body else REQUEST
    response = post(path, body)

    # then
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert state() == (0, 0, 0, 0)
