"""The shared keyset cursor: round trip, and every malformed or out-of-range cursor is a 422 invalid_cursor."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from backend.core.cursors import MAX_PAGE_LIMIT, cursor_decode, cursor_decode_keys, cursor_encode, page_limit_check
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


WHY = (dt.datetime, bool, int)


def test_several_keys_round_trip_as_a_list() -> None:
    at = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
    cursor = cursor_encode(sort="why", value=[at, True, 3], id=9)
    assert cursor_decode_keys(cursor, sort="why", value_types=WHY) == ([at, True, 3], 9)
    one = cursor_encode(sort="one", value=at, id=2)
    assert cursor_decode_keys(one, sort="one", value_types=(dt.datetime,)) == ([at], 2)
    by_id = cursor_encode(sort="ids", value=None, id=4)
    assert cursor_decode_keys(by_id, sort="ids", value_types=()) == ([], 4)


@pytest.mark.parametrize(
    ("value", "value_types"),
    [
        (["2026-11-22T08:00:00+00:00", True], WHY),  # one value short
        (["2026-11-22T08:00:00+00:00", True, 3, 4], WHY),  # one too many
        ("2026-11-22T08:00:00+00:00", WHY),  # a scalar where a list is due
        (["2026-11-22T08:00:00+00:00", 1, 3], WHY),  # 1 is not a boolean
        (["2026-11-22T08:00:00+00:00", True, True], WHY),  # nor True an int
        (["2026-11-22T08:00:00+00:00", None, 3], WHY),  # a keyset value is never null
        (None, (dt.datetime,)),
        (5, ()),  # an id-ordered list carries no value
    ],
)
def test_a_cursor_of_the_wrong_shape_for_its_keys_is_invalid_cursor(value, value_types) -> None:
    with pytest.raises(ValidationFailed) as exc:
        cursor_decode_keys(_raw({"s": "why", "v": value, "id": 1}), sort="why", value_types=value_types)
    assert exc.value.code == "invalid_cursor" and exc.value.status == 422


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_LIMIT + 1, True])
def test_a_page_size_out_of_range_is_refused(limit) -> None:
    with pytest.raises(ValidationFailed) as exc:
        page_limit_check(limit)
    assert exc.value.status == 422 and "limit" in exc.value.fields
