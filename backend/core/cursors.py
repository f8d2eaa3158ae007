"""Opaque keyset cursors shared by every paged list: ``{"s": sort key, "v": last value, "id": last id}`` in base64.

A cursor comes back from the client, so decoding trusts nothing: every failure, whatever its cause, is a 422
``invalid_cursor`` and never reaches the database with a value it cannot store.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _

from .events import _jsonable
from .exceptions import ValidationFailed

INVALID_CURSOR = "invalid_cursor"
MAX_ID = 2**63 - 1
# Far enough from year 1 and 9999 that converting to UTC (or to any database's time zone) cannot overflow.
MIN_YEAR = 1900
MAX_YEAR = 2200
MAX_CURSOR_CHARS = 2048

# What the decoded value must be: the column's Python type, or None when the cursor carries no value.
CursorValueType = type[dt.datetime] | type[dt.date] | type[int] | type[str] | None


@dataclass(frozen=True)
class Cursor:
    sort: str
    value: Any
    id: int


def invalid_cursor() -> ValidationFailed:
    return ValidationFailed(
        _("The cursor is invalid; start again without it."),
        code=INVALID_CURSOR,
        fields={"cursor": [_("Invalid cursor.")]},
    )


def cursor_encode(*, sort: str, value: Any, id: int) -> str:
    """The cursor that continues after the row with sort value ``value`` and primary key ``id``."""
    raw = json.dumps({"s": sort, "v": _jsonable(value), "id": id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


def _in_years(value: dt.date) -> bool:
    return MIN_YEAR <= value.year <= MAX_YEAR


def _value_decode(value: Any, value_type: CursorValueType) -> Any:
    if value is None:
        return None
    if value_type is None:
        raise ValueError("this cursor carries no value")
    if value_type is dt.datetime:
        if not isinstance(value, str):
            raise ValueError("not a string")
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime")
        parsed = parsed.astimezone(dt.UTC)  # may overflow near year 1 or 9999: caught by the caller
        if not _in_years(parsed):
            raise ValueError("year out of range")
        return parsed
    if value_type is dt.date:
        if not isinstance(value, str):
            raise ValueError("not a string")
        day = dt.date.fromisoformat(value)
        if not _in_years(day):
            raise ValueError("year out of range")
        return day
    if value_type is int:
        if isinstance(value, bool) or not isinstance(value, int) or not -MAX_ID <= value <= MAX_ID:
            raise ValueError("not a 64-bit int")
        return value
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not a clean string")
    return value


def cursor_decode(cursor: str, *, sort: str, value_type: CursorValueType) -> Cursor:
    """Parse a cursor issued for ``sort``; anything malformed, foreign or out of range is ``invalid_cursor``."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(payload, dict) or payload.get("s") != sort or not _is_id(payload.get("id")):
            raise ValueError("not a cursor of this list")
        value = _value_decode(payload.get("v"), value_type)
    except (ValueError, TypeError, OverflowError, RecursionError, binascii.Error, UnicodeError) as exc:
        raise invalid_cursor() from exc
    return Cursor(sort=sort, value=value, id=payload["id"])


def keyset_page(
    qs: QuerySet[Any], *, sort: str, field: str, value_type: CursorValueType, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """One page of ``qs`` in ``(field, pk)`` order after ``cursor``, and the cursor of the next page (None at the
    end). ``field`` may follow relations (``shift__starts_at``); it must not be NULL for rows of ``qs``."""
    qs = qs.annotate(_keyset=F(field))
    if cursor:
        after = cursor_decode(cursor, sort=sort, value_type=value_type)
        qs = qs.filter(Q(_keyset__gt=after.value) | Q(_keyset=after.value, pk__gt=after.id))
    rows = list(qs.order_by("_keyset", "pk")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], cursor_encode(sort=sort, value=last._keyset, id=last.pk)
