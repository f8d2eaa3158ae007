"""The bot token never reaches a log.

PTB and httpx put the token in request URLs (``.../bot<token>/getUpdates``) and some exceptions repeat it. The
project's ``RedactingFilter`` sits on our console handler only; handlers added elsewhere (pytest's caplog, a
Sentry hook, a file handler in production) would still see the raw text. So the redaction happens where records
are *made*: a LogRecord factory replaces the token in the message, its arguments and the formatted traceback
before any handler sees the record. It knows the exact configured token(s) and, as a safety net, anything shaped
like a bot token (``<digits>:<35 characters>``).
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any

REPLACEMENT = "[BOT-TOKEN]"
_TOKEN_SHAPE = re.compile(r"\b\d{5,16}:[A-Za-z0-9_\-]{30,}")
_tokens: set[str] = set()
_lock = threading.Lock()
_installed = False


def redact_tokens(text: str) -> str:
    for token in sorted(_tokens, key=len, reverse=True):
        if token:
            text = text.replace(token, REPLACEMENT)
    return _TOKEN_SHAPE.sub(REPLACEMENT, text)


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not break logging
        message = str(record.msg)
    clean = redact_tokens(message)
    if clean != message or record.args:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = redact_tokens("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    elif record.exc_text:
        record.exc_text = redact_tokens(record.exc_text)
    for key, value in list(record.__dict__.items()):
        if isinstance(value, str) and key not in {"msg", "exc_text"} and any(t in value for t in _tokens):
            setattr(record, key, redact_tokens(value))


def install_token_redaction(*tokens: str) -> None:
    """Register tokens to redact and install the record factory once per process."""
    global _installed
    with _lock:
        _tokens.update(t for t in tokens if t)
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _tokens or record.msg:
                _scrub(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
