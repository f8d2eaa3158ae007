"""Logs never contain tokens, one-time codes or full phone numbers.

The whole login flow runs with every logger at DEBUG. Two things are scanned: what the code hands to logging
(records as emitted, before any filter: the services themselves must be clean) and what the configured JSON
handler writes (the redacting filter must catch careless calls too).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from backend.core.logging import JsonFormatter
from backend.notifications.dispatch import outbox_deliver_due

from .helpers import sent_code, wrong_code

pytestmark = pytest.mark.django_db

PHONE = "+77017654321"


class RawRecords(logging.Handler):
    """Keeps a text copy of each record as it was emitted, before other handlers' filters rewrite it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage())
        self.texts.extend(f"{key}={value!r}" for key, value in record.__dict__.items() if key not in ("msg", "args"))


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The configured JSON console handler, writing into a buffer for the test."""
    root = logging.getLogger()
    handler = next(
        h for h in root.handlers if isinstance(h, logging.StreamHandler) and isinstance(h.formatter, JsonFormatter)
    )
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)  # type: ignore[arg-type]


@pytest.fixture
def raw_records() -> Iterator[RawRecords]:
    root = logging.getLogger()
    handler = RawRecords()
    root.handlers.insert(0, handler)  # first, so it sees records before the redacting filter
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def post(path: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client().post(path, data=body, content_type="application/json", headers=headers)


def phone_forms(phone: str) -> list[str]:
    digits = phone.lstrip("+")
    return [phone, digits, digits[1:]]  # E.164, without the plus, the national number


def test_the_whole_login_flow_logs_no_token_code_or_phone(
    caplog: pytest.LogCaptureFixture, json_log: io.StringIO, raw_records: RawRecords, settings: Any
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    settings.SMS_BACKEND = "console"
    settings.BRIGADA_OTP_SEND_PER_PHONE = "2/h"
    secrets: list[str] = [*phone_forms(PHONE)]

    # when: request, deliver, wrong code, right code, refresh, reuse, logout, limits, issue_token
    assert post("/api/v1/auth/otp/request", {"phone": PHONE, "language": "ru"}).status_code == 202
    code = sent_code(PHONE)
    secrets.append(code)
    outbox_deliver_due(worker="test")
    assert post("/api/v1/auth/otp/verify", {"phone": PHONE, "code": wrong_code(code)}).status_code == 422
    login = post("/api/v1/auth/otp/verify", {"phone": PHONE, "code": code}).json()
    secrets += [login["access_token"], login["refresh_token"]]
    assert post("/api/v1/auth/otp/verify", {"phone": PHONE, "code": code}).status_code == 422
    refreshed = post("/api/v1/auth/refresh", {"refresh_token": login["refresh_token"]}).json()
    secrets += [refreshed["access_token"], refreshed["refresh_token"]]
    assert post("/api/v1/auth/refresh", {"refresh_token": login["refresh_token"]}).status_code == 401
    assert post("/api/v1/auth/otp/request", {"phone": PHONE}).status_code == 202
    second_code = sent_code(PHONE)
    secrets.append(second_code)
    second = post("/api/v1/auth/otp/verify", {"phone": PHONE, "code": second_code}).json()
    secrets += [second["access_token"], second["refresh_token"]]
    assert post("/api/v1/auth/logout", {}, token=second["access_token"]).status_code == 204
    assert post("/api/v1/auth/otp/request", {"phone": PHONE}).status_code == 429
    assert post("/api/v1/auth/otp/request", {"phone": "+7701"}).status_code == 422
    out = io.StringIO()
    call_command("issue_token", "--phone", "+79161234567", "--create", "--refresh", stdout=out, stderr=io.StringIO())
    secrets += out.getvalue().split() + phone_forms("+79161234567")

    # then: something was logged at all, and none of it carries a secret
    assert any(r.getMessage() == "otp requested" for r in caplog.records)
    assert any(r.getMessage() == "refresh token reused: family revoked" for r in caplog.records)
    json_lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert any(line["msg"] == "otp verified" and line["phone"] == "+77*******21" for line in json_lines)
    captured = {
        "raw records": "\n".join(raw_records.texts),
        "caplog": caplog.text,
        "JSON handler": json_log.getvalue(),
    }
    for where, text in captured.items():
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, f"{where} leaked {leaked}"


def test_careless_log_calls_are_redacted_by_the_configured_handler(json_log: io.StringIO) -> None:
    # given
    logger = logging.getLogger("brigada.careless")
    access = "bga_" + "A1b2C3d4" * 5
    refresh = "bgr_" + "Z9y8X7w6" * 5

    # when
    logger.warning("sent code %s to %s", "123456", "+7 701 765 43 21")
    logger.warning("Код Brigada: 654321. Действует 5 мин.")
    logger.warning("Brigada коды: 246810.")
    logger.warning("auth header Bearer %s", access)
    logger.warning("session", extra={"refresh_token": refresh, "phone": PHONE, "code": "135790"})
    logger.warning("url /ws/v1/events/?token=%s", access)
    try:
        raise ValueError(f"bad token {refresh} for {PHONE}")
    except ValueError:
        logger.exception("failed")

    # then
    text = json_log.getvalue()
    for secret in ["123456", "654321", "246810", "135790", access, refresh, *phone_forms(PHONE), "701 765 43 21"]:
        assert secret not in text, secret
