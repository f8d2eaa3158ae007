"""Keyboard builders shared by every flow."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

Button = tuple[str, str]  # (caption, callback data)


def inline(rows: Iterable[Sequence[Button]]) -> InlineKeyboardMarkup:
    """An inline keyboard from rows of ``(caption, callback_data)``; build the data with ``bots.callbacks.encode``."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(str(text), callback_data=data) for text, data in row] for row in rows]
    )


def inline_column(buttons: Iterable[Button]) -> InlineKeyboardMarkup:
    """One button per row."""
    return inline([[b] for b in buttons])


def inline_grid(buttons: Sequence[Button], *, columns: int = 3) -> InlineKeyboardMarkup:
    """Buttons laid out ``columns`` to a row (days, slots)."""
    return inline([buttons[i : i + columns] for i in range(0, len(buttons), columns)])


def share_contact(caption: str) -> ReplyKeyboardMarkup:
    """A one-time keyboard whose only button shares the user's own phone number."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(str(caption), request_contact=True)]], resize_keyboard=True, one_time_keyboard=True
    )


def share_location(caption: str) -> ReplyKeyboardMarkup:
    """A one-time keyboard whose only button shares the user's current location (check-in)."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(str(caption), request_location=True)]], resize_keyboard=True, one_time_keyboard=True
    )
