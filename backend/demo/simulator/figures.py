"""The day line: what the database says happened on one day (read back, not counted by the simulator)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, Sum

from backend.booking.models import Appointment, AppointmentStatus
from backend.staffing.models import Offer, OfferStatus, Order, Shift

#: Call-ups that put nobody on the shift.
WASTED = (OfferStatus.DECLINED, OfferStatus.EXPIRED, OfferStatus.RELEASED, OfferStatus.NO_SHOW, OfferStatus.WITHDRAWN)
SHOWED = (OfferStatus.CHECKED_IN, OfferStatus.COMPLETED)


@dataclass(frozen=True)
class DayLine:
    day: dt.date
    bookings: int  # visits on the day (any status but a hold)
    done: int
    no_shows: int
    cancelled: int
    revenue: dict[str, Decimal] = field(default_factory=dict)  # done visits' prices, per currency
    orders: int = 0  # orders confirmed that day
    headcount: int = 0  # places on the day's shifts
    shows: int = 0  # places filled by a worker who came (at most the shift's headcount)
    wasted_callups: int = 0

    @property
    def fill_rate(self) -> float | None:
        return self.shows / self.headcount if self.headcount else None

    def text(self) -> str:
        revenue = " + ".join(f"{amount:,.0f} {cur}" for cur, amount in sorted(self.revenue.items())) or "0"
        fill = f"{100 * self.fill_rate:.0f}%" if self.fill_rate is not None else "-"
        return (
            f"{self.day.isoformat()} {self.day.strftime('%a')}  bookings {self.bookings} (done {self.done}, "
            f"no-show {self.no_shows}, cancelled {self.cancelled})  revenue {revenue}  orders {self.orders}  "
            f"fill rate {fill} ({self.shows}/{self.headcount})  wasted call-ups {self.wasted_callups}"
        )


def day_line(*, day: dt.date, booking_zones: dict[int, ZoneInfo], agency_ids: list[int]) -> DayLine:
    """Figures of ``day``: visits of each booking organization on its local day, orders confirmed that (UTC) day
    by the agencies, and the agencies' shifts dated that day."""
    visits = Appointment.objects.none()
    for org_id, zone in booking_zones.items():
        start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
        visits = visits | Appointment.objects.filter(
            organization_id=org_id, starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1)
        )
    visits = visits.exclude(status=AppointmentStatus.HELD)
    counts = visits.aggregate(
        n=Count("pk"),
        done=Count("pk", filter=Q(status=AppointmentStatus.DONE)),
        no_show=Count("pk", filter=Q(status=AppointmentStatus.NO_SHOW)),
        cancelled=Count("pk", filter=Q(status=AppointmentStatus.CANCELLED)),
    )
    revenue = {
        cur: total
        for cur, total in visits.filter(status=AppointmentStatus.DONE)
        .values_list("currency")
        .annotate(total=Sum("price"))
        .values_list("currency", "total")
    }
    utc_day = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    orders = Order.objects.filter(
        organization_id__in=agency_ids, confirmed_at__gte=utc_day, confirmed_at__lt=utc_day + dt.timedelta(days=1)
    ).count()
    shifts = Shift.objects.filter(organization_id__in=agency_ids, date=day)
    offers = Offer.objects.filter(shift__in=shifts)
    # A shift is filled up to its headcount: the solver may call more (no-shows expected), extra shows do not count.
    came = dict(
        offers.filter(status__in=SHOWED).values("shift_id").annotate(n=Count("pk")).values_list("shift_id", "n")
    )
    per_shift = list(shifts.values_list("pk", "headcount"))
    headcount = sum(h for _pk, h in per_shift)
    shows = sum(min(came.get(pk, 0), h) for pk, h in per_shift)
    return DayLine(
        day=day,
        bookings=counts["n"],
        done=counts["done"],
        no_shows=counts["no_show"],
        cancelled=counts["cancelled"],
        revenue=revenue,
        orders=orders,
        headcount=headcount,
        shows=shows,
        wasted_callups=offers.filter(status__in=WASTED, offered_at__isnull=False).count(),
    )
