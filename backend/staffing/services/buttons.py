"""Telegram inline buttons on the staffing messages a worker gets: a call-up (Accept / Decline) and the day-before
confirmation (Yes, I'll come / No, I can't).

The callback data is the bot's contract (``bots/handlers/workers.py`` parses it); each id in it is only a hint: the
bot resolves the Telegram user to their account and the staffing services look the offer up *among that account's
own offers* (``selectors.offer_of_worker``), so a forged or stale id answers "not available" and changes nothing.
Every string stays far below Telegram's 64-byte limit (``offer:decline:`` + a 19-digit id is 33 bytes).

Labels are translated in the active language: build the keyboard inside the ``translation.override`` of the
worker's language, like the message text.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

#: Callback data prefixes (the first two fields, ``<domain>:<action>``).
OFFER_ACCEPT = "offer:accept"
OFFER_DECLINE = "offer:decline"
SHIFT_CONFIRM = "shift:confirm"
#: Telegram's limit for ``callback_data``, in bytes.
CALLBACK_DATA_MAX_BYTES = 64


def offer_accept_data(offer_id: int) -> str:
    """The Accept button of the call-up ``offer_id`` (the bot re-checks that the offer is the presser's)."""
    return f"{OFFER_ACCEPT}:{int(offer_id)}"


def offer_decline_data(offer_id: int) -> str:
    """The Decline button of the call-up ``offer_id`` (the bot re-checks that the offer is the presser's)."""
    return f"{OFFER_DECLINE}:{int(offer_id)}"


def shift_confirm_data(offer_id: int, *, yes: bool) -> str:
    """The answer to the day-before confirmation of the place held by offer ``offer_id``."""
    return f"{SHIFT_CONFIRM}:{int(offer_id)}:{'yes' if yes else 'no'}"


def _keyboard(rows: list[list[tuple[str, str]]]) -> dict[str, Any]:
    for row in rows:
        for _label, data in row:
            if len(data.encode()) > CALLBACK_DATA_MAX_BYTES:  # pragma: no cover - ids are integers
                raise ValueError("callback data longer than Telegram allows")
    return {"inline_keyboard": [[{"text": str(label), "callback_data": data} for label, data in row] for row in rows]}


def offer_keyboard(offer_id: int) -> dict[str, Any]:
    """``reply_markup`` of a call-up: Accept / Decline."""
    return _keyboard([[(_("Accept"), offer_accept_data(offer_id)), (_("Decline"), offer_decline_data(offer_id))]])


def confirm_keyboard(offer_id: int) -> dict[str, Any]:
    """``reply_markup`` of the day-before confirmation: Yes, I'll come / No, I can't."""
    return _keyboard(
        [
            [
                (_("Yes, I'll come"), shift_confirm_data(offer_id, yes=True)),
                (_("No, I can't"), shift_confirm_data(offer_id, yes=False)),
            ]
        ]
    )


__all__ = [
    "CALLBACK_DATA_MAX_BYTES",
    "OFFER_ACCEPT",
    "OFFER_DECLINE",
    "SHIFT_CONFIRM",
    "confirm_keyboard",
    "offer_accept_data",
    "offer_decline_data",
    "offer_keyboard",
    "shift_confirm_data",
]
