"""How many SMS segments a text costs, counted the way GSM networks bill it (3GPP TS 23.038 / 23.040).

A text that every character of fits the GSM 7-bit default alphabet (with its extension table, whose characters
take two septets: an escape and the character) is sent as GSM-7: 160 septets in one SMS, 153 per part once it is
split (a concatenated message spends 7 septets of each part on the user-data header). Any other character (Cyrillic,
Kazakh letters, emoji) switches the *whole* text to UCS-2: 70 UTF-16 code units in one SMS, 67 per part. An emoji
outside the Basic Multilingual Plane is a surrogate pair (two units), and a part never splits a pair or an escape
sequence, so parts are packed greedily rather than computed by division.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# The GSM 03.38 default alphabet (the escape code 0x1B itself is not a character a text can hold).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (ESC + the character).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


class SmsEncoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True)
class SmsCount:
    """A text's encoding, its length in that encoding's units, and the segments it is billed as.

    ``units`` are septets for GSM-7 and UTF-16 code units for UCS-2; ``per_segment`` is the capacity of one part
    at this length (160/70 for a single SMS, 153/67 once concatenated); ``remaining`` is how many units still fit in
    the last part.
    """

    encoding: SmsEncoding
    characters: int
    units: int
    segments: int
    per_segment: int
    remaining: int


def _gsm7_cost(char: str) -> int | None:
    if char in GSM7_BASIC:
        return 1
    if char in GSM7_EXTENSION:
        return 2
    return None


def _ucs2_cost(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _pack(costs: list[int], part: int) -> tuple[int, int]:
    """Greedy packing into parts of ``part`` units, never splitting a character: ``(parts, units left in last)``."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts, part - used


def sms_count(text: str) -> SmsCount:
    """Count ``text`` in SMS segments (an empty text is 0 segments)."""
    gsm_costs = [_gsm7_cost(c) for c in text]
    if all(cost is not None for cost in gsm_costs):
        encoding, single, part = SmsEncoding.GSM7, GSM7_SINGLE, GSM7_PART
        costs = [int(cost or 0) for cost in gsm_costs]
    else:
        encoding, single, part = SmsEncoding.UCS2, UCS2_SINGLE, UCS2_PART
        costs = [_ucs2_cost(c) for c in text]
    units = sum(costs)
    if units == 0:
        return SmsCount(encoding, 0, 0, 0, single, single)
    if units <= single:
        return SmsCount(encoding, len(text), units, 1, single, single - units)
    parts, left = _pack(costs, part)
    return SmsCount(encoding, len(text), units, parts, part, left)


def sms_segments(text: str) -> int:
    """The number of SMS segments ``text`` is billed as."""
    return sms_count(text).segments
