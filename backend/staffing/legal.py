"""Format checks for Russian legal-entity details: INN, KPP, OGRN (and OGRNIP for sole proprietors).

Each check returns ``True`` for a well-formed value, control digits included, so a typo in one digit is refused
before an invoice carries it. The services turn a ``False`` into a 422 with the field named.
"""

from __future__ import annotations

import re

_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_KPP = re.compile(r"^\d{4}[\dA-Z]{2}\d{3}$")


def _control(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_is_valid(value: str) -> bool:
    """A 10-digit organisation INN or a 12-digit individual INN with correct control digits."""
    if not value.isascii() or not value.isdigit():
        return False
    if len(value) == 10:
        return _control(value, _INN10_WEIGHTS) == int(value[9])
    if len(value) == 12:
        return _control(value, _INN12_WEIGHTS_11) == int(value[10]) and _control(value, _INN12_WEIGHTS_12) == int(
            value[11]
        )
    return False


def kpp_is_valid(value: str) -> bool:
    """Nine characters: tax office (4 digits), reason (2 digits or capital Latin letters), number (3 digits)."""
    return bool(_KPP.match(value))


def ogrn_is_valid(value: str) -> bool:
    """A 13-digit OGRN (control: first 12 mod 11) or a 15-digit OGRNIP (first 14 mod 13), last digit of the rest."""
    if not value.isascii() or not value.isdigit():
        return False
    if len(value) == 13:
        return int(value[:12]) % 11 % 10 == int(value[12])
    if len(value) == 15:
        return int(value[:14]) % 13 % 10 == int(value[14])
    return False
