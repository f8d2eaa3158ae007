"""Error codes of the client-messaging rules (waiting list, reminders, reviews, mailings).

Kept apart from ``BookingErrorCode`` so the two enums grow without touching each other's lines; the values are as
stable as any other code (clients branch on them).
"""

from __future__ import annotations

from enum import StrEnum


class BookingCommsErrorCode(StrEnum):
    INVALID_WINDOWS = "invalid_windows"
    WAITLIST_CLOSED = "waitlist_closed"  # the entry is no longer waiting (booked, cancelled, expired)
    OFFER_GONE = "offer_gone"  # the offer expired, was declined or withdrawn
    SLOT_TAKEN = "slot_taken"
    NOT_REVIEWABLE = "not_reviewable"  # the visit is not done
    ALREADY_REVIEWED = "already_reviewed"
    INVALID_SCORE = "invalid_score"
    INVALID_SEGMENT = "invalid_segment"
    EMPTY_TEXT = "empty_text"
    INVALID_SETTINGS = "invalid_settings"
    NOT_CONFIRMABLE = "not_confirmable"
