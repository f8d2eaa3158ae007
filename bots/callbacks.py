"""callback_data codec: ``prefix:action:arg:arg`` within Telegram's 64 bytes.

Callback data comes back from the client and can be forged by anyone who talks to the Bot API: treat it like
a request body. ``parse`` only checks the *shape* (prefix, action, arity, characters, integer bounds); whether
the object exists and belongs to the pressing user is checked by the service the handler calls, with the
user resolved from ``update.effective_user`` (never from the data). ``MalformedCallback`` is answered as a stale
button by the handler wrapper (``bots.handlers.base.bot_handler``).

Prefixes by owner (keep them short, they count against the 64 bytes):
- core: ``lang`` (language switch), ``core`` (framework);
- customers: prefixes starting with ``c`` (``cb`` booking, ``cm`` my bookings, ...);
- workers: prefixes starting with ``w`` (``wo`` offers, ``ws`` shifts, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
SEPARATOR = ":"
_PART = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
_MAX_ID = 2**63 - 1


class MalformedCallback(ValueError):
    """The data is not one we could have produced (forged, truncated or from an old bot version)."""


@dataclass(frozen=True)
class CallbackData:
    prefix: str
    action: str
    args: tuple[str, ...] = ()

    def int_arg(self, index: int, *, minimum: int = 1, maximum: int = _MAX_ID) -> int:
        """Argument ``index`` as an integer within ``[minimum, maximum]`` (ids are positive by default)."""
        try:
            raw = self.args[index]
        except IndexError as exc:
            raise MalformedCallback(f"argument {index} missing") from exc
        if not re.fullmatch(r"-?\d{1,19}", raw):
            raise MalformedCallback(f"argument {index} is not an integer")
        value = int(raw)
        if not minimum <= value <= maximum:
            raise MalformedCallback(f"argument {index} out of range")
        return value

    def str_arg(self, index: int, *, choices: frozenset[str] | set[str] | None = None) -> str:
        try:
            raw = self.args[index]
        except IndexError as exc:
            raise MalformedCallback(f"argument {index} missing") from exc
        if choices is not None and raw not in choices:
            raise MalformedCallback(f"argument {index} is not one of the choices")
        return raw

    def encode(self) -> str:
        return encode(self.prefix, self.action, *self.args)


def encode(prefix: str, action: str, *args: object) -> str:
    """Build callback data; raises ``ValueError`` if a part has a forbidden character or it exceeds 64 bytes."""
    if not _NAME.fullmatch(prefix) or not _NAME.fullmatch(action):
        raise ValueError(f"bad prefix or action: {prefix!r}, {action!r}")
    parts = [prefix, action]
    for arg in args:
        text = str(int(arg)) if isinstance(arg, bool) else str(arg)
        if not _PART.fullmatch(text):
            raise ValueError(f"bad callback argument: {text!r}")
        parts.append(text)
    data = SEPARATOR.join(parts)
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"callback data longer than {MAX_BYTES} bytes: {data!r}")
    return data


def parse(
    data: str | None,
    *,
    prefix: str | None = None,
    actions: dict[str, int] | None = None,
) -> CallbackData:
    """Parse and check the shape. ``actions`` maps each allowed action to its number of arguments."""
    if not data or len(data.encode("utf-8")) > MAX_BYTES:
        raise MalformedCallback("empty or too long")
    parts = data.split(SEPARATOR)
    if len(parts) < 2:
        raise MalformedCallback("no action")
    head, action, args = parts[0], parts[1], tuple(parts[2:])
    if not _NAME.fullmatch(head) or not _NAME.fullmatch(action):
        raise MalformedCallback("bad prefix or action")
    if any(not _PART.fullmatch(a) for a in args):
        raise MalformedCallback("bad argument")
    if prefix is not None and head != prefix:
        raise MalformedCallback("unexpected prefix")
    if actions is not None:
        if action not in actions:
            raise MalformedCallback("unknown action")
        if len(args) != actions[action]:
            raise MalformedCallback("wrong number of arguments")
    return CallbackData(head, action, args)


def pattern(prefix: str) -> str:
    """The ``CallbackQueryHandler`` pattern for one prefix."""
    if not _NAME.fullmatch(prefix):
        raise ValueError(f"bad prefix: {prefix!r}")
    return f"^{re.escape(prefix)}{SEPARATOR}"
