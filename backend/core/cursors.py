"""Opaque keyset cursors shared by every paged list: ``{"s": sort key, "v": last value, "id": last id}`` in base64.

A cursor comes back from the client, so decoding trusts nothing: every failure, whatever its cause, is a 422
``invalid_cursor`` and never reaches the database with a value it cannot store. ``keyset_page`` is the one way a
list pages (decision 0033): rows in a stable order on indexed keys with the primary key last, a page of ``limit``
rows and the cursor after its last row, None on the last page. ``"v"`` is the last row's value of the one sort key,
a list of values for several keys, or null for a list ordered by its id alone.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
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
CursorValueType = type[dt.datetime] | type[dt.date] | type[bool] | type[int] | type[str] | None
# A page holds at most this many rows, whatever list it is (the API's ``limit`` says the same).
MAX_PAGE_LIMIT = 200


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
    if value_type is bool:
        if not isinstance(value, bool):
            raise ValueError("not a boolean")
        return value
    if value_type is int:
        if isinstance(value, bool) or not isinstance(value, int) or not -MAX_ID <= value <= MAX_ID:
            raise ValueError("not a 64-bit int")
        return value
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not a clean string")
    return value


def _payload(cursor: str, sort: str) -> dict[str, Any]:
    if len(cursor) > MAX_CURSOR_CHARS:
        raise ValueError("too long")
    padded = cursor + "=" * (-len(cursor) % 4)
    payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    if not isinstance(payload, dict) or payload.get("s") != sort or not _is_id(payload.get("id")):
        raise ValueError("not a cursor of this list")
    return payload


_DECODE_ERRORS = (ValueError, TypeError, OverflowError, RecursionError, binascii.Error, UnicodeError)


def cursor_decode(cursor: str, *, sort: str, value_type: CursorValueType) -> Cursor:
    """Parse a cursor issued for ``sort``; anything malformed, foreign or out of range is ``invalid_cursor``."""
    try:
        payload = _payload(cursor, sort)
        value = _value_decode(payload.get("v"), value_type)
    except _DECODE_ERRORS as exc:
        raise invalid_cursor() from exc
    return Cursor(sort=sort, value=value, id=payload["id"])


def _values_decode(value: Any, value_types: Sequence[CursorValueType]) -> list[Any]:
    if not value_types:
        if value is not None:
            raise ValueError("this cursor carries no value")
        return []
    if len(value_types) == 1:
        return [_value_decode(value, value_types[0])]
    if not isinstance(value, list) or len(value) != len(value_types):
        raise ValueError("not one value per sort key")
    return [_value_decode(v, t) for v, t in zip(value, value_types, strict=True)]


def cursor_decode_keys(cursor: str, *, sort: str, value_types: Sequence[CursorValueType]) -> tuple[list[Any], int]:
    """The last row's sort values (one per key, none of them null) and id from a cursor issued for ``sort``."""
    try:
        payload = _payload(cursor, sort)
        values = _values_decode(payload.get("v"), value_types)
        if any(v is None for v in values):
            raise ValueError("a keyset value is never null")
    except _DECODE_ERRORS as exc:
        raise invalid_cursor() from exc
    return values, payload["id"]


def page_limit_check(limit: int) -> None:
    """422 for a page size outside 1..MAX_PAGE_LIMIT (the API bounds it already; services called directly too)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_LIMIT:
        raise ValidationFailed(
            _("limit must be between 1 and %(n)d.") % {"n": MAX_PAGE_LIMIT}, fields={"limit": [_("Out of range.")]}
        )


def keyset_page(
    qs: QuerySet[Any],
    *,
    sort: str,
    keys: Sequence[tuple[str, CursorValueType]] = (),
    cursor: str | None,
    limit: int,
    descending: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of ``qs`` in ``(*keys, pk)`` order after ``cursor``, and the cursor of the next page (None at the
    end). ``keys`` are ``(field, value type)`` pairs; a field may follow relations (``shift__starts_at``) and must
    not be NULL for rows of ``qs``. ``descending`` turns the whole order round (newest first). ``sort`` names the
    list: a cursor issued for another list is ``invalid_cursor``."""
    page_limit_check(limit)
    names = [f"_keyset{n}" for n in range(len(keys))]
    if keys:
        qs = qs.annotate(**{name: F(field) for name, (field, _type) in zip(names, keys, strict=True)})
    if cursor:
        values, last_id = cursor_decode_keys(cursor, sort=sort, value_types=[t for _f, t in keys])
        after = "lt" if descending else "gt"
        # Lexicographic "after": a greater first key, or an equal first key and a greater second one, ..., or all
        # keys equal and a greater id.
        condition = Q()
        for n in range(len(names) + 1):
            equal = {names[m]: values[m] for m in range(n)}
            step = {f"{names[n]}__{after}": values[n]} if n < len(names) else {f"pk__{after}": last_id}
            condition |= Q(**equal, **step)
        qs = qs.filter(condition)
    order = [f"-{name}" if descending else name for name in (*names, "pk")]
    rows = list(qs.order_by(*order)[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    last_values = [getattr(last, name) for name in names]
    value: Any = None if not names else last_values[0] if len(names) == 1 else last_values
    return rows[:limit], cursor_encode(sort=sort, value=value, id=last.pk)
