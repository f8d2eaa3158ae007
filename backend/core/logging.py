"""Structured JSON logs that never carry secrets.

The redacting filter masks bearer tokens, one-time codes and phone numbers in the message and in every
extra attribute, so a careless ``logger.info("sent code %s to %s", code, phone)`` does not leak them. A bare
number with no "code" nearby cannot be told from an id: services log masked phones and never log codes at all.
The JSON formatter redacts again (message, extras, reprs, tracebacks), so a handler without the filter is safe.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

_PHONE = re.compile(r"\+?\d[\d\- ()]{8,}\d")
_BEARER = re.compile(r"(?i)(bearer\s+|token[\"'=: ]+)[A-Za-z0-9._\-~+/]{8,}=*")
_SECRET_KEYS = {"token", "access", "refresh", "code", "otp", "password", "secret", "authorization"}
_LONG_TOKEN = re.compile(r"\b[A-Za-z0-9_\-]{32,}\b")
# Canonical UUIDs (task, batch and family ids) are identifiers, not secrets: they are kept readable.
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
# A 4-8 digit number shortly after "code" / "otp" / "pin" / "код" / "коды" (the words of our own messages, in
# English, Russian and Kazakh): "code: 123456", "Код Brigada: 123456", "Brigada коды: 123456".
_OTP_WORD = re.compile(r"(?i)(\b(?:code|otp|pin|код\w*)\b[^\d\n]{0,16}?)\d{4,8}\b")

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def mask_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"+{digits[:2]}***{digits[-2:]}" if len(digits) >= 6 else "***"


def redact(text: str) -> str:
    """Mask tokens, codes and phone numbers in free text (UUIDs excepted)."""
    parts = _UUID.split(text)
    if len(parts) > 1:
        uuids = _UUID.findall(text)
        return "".join(_redact_part(p) + (uuids[i] if i < len(uuids) else "") for i, p in enumerate(parts))
    return _redact_part(text)


def _redact_part(text: str) -> str:
    text = _BEARER.sub(lambda m: m.group(1) + "[REDACTED]", text)
    text = _OTP_WORD.sub(lambda m: m.group(1) + "[REDACTED]", text)
    text = _LONG_TOKEN.sub("[REDACTED]", text)
    return _PHONE.sub(mask_phone, text)


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in _SECRET_KEYS:
        return "[REDACTED]"
    if isinstance(value, str):
        return redact(value)
    return value


class RedactingFilter(logging.Filter):
    """Rewrites the record in place: the formatted message and all extra attributes are redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, _redact_value(key, value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the extras a caller passed."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                if not isinstance(value, str | int | float | bool | None):
                    value = repr(value)  # e.g. the request Django attaches: its repr carries the query string
                payload[key] = _redact_value(key, value)
        if record.exc_info:
            payload["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False)
