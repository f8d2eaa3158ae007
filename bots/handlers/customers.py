"""Customer flows (booking, my bookings, reminders' buttons, ratings). Owned by bot-customers."""

from __future__ import annotations

from telegram.ext import Application


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the customer handlers to ``application``."""
