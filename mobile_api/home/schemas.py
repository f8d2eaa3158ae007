"""Home screen schemas: one block per role, each ``null`` when the caller does not hold it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema

from mobile_api.booking.schemas import AppointmentOut
from mobile_api.staffing.attendance_schemas import MoneyTotal
from mobile_api.staffing.schemas import MAX_ID, OfferOut

AT_RISK_HOURS_MAX = 168


class HomeQuery(Schema):
    organization_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="The organization to open in; default: your first membership's."
    )
    at_risk_hours: int = Field(
        24, ge=1, le=AT_RISK_HOURS_MAX, description="Dispatchers: shifts short of workers starting within this."
    )


class WaitlistOfferCardOut(Schema):
    entry_id: int
    offer_id: int
    organization_id: int
    branch_name: str
    staff_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    hold_until: dt.datetime


class CustomerHomeOut(Schema):
    next_visits: list[AppointmentOut]
    waitlist_offers: list[WaitlistOfferCardOut]


class WorkerHomeOut(Schema):
    open_offers: list[OfferOut]
    next_shift: OfferOut | None
    confirmations_due: list[OfferOut]
    month_start: dt.date
    month_hours: Decimal
    month_totals: list[MoneyTotal]


class MasterHomeOut(Schema):
    date: dt.date
    visits: list[AppointmentOut]


class AtRiskShiftOut(Schema):
    shift_id: int
    order_id: int
    order_title: str
    site_address: str
    starts_at: dt.datetime
    headcount: int
    accepted: int
    confirmed: int
    missing: int


class DispatcherHomeOut(Schema):
    within_hours: int
    at_risk: list[AtRiskShiftOut]


class StatusCount(Schema):
    status: str
    count: int


class ManagerHomeOut(Schema):
    date: dt.date
    appointments: int
    by_status: list[StatusCount]
    expected_revenue: list[MoneyTotal]
    new_clients: int


class HomeOut(Schema):
    organization_id: int | None
    roles: list[str]
    customer: CustomerHomeOut
    worker: WorkerHomeOut | None
    master: MasterHomeOut | None
    dispatcher: DispatcherHomeOut | None
    manager: ManagerHomeOut | None
