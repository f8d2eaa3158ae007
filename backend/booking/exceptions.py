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
    # appointments (answered 409 for a state the caller cannot change, 422 for input that can never be right)
    SLOT_TAKEN = "slot_taken"
    CLIENT_BUSY = "client_busy"
    GROUP_FULL = "group_full"
    OUTSIDE_SCHEDULE = "outside_schedule"
    IN_PAST = "in_past"
    TOO_SOON = "too_soon"
    TOO_FAR = "too_far"
    INVALID_TIME = "invalid_time"
    STAFF_UNAVAILABLE = "staff_unavailable"
    CLIENT_REQUIRED = "client_required"
    CLIENT_DELETED = "client_deleted"
    CUTOFF_PASSED = "cutoff_passed"
    INVALID_TRANSITION = "invalid_transition"
    ALREADY_BOOKED = "already_booked"
    GROUP_RESCHEDULE = "group_reschedule"
    INVALID_NOTES = "invalid_notes"
    INVALID_CATALOG = "invalid_catalog"
    INVALID_POLICY = "invalid_policy"
