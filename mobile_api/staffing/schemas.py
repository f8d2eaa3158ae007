"""Staffing API schemas. Lengths mirror the model columns; numbers, dates and times are bounded so no input reaches
the database (or a time-zone conversion) that would fail with a server error."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, Field

from mobile_api.pagination import NEXT_CURSOR, CursorPageQuery
from mobile_api.types import Text

MAX_ID = 2**63 - 1
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]
MIN_DATE = dt.date(2000, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)
Day = Annotated[dt.date, Field(ge=MIN_DATE, le=MAX_DATE)]
Latitude = Annotated[Decimal, Field(ge=-90, le=90, max_digits=9, decimal_places=6)]
Longitude = Annotated[Decimal, Field(ge=-180, le=180, max_digits=9, decimal_places=6)]
Rate = Annotated[Decimal, Field(ge=0, le=100000, max_digits=10, decimal_places=2)]
Skill = Annotated[Text, Field(min_length=1, max_length=40)]


def _bounded(value: dt.datetime) -> dt.datetime:
    # Aware, and inside years a conversion to UTC cannot overflow (year 1 or 9999 with an offset would).
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give the time with its UTC offset")
    if not MIN_DATE.year <= value.year <= MAX_DATE.year:
        raise ValueError(f"the year must be between {MIN_DATE.year} and {MAX_DATE.year}")
    return value.astimezone(dt.UTC)


Moment = Annotated[dt.datetime, AfterValidator(_bounded)]


# --- workers --------------------------------------------------------------------------------------------------


class WorkerOut(Schema):
    id: int
    organization_id: int
    user_id: int
    name: str
    phone: str
    status: str
    skills: list[str]
    home_latitude: Decimal | None
    home_longitude: Decimal | None
    reliability: float
    rank: float
    shows_count: int
    no_shows_count: int
    excused_count: int


class WorkerProfileOut(WorkerOut):
    interview_notes: str
    interviewed_at: dt.datetime | None
    photo_url: str | None = None


class WorkerRowOut(Schema):
    """A pool list row: who, how to reach them, where they stand. The profile (``GET /workers/{id}``) adds the rest."""

    id: int
    organization_id: int
    user_id: int
    name: str
    phone: str
    status: str
    skills: list[str]
    reliability: float
    rank: float
    photo_url: str | None = None


class WorkerListOut(Schema):
    items: list[WorkerRowOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class WorkerRecruitIn(Schema):
    organization_id: ObjectId | None = None
    phone: Text = Field(..., max_length=16)
    first_name: Text = Field("", max_length=150)
    last_name: Text = Field("", max_length=150)
    skills: list[Skill] = Field(default_factory=list, max_length=20)
    home_latitude: Latitude | None = None
    home_longitude: Longitude | None = None


class WorkerStatusIn(Schema):
    status: Literal["interviewed", "active", "suspended"]
    notes: Text | None = Field(None, max_length=5000, description="the recruiter's interview notes")


class WorkerHomeIn(Schema):
    home_latitude: Latitude
    home_longitude: Longitude


class AvailabilityWindowIn(Schema):
    starts_at: Moment
    ends_at: Moment


class AvailabilityIn(Schema):
    windows: list[AvailabilityWindowIn] = Field(..., max_length=100)
    replace_from: Moment | None = Field(
        None, description="replace your windows ending after this moment by these (send the whole week at once)"
    )


class AvailabilityWindowOut(Schema):
    id: int
    starts_at: dt.datetime
    ends_at: dt.datetime


class AvailabilityOut(Schema):
    items: list[AvailabilityWindowOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


# --- offers and shifts (the worker's side) -----------------------------------------------------------------------


class OfferOut(Schema):
    id: int
    organization_id: int
    shift_id: int
    order_title: str
    site_address: str
    site_latitude: Decimal
    site_longitude: Decimal
    conditions: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    pay_rate: Decimal
    currency: str
    status: str
    wave: int
    is_standby: bool
    offered_at: dt.datetime | None
    expires_at: dt.datetime | None
    confirm_requested_at: dt.datetime | None
    confirmed_at: dt.datetime | None


class OfferListOut(Schema):
    items: list[OfferOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class OfferPageQuery(CursorPageQuery):
    limit: int = Field(200, ge=1, le=200, description="Rows per page.")


class OfferStatusQuery(OfferPageQuery):
    status: str | None = Field(None, max_length=16)


class OfferDeclineIn(Schema):
    reason: Text = Field("", max_length=255)


# --- clients, sites, orders --------------------------------------------------------------------------------------


class StaffingOrgQuery(CursorPageQuery):
    organization_id: ObjectId | None = None


class WorkerListQuery(StaffingOrgQuery):
    status: Literal["candidate", "interviewed", "active", "suspended"] | None = None


class CorporateClientIn(Schema):
    organization_id: ObjectId | None = None
    name: Text = Field(..., min_length=1, max_length=200)
    inn: Text = Field(..., max_length=12)
    kpp: Text = Field("", max_length=9)
    ogrn: Text = Field("", max_length=15)
    legal_name: Text = Field("", max_length=300)
    legal_address: Text = Field("", max_length=300)
    contact_name: Text = Field("", max_length=200)
    contact_phone: Text = Field("", max_length=16)
    contact_email: Text = Field("", max_length=254)


class CorporateClientPatchIn(Schema):
    name: Text | None = Field(None, min_length=1, max_length=200)
    inn: Text | None = Field(None, max_length=12)
    kpp: Text | None = Field(None, max_length=9)
    ogrn: Text | None = Field(None, max_length=15)
    legal_name: Text | None = Field(None, max_length=300)
    legal_address: Text | None = Field(None, max_length=300)
    contact_name: Text | None = Field(None, max_length=200)
    contact_phone: Text | None = Field(None, max_length=16)
    contact_email: Text | None = Field(None, max_length=254)
    is_active: bool | None = None


class CorporateClientOut(Schema):
    id: int
    organization_id: int
    name: str
    legal_name: str
    inn: str
    kpp: str
    ogrn: str
    legal_address: str
    contact_name: str
    contact_phone: str
    contact_email: str
    is_active: bool


class CorporateClientListOut(Schema):
    items: list[CorporateClientOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


Condition = Literal["warm_warehouse", "cold_warehouse", "outdoor", "indoor", "construction", "store"]


class SiteIn(Schema):
    client_id: ObjectId
    name: Text = Field(..., min_length=1, max_length=200)
    address: Text = Field(..., min_length=1, max_length=300)
    latitude: Latitude
    longitude: Longitude
    conditions: Condition
    time_zone: Text = Field("", max_length=64)
    check_in_radius_m: int = Field(300, ge=10, le=10000)
    notes: Text = Field("", max_length=5000)


class SiteOut(Schema):
    id: int
    organization_id: int
    client_id: int
    name: str
    address: str
    latitude: Decimal
    longitude: Decimal
    conditions: str
    time_zone: str
    check_in_radius_m: int


class SiteListOut(Schema):
    items: list[SiteOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class SiteListQuery(StaffingOrgQuery):
    client_id: ObjectId | None = None


class OrderIn(Schema):
    site_id: ObjectId
    title: Text = Field(..., min_length=1, max_length=200)
    start_date: Day
    end_date: Day
    shift_start: dt.time = Field(..., description="site-local time; an end at or before it is the next day's")
    shift_end: dt.time
    headcount: int = Field(..., ge=1, le=1000)
    skills: list[Skill] = Field(default_factory=list, max_length=20)
    pay_rate: Rate = Field(..., description="per hour, to each worker")
    bill_rate: Rate = Field(..., description="per hour, to the client")
    notes: Text = Field("", max_length=5000)


class OrderListQuery(StaffingOrgQuery):
    status: Literal["draft", "confirmed", "in_progress", "completed", "cancelled"] | None = None


class ShiftOut(Schema):
    id: int
    date: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    headcount: int
    status: str
    call_cap: int
    offered_count: int
    accepted_count: int
    confirmed_count: int
    checked_in_count: int
    no_show_count: int
    expected_attendance: float
    fill_probability: float


class OrderOut(Schema):
    id: int
    organization_id: int
    client_id: int
    site_id: int
    handed_from_id: int | None
    title: str
    start_date: dt.date
    end_date: dt.date
    shift_start: dt.time
    shift_end: dt.time
    headcount: int
    skills: list[str]
    pay_rate: Decimal
    bill_rate: Decimal
    currency: str
    status: str


class OrderCardOut(OrderOut):
    shifts: list[ShiftOut]


class OrderListOut(Schema):
    items: list[OrderOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class OrderCancelIn(Schema):
    reason: Text = Field("", max_length=255)


class HandOffIn(Schema):
    franchise_id: ObjectId


class OverrideIn(Schema):
    worker_id: ObjectId
    kind: Literal["pin", "exclude"] | None = Field(..., description="null clears the override")


class OverrideOut(Schema):
    worker_id: int
    kind: str | None


class SolverRunOut(Schema):
    id: int
    organization_id: int
    order_id: int
    kind: str
    status: str
    error: str
    figures: dict[str, Any]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    build_s: float | None
    solve_s: float | None


class SolverRunCardOut(SolverRunOut):
    input: dict[str, Any]
    output: dict[str, Any]


class SolverRunListOut(Schema):
    items: list[SolverRunOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class DispatchWhyOut(Schema):
    offer_id: int
    shift_id: int
    worker_id: int
    worker_name: str
    status: str
    position: int
    is_standby: bool
    pinned: bool
    wave: int
    show_probability: float
    worker_rank: float
    distance_km: float | None


class WhyListOut(Schema):
    items: list[DispatchWhyOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)
