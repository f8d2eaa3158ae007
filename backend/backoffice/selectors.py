"""Today's numbers for the back office's landing page, over the organizations the staff user may see.

Each organization counts its own local day (its branches' zone). Money is summed per currency, never mixed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, Sum

from backend.booking.models import Appointment, AppointmentStatus, WorkPattern
from backend.booking.selectors import branch_working_intervals
from backend.core.clock import clock_now
from backend.organizations.models import Branch, Organization
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_ids_for
from backend.staffing.models import Offer, OfferStatus, Order, Shift, ShiftStatus

#: Call-ups holding a place on a shift (filled), whether or not the shift has started.
FILLED = (OfferStatus.ACCEPTED, OfferStatus.CONFIRMED, OfferStatus.CHECKED_IN, OfferStatus.COMPLETED)
LIVE_VISIT = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED, AppointmentStatus.ARRIVED, AppointmentStatus.DONE)


@dataclass(frozen=True)
class TodayFigures:
    bookings: int = 0  # visits today that are not cancelled (or a no-show yet)
    done: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)  # done visits, per currency
    booked_minutes: int = 0
    scheduled_minutes: int = 0
    orders: int = 0  # staffing orders with a shift today
    headcount: int = 0
    filled: int = 0

    @property
    def average_check(self) -> dict[str, Decimal]:
        return {cur: (total / self.done).quantize(Decimal("1")) for cur, total in self.revenue.items() if self.done}

    @property
    def load_percent(self) -> int | None:
        return round(100 * self.booked_minutes / self.scheduled_minutes) if self.scheduled_minutes else None

    @property
    def fill_percent(self) -> int | None:
        return round(100 * self.filled / self.headcount) if self.headcount else None


def _day_bounds(zone: ZoneInfo, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)


def today_figures(*, user: Any, now: dt.datetime | None = None) -> TodayFigures:
    """Today's bookings, revenue, average check, load %, orders and fill rate in the caller's organizations: the
    booking figures where they may see the schedules, the staffing ones where they dispatch (analysts: both)."""
    now = now or clock_now()
    analyst = organization_ids_for(user, Perm.ANALYTICS_EXPORT)
    booking_orgs = organization_ids_for(user, Perm.SCHEDULE_VIEW) | analyst
    staffing_orgs = organization_ids_for(user, Perm.STAFFING_MANAGE) | analyst

    bookings = done = booked = scheduled = 0
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for branch in Branch.objects.filter(organization_id__in=booking_orgs).select_related("organization"):
        zone = ZoneInfo(branch.effective_time_zone)
        day = now.astimezone(zone).date()
        start, end = _day_bounds(zone, day)
        visits = Appointment.objects.filter(branch=branch, starts_at__gte=start, starts_at__lt=end)
        counts = visits.aggregate(
            live=Count("pk", filter=Q(status__in=LIVE_VISIT)), done=Count("pk", filter=Q(status=AppointmentStatus.DONE))
        )
        bookings += counts["live"]
        done += counts["done"]
        for currency, total in (
            visits.filter(status=AppointmentStatus.DONE)
            .values_list("currency")
            .annotate(t=Sum("price"))
            .values_list("currency", "t")
        ):
            revenue[currency] += total or Decimal(0)
        for a, b in visits.filter(status__in=LIVE_VISIT).values_list("starts_at", "ends_at"):
            booked += int((b - a).total_seconds() // 60)
        staff = set(WorkPattern.objects.filter(branch=branch).values_list("staff_id", flat=True))
        for intervals in branch_working_intervals(branch=branch, staff_ids=staff, first_day=day, last_day=day).values():
            scheduled += sum(int((b - a).total_seconds() // 60) for a, b in intervals)

    orders = headcount = filled = 0
    for org in Organization.objects.filter(pk__in=staffing_orgs):
        day = now.astimezone(ZoneInfo(org.time_zone)).date()
        shifts = Shift.objects.filter(organization=org, date=day).exclude(status=ShiftStatus.CANCELLED)
        orders += Order.objects.filter(shifts__in=shifts).distinct().count()
        headcount += shifts.aggregate(h=Sum("headcount"))["h"] or 0
        filled += Offer.objects.filter(shift__in=shifts, status__in=FILLED).count()
    return TodayFigures(
        bookings=bookings,
        done=done,
        revenue=dict(revenue),
        booked_minutes=booked,
        scheduled_minutes=scheduled,
        orders=orders,
        headcount=headcount,
        filled=filled,
    )
