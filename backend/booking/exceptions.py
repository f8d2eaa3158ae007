"""Booking error codes."""

from __future__ import annotations

from enum import StrEnum


class BookingErrorCode(StrEnum):
    INVALID_PATTERN = "invalid_pattern"
    INVALID_HOURS = "invalid_hours"
    INVALID_BREAKS = "invalid_breaks"
    INVALID_DATES = "invalid_dates"
    HORIZON_TOO_LONG = "horizon_too_long"
    INVALID_REFERENCE = "invalid_reference"
