"""Schemas of the appointment routes. Every id, time and text is bounded here, so no input reaches a service that
would answer it with a server error (year 1 or 9999 with an offset, an over-long note, a NUL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from ninja import Schema
from pydantic import AfterValidator, Field

from backend.booking.models import MAX_CANCEL_REASON_LENGTH, MAX_NOTES_LENGTH, MAX_VISIT_LINES
from backend.booking.services.schedules import MAX_YEAR, MIN_YEAR
from mobile_api.pagination import NEXT_CURSOR, CursorPageQuery
from mobile_api.types import Text

MAX_ID = 2**63 - 1
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _bounded_aware(value: dt.datetime) -> dt.datetime:
    # The wall-clock year is checked before any conversion: converting year 1 or 9999 with an offset overflows.
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give the time with its UTC offset, e.g. 2027-03-01T10:00:00+05:00")
    return value


AwareTime = Annotated[dt.datetime, AfterValidator(_bounded_aware)]


class AppointmentCreateIn(Schema):
    branch_id: ObjectId
    service_id: ObjectId | None = Field(None, description="One service (the visit's first).")
    service_ids: list[ObjectId] = Field(
        default_factory=list,
        max_length=MAX_VISIT_LINES,
        description="Several services in sequence, after `service_id` when both are given.",
    )
    staff_id: ObjectId | None = Field(None, description="The master; the fairest free one when left out.")
    start: AwareTime = Field(..., description="The first service's start, with its UTC offset, on a whole minute.")
    client_id: ObjectId | None = Field(
        None, description="Staff book for this client of their organization; customers leave it out."
    )
    source_id: ObjectId | None = Field(None, description="Where the client came from (a source of the organization).")
    notes: Text = Field("", max_length=MAX_NOTES_LENGTH)


class RescheduleIn(Schema):
    start: AwareTime
    staff_id: ObjectId | None = Field(None, description="Another qualified master; the same one when left out.")


class CancelIn(Schema):
    reason: Text = Field("", max_length=MAX_CANCEL_REASON_LENGTH)


class MineQuery(CursorPageQuery):
    upcoming: bool = Field(False, description="Only active visits that have not ended, soonest first.")


class DayQuery(Schema):
    date: dt.date = Field(..., ge=dt.date(MIN_YEAR, 1, 1), le=dt.date(MAX_YEAR, 12, 31))
    branch_id: ObjectId | None = Field(None, description="One branch (its zone defines the day).")
    include_cancelled: bool = False


class LineOut(Schema):
    position: int
    service_id: int
    service_name: str
    staff_id: int
    staff_name: str
    resource_id: int | None
    start: dt.datetime
    end: dt.datetime
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    price: Decimal


class AppointmentOut(Schema):
    id: int
    organization_id: int
    branch_id: int
    branch_name: str
    time_zone: str = Field(..., description="The branch's zone: show the times in it.")
    client_id: int
    client_name: str
    customer_id: int | None
    staff_id: int
    group_session_id: int | None
    start: dt.datetime
    end: dt.datetime
    status: str = Field(..., description="held, booked, confirmed, arrived, done, cancelled or no_show.")
    channel: str
    source_id: int | None
    price: Decimal
    currency: str
    notes: str
    cancel_reason: str
    cancelled_at: dt.datetime | None
    rescheduled_count: int
    hold_expires_at: dt.datetime | None
    created_at: dt.datetime
    lines: list[LineOut]


class AppointmentListOut(Schema):
    items: list[AppointmentOut]
    next_cursor: str | None = Field(
        None, description=NEXT_CURSOR + " Always null for a master's day: one day is answered whole."
    )
