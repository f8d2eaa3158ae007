"""The shared keyset cursor: round trip, and every malformed or out-of-range cursor is a 422 invalid_cursor."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from backend.core.cursors import cursor_decode, cursor_encode
from backend.core.exceptions import ValidationFailed


def _raw(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_round_trip_normalises_datetimes_to_utc() -> None:
    at = dt.datetime(2026, 11, 22, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    decoded = cursor_decode(
        cursor_encode(sort="-created_at", value=at, id=7), sort="-created_at", value_type=dt.datetime
    )
    assert decoded.value == at and decoded.value.tzinfo == dt.UTC and decoded.id == 7
    day = cursor_decode(
        cursor_encode(sort="birthday", value=dt.date(1990, 5, 1), id=1), sort="birthday", value_type=dt.date
    )
    assert day.value == dt.date(1990, 5, 1)
    assert cursor_decode(cursor_encode(sort="-id", value=None, id=3), sort="-id", value_type=None).id == 3
    assert cursor_decode(cursor_encode(sort="name", value=None, id=3), sort="name", value_type=str).value is None


@pytest.mark.parametrize(
    ("payload", "value_type"),
    [
        ({"s": "at", "v": "0001-01-01T00:00:00+05:00", "id": 1}, dt.datetime),  # UTC conversion overflows
        ({"s": "at", "v": "9999-12-31T23:59:59-05:00", "id": 1}, dt.datetime),
        ({"s": "at", "v": "1899-12-31T23:59:59+00:00", "id": 1}, dt.datetime),
        ({"s": "at", "v": "2201-01-01T00:00:00+00:00", "id": 1}, dt.datetime),
        ({"s": "at", "v": "2020-01-01T00:00:00", "id": 1}, dt.datetime),  # naive
        ({"s": "at", "v": 5, "id": 1}, dt.datetime),
        ({"s": "at", "v": "0001-01-01", "id": 1}, dt.date),
        ({"s": "at", "v": "2020-01-01", "id": True}, dt.date),
        ({"s": "at", "v": "a\x00", "id": 1}, str),
        ({"s": "at", "v": [[[]]], "id": 1}, str),
        ({"s": "at", "v": {"x": 1}, "id": 1}, int),
        ({"s": "at", "v": 10**30, "id": 1}, int),
        ({"s": "at", "v": 1, "id": 10**30}, int),
        ({"s": "at", "v": 1, "id": -1}, int),
        ({"s": "at", "v": 1, "id": 1}, None),  # a cursor that must carry no value
        ({"s": "other", "v": 1, "id": 1}, int),  # issued for another sort
        ([1, 2], int),
    ],
)
def test_malformed_cursors_are_invalid_cursor(payload, value_type) -> None:
    with pytest.raises(ValidationFailed) as exc:
        cursor_decode(_raw(payload), sort="at", value_type=value_type)
    assert exc.value.code == "invalid_cursor" and exc.value.status == 422


@pytest.mark.parametrize("cursor", ["%%%", "é", "", "A", "x" * 5000, base64.urlsafe_b64encode(b"\xff\xfe").decode()])
def test_garbage_is_invalid_cursor(cursor) -> None:
    with pytest.raises(ValidationFailed) as exc:
        cursor_decode(cursor, sort="at", value_type=int)
    assert exc.value.code == "invalid_cursor"


def test_deep_nesting_is_invalid_cursor() -> None:
    deep = base64.urlsafe_b64encode(b'{"s":"at","id":1,"v":' + b"[" * 100_000 + b"]" * 100_000 + b"}").decode()
    with pytest.raises(ValidationFailed) as exc:
        cursor_decode(deep, sort="at", value_type=int)
    assert exc.value.code == "invalid_cursor"
