"""Schemas of the slot search and the journal. Ids and dates are bounded, so no input reaches a service that it
would refuse with a server error."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from ninja import Schema
from pydantic import BaseModel, Field

from backend.booking.models import MAX_VISIT_LINES

MAX_ID = 2**63 - 1
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)
BoundedDate = Annotated[dt.date, Field(ge=MIN_DATE, le=MAX_DATE)]


class SlotQuery(Schema):
    branch_id: int = Field(..., ge=1, le=MAX_ID)
    service_id: int | None = Field(None, ge=1, le=MAX_ID, description="One service (the visit's first).")
    service_ids: list[ObjectId] = Field(
        default_factory=list,
        max_length=MAX_VISIT_LINES,
        description="Several services in sequence (after `service_id` when both are given).",
    )
    date: BoundedDate = Field(..., description="The first local day (YYYY-MM-DD, the branch's zone).")
    date_to: BoundedDate | None = Field(None, description="The last local day, at most 31 days from `date`.")
    staff_id: int | None = Field(None, ge=1, le=MAX_ID, description="A master; any master when left out.")


# The slot answers are plain pydantic models, not ninja Schemas: they are built from our own values, never from
# Django objects, so they do not need ninja's per-object getter, which cost a slot search a third of its time.
class WhyOut(BaseModel):
    rule: str = Field(
        ...,
        description="Always `least_booked_minutes_then_longest_wait`: fewest booked minutes that day; on a tie, "
        "whose last appointment that day ended earliest "
        "(or whose working stretch began earliest, without one); then the lowest id.",
    )
    booked_minutes: int
    waited_since: dt.datetime
    candidates: int = Field(..., description="How many qualified masters were free for this step.")


class SlotLineOut(BaseModel):
    service_id: int
    staff_id: int
    start: dt.datetime
    end: dt.datetime
    resource_id: int | None
    why: WhyOut | None = Field(None, description="Why this master, when any master was asked for.")


class SlotOut(BaseModel):
    start: dt.datetime
    end: dt.datetime
    staff_id: int = Field(..., description="The master of the first service.")
    service_id: int
    seats_left: int | None = Field(None, description="Free places of a group session; null for other services.")
    why: WhyOut | None = Field(None, description="Why the first service's master (any master asked for).")
    lines: list[SlotLineOut]


class JournalQuery(Schema):
    branch_id: int = Field(..., ge=1, le=MAX_ID)
    date: BoundedDate
    days: int = Field(1, ge=1, le=7, description="1 (a day) or 7 (a week).")
    staff_ids: list[ObjectId] = Field(
        default_factory=list, max_length=50, description="Masters side by side, in this order; all when empty."
    )
    include_cancelled: bool = False


class IntervalOut(Schema):
    start: dt.datetime
    end: dt.datetime


class JournalEntryOut(Schema):
    appointment_id: int
    line_id: int
    position: int
    status: str
    client_id: int
    client_name: str
    service_id: int
    service_name: str
    resource_id: int | None
    start: dt.datetime
    end: dt.datetime


class JournalSessionOut(Schema):
    id: int
    service_id: int
    service_name: str
    resource_id: int | None
    start: dt.datetime
    end: dt.datetime
    capacity: int
    seats_taken: int
    status: str


class JournalColumnOut(Schema):
    staff_id: int
    name: str
    working: list[IntervalOut]
    appointments: list[JournalEntryOut]
    sessions: list[JournalSessionOut]


class JournalOut(Schema):
    branch_id: int
    time_zone: str
    days: list[dt.date]
    columns: list[JournalColumnOut]
