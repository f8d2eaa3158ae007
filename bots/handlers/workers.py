"""Worker flows (offers, shifts, confirmations, check-in, earnings, availability). Owned by bot-workers."""

from __future__ import annotations

from telegram.ext import Application


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the worker handlers to ``application``."""
