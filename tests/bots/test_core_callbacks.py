"""The callback_data codec: what it builds fits Telegram's 64 bytes; what it parses is only what it could build."""

from __future__ import annotations

import pytest

from bots import callbacks
from bots.callbacks import MalformedCallback


def test_round_trip() -> None:
    data = callbacks.encode("wo", "accept", 123, "x-1")

    parsed = callbacks.parse(data, prefix="wo", actions={"accept": 2})

    assert data == "wo:accept:123:x-1"
    assert parsed.int_arg(0) == 123 and parsed.str_arg(1) == "x-1"


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "wo",
        "wo:",
        ":accept",
        "WO:accept:1",
        "wo:accept:1:2",
        "wo:decline:1",
        "cb:accept:1",
        "wo:accept:1;drop",
        "wo:accept: 1",
        "wo:accept:" + "9" * 70,
        "wo:accept:1\n",
    ],
)
def test_parse_rejects_malformed_data(data: str | None) -> None:
    with pytest.raises(MalformedCallback):
        callbacks.parse(data, prefix="wo", actions={"accept": 1})


@pytest.mark.parametrize("arg", ["0", "-5", "abc", "99999999999999999999", "1.5"])
def test_int_arguments_are_positive_bounded_integers(arg: str) -> None:
    parsed = callbacks.parse(f"wo:accept:{arg}", prefix="wo", actions={"accept": 1})

    with pytest.raises(MalformedCallback):
        parsed.int_arg(0)


def test_encode_refuses_what_telegram_would_truncate_or_we_could_not_parse() -> None:
    with pytest.raises(ValueError):
        callbacks.encode("cb", "slot", "a" * 40, "b" * 30)
    with pytest.raises(ValueError):
        callbacks.encode("cb", "slot", "with:colon")
    with pytest.raises(ValueError):
        callbacks.encode("Cb", "slot")


def test_choices_are_checked() -> None:
    parsed = callbacks.parse("lang:set:kk", prefix="lang", actions={"set": 1})

    assert parsed.str_arg(0, choices={"ru", "kk", "en"}) == "kk"
    with pytest.raises(MalformedCallback):
        callbacks.parse("lang:set:de").str_arg(0, choices={"ru", "kk", "en"})
