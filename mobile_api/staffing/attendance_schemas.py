"""Schemas of the shift-day API (attendance, rating, earnings, board, money, exports). Numbers and dates are bounded
and lengths mirror the columns, so no input reaches the database that it would refuse with a server error."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from mobile_api.pagination import NEXT_CURSOR, CursorPageQuery
from mobile_api.types import Text

MAX_ID = 2**63 - 1
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]
MIN_DATE = dt.date(2000, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)
Day = Annotated[dt.date, Field(ge=MIN_DATE, le=MAX_DATE)]


class PointIn(Schema):
    """Where the phone is (degrees, WGS 84)."""

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class MarkIn(Schema):
    outcome: Literal["no_show", "excused", "present"] = Field(
        description="no_show: did not come (lowers reliability and rank at once); excused: an absence that does "
        "not count (also over a no-show); present: came without checking in from the phone (give hours)."
    )
    hours: Decimal | None = Field(None, ge=0, le=24, max_digits=4, decimal_places=2)
    excuse_reason: Text = Field("", max_length=300)


class QualityIn(Schema):
    quality_score: int = Field(ge=1, le=10, description="The foreman's 1-10 score of the work.")


class AttendanceOut(Schema):
    id: int
    offer_id: int
    shift_id: int
    worker_id: int
    offer_status: str
    checked_in_at: dt.datetime | None
    check_in_distance_m: float | None
    checked_out_at: dt.datetime | None
    check_out_distance_m: float | None
    hours: Decimal | None
    quality_score: int | None
    no_show: bool
    excused: bool
    excuse_reason: str
    pay_amount: Decimal | None
    currency: str


class ShiftAttendanceRow(Schema):
    offer_id: int
    worker_id: int
    worker_name: str
    offer_status: str
    attendance: AttendanceOut | None


class ShiftAttendanceOut(Schema):
    shift_id: int
    items: list[ShiftAttendanceRow]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class ReliabilityChangeOut(Schema):
    occurred_at: dt.datetime
    reason: str
    reason_label: str
    reason_text: str
    reliability_before: float
    reliability_after: float
    rank_before: float
    rank_after: float
    shift_id: int | None


class RatingOut(Schema):
    worker_id: int
    reliability: float = Field(description="Estimated probability that you come to a shift you accepted.")
    rank: float = Field(description="0-100: 70% reliability, 30% the foremen's quality scores.")
    shows: int
    no_shows: int
    excused: int
    quality_scores: int
    changes: list[ReliabilityChangeOut] = Field(description="Newest first, each with its reason.")


class PeriodQuery(CursorPageQuery):
    date_from: Day | None = None
    date_to: Day | None = None


class EarningLineOut(Schema):
    shift_id: int
    date: dt.date
    order_title: str
    site_name: str
    hours: Decimal
    pay_rate: Decimal
    amount: Decimal
    currency: str


class MoneyTotal(Schema):
    currency: str
    amount: Decimal


class EarningsOut(Schema):
    hours: Decimal
    totals: list[MoneyTotal]
    items: list[EarningLineOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class BoardQuery(CursorPageQuery):
    organization_id: ObjectId | None = None


class BoardShiftOut(Schema):
    shift_id: int
    organization_id: int
    order_id: int
    order_title: str
    site_name: str
    date: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    headcount: int
    planned: int
    offered: int
    accepted: int
    confirmed: int
    checked_in: int
    no_show: int


class BoardOut(Schema):
    organization_id: int
    items: list[BoardShiftOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class ShiftMoneyOut(Schema):
    shift_id: int
    date: dt.date
    workers: int
    hours: Decimal
    pay: Decimal
    bill: Decimal
    margin: Decimal


class OrderMoneyOut(Schema):
    order_id: int
    currency: str
    workers: int
    hours: Decimal
    pay_total: Decimal
    bill_total: Decimal
    margin: Decimal
    margin_share: Decimal | None
    by_shift: list[ShiftMoneyOut]


class PayrollExportQuery(Schema):
    organization_id: ObjectId | None = None
    date_from: Day
    date_to: Day
    format: Literal["csv", "xlsx"] = "csv"


class InvoiceQuery(PayrollExportQuery):
    client_id: ObjectId | None = None
