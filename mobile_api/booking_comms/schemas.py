"""Schemas of the waiting list, reviews, confirmations, mailings and messaging settings. Lengths mirror the columns
and times are bounded (aware, years 2000-2100), so nothing reaches the database that it would refuse with a 500."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from ninja import Schema
from pydantic import AfterValidator, Field

from backend.booking.models_comms import (
    MAX_BIRTHDAY_DAYS_AHEAD,
    MAX_GREETING_LENGTH,
    MAX_HOLD_MINUTES,
    MAX_MAILING_TEXT_LENGTH,
    MAX_REVIEW_COMMENT_LENGTH,
    MAX_REVIEW_DELAY_MINUTES,
    MAX_WAITLIST_WINDOWS,
)
from backend.booking.services.campaigns import MAX_SEGMENT_IDS
from backend.booking.services.comms_settings import MAX_OFFSET_MINUTES, MAX_REMINDERS, MIN_OFFSET_MINUTES
from mobile_api.pagination import NEXT_CURSOR, CursorPageQuery
from mobile_api.types import Text

MAX_ID = 2**63 - 1
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _bounded(value: dt.datetime) -> dt.datetime:
    # Checked before any conversion: year 1 or 9999 with an offset would overflow when moved to UTC.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give the time with its zone offset")
    if not 2000 <= value.year <= 2100:
        raise ValueError("the year must be between 2000 and 2100")
    return value.astimezone(dt.UTC)


AwareTime = Annotated[dt.datetime, AfterValidator(_bounded)]


class WindowIn(Schema):
    start: AwareTime
    end: AwareTime


class WaitlistJoinIn(Schema):
    branch_id: ObjectId
    service_id: ObjectId
    staff_id: ObjectId | None = Field(None, description="empty: any master who performs the service")
    client_id: ObjectId | None = Field(None, description="staff name the client; a customer joins as themselves")
    windows: list[WindowIn] = Field(..., min_length=1, max_length=MAX_WAITLIST_WINDOWS)


class WindowOut(Schema):
    start: dt.datetime
    end: dt.datetime


class WaitlistOfferOut(Schema):
    id: int
    staff_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    hold_until: dt.datetime
    status: str
    appointment_id: int | None


class WaitlistEntryOut(Schema):
    id: int
    organization_id: int
    branch_id: int
    client_id: int
    service_id: int
    staff_id: int | None
    windows: list[WindowOut]
    status: str
    appointment_id: int | None
    created_at: dt.datetime
    offer: WaitlistOfferOut | None = Field(None, description="the open offer, while one is held for this entry")


class WaitlistListOut(Schema):
    items: list[WaitlistEntryOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class WaitlistBranchQuery(CursorPageQuery):
    branch_id: ObjectId


class TakenOut(Schema):
    offer: WaitlistOfferOut
    appointment_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str


class ReviewIn(Schema):
    appointment_id: ObjectId
    score: int = Field(..., ge=1, le=10)
    comment: Text = Field("", max_length=MAX_REVIEW_COMMENT_LENGTH)


class ReviewOut(Schema):
    id: int
    organization_id: int
    appointment_id: int
    client_id: int
    staff_id: int
    score: int
    comment: str
    created_at: dt.datetime


class ReviewListQuery(CursorPageQuery):
    organization_id: ObjectId | None = None
    staff_id: ObjectId | None = None


class ReviewListOut(Schema):
    items: list[ReviewOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)
    count: int
    average: float | None


class ConfirmIn(Schema):
    appointment_id: ObjectId


class ConfirmOut(Schema):
    appointment_id: int
    status: str


class SegmentIn(Schema):
    organization_id: ObjectId | None = None
    group_ids: list[ObjectId] = Field(default_factory=list, max_length=MAX_SEGMENT_IDS)
    source_ids: list[ObjectId] = Field(default_factory=list, max_length=MAX_SEGMENT_IDS)
    gender: Literal["female", "male"] | None = None


class MailingPreviewIn(SegmentIn):
    text: Text = Field("", max_length=MAX_MAILING_TEXT_LENGTH)


class MailingIn(SegmentIn):
    text: Text = Field(..., min_length=1, max_length=MAX_MAILING_TEXT_LENGTH)


class SmsCountOut(Schema):
    encoding: str = Field(..., description="gsm7 or ucs2")
    characters: int
    units: int = Field(..., description="septets (GSM-7) or UTF-16 code units (UCS-2)")
    segments: int
    per_segment: int
    remaining: int


class MailingPreviewOut(Schema):
    in_segment: int
    recipients: int = Field(..., description="clients of the segment with marketing and messages consent")
    without_consent: int
    by_channel: dict[str, int]
    sms: SmsCountOut
    sms_segments_total: int


class MailingOut(Schema):
    id: int
    organization_id: int
    recipients: int
    sms_recipients: int
    sms_segments: int
    created_at: dt.datetime


class CommsOrgQuery(Schema):
    organization_id: ObjectId | None = None


class CommsSettingsIn(Schema):
    organization_id: ObjectId | None = None
    reminder_offsets_minutes: list[Annotated[int, Field(ge=MIN_OFFSET_MINUTES, le=MAX_OFFSET_MINUTES)]] | None = Field(
        None, max_length=MAX_REMINDERS, description="minutes before the visit, e.g. [1440, 120]"
    )
    confirmation_requests: bool | None = None
    review_requests: bool | None = None
    review_request_delay_minutes: int | None = Field(None, ge=0, le=MAX_REVIEW_DELAY_MINUTES)
    waitlist_hold_minutes: int | None = Field(None, ge=1, le=MAX_HOLD_MINUTES)
    birthday_greetings: bool | None = None
    birthday_days_ahead: int | None = Field(None, ge=0, le=MAX_BIRTHDAY_DAYS_AHEAD)
    birthday_text: Text | None = Field(None, max_length=MAX_GREETING_LENGTH)


class CommsSettingsOut(Schema):
    organization_id: int
    reminder_offsets_minutes: list[int]
    confirmation_requests: bool
    review_requests: bool
    review_request_delay_minutes: int
    waitlist_hold_minutes: int
    birthday_greetings: bool
    birthday_days_ahead: int
    birthday_text: str
