"""Money: quarter-hour hours inside the shift's window, amounts rounded half up and frozen, sums per currency, a
worker's own earnings only, an order's margin and the exports within the caller's tenancy."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.utils import timezone

from backend.core.exceptions import ApplicationError, NotFound, PermissionDenied
from backend.core.models import Event, EventAction
from backend.organizations.models import Role
from backend.staffing.models import Order
from backend.staffing.services.attendance import attendance_mark
from backend.staffing.services.money import (
    amounts,
    client_billing,
    invoice_export,
    order_money,
    payroll_export,
    worked_hours,
    worker_earnings,
)
from tests.conftest import member
from tests.staffing.test_attendance import accepted_offer, consistent_world, shift_starting
from tests.staffing.world import order_with_shift, staffing_world

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
END = START + dt.timedelta(hours=12)


@pytest.mark.parametrize(
    ("checked_in", "checked_out", "hours"),
    [
        (START, END, "12.00"),
        (START - dt.timedelta(hours=1), END + dt.timedelta(hours=2), "12.00"),  # only the shift's window is paid
        (START + dt.timedelta(minutes=7), START + dt.timedelta(hours=3, minutes=57), "3.75"),  # 3 h 50 min
        (START + dt.timedelta(minutes=7), START + dt.timedelta(hours=4), "4.00"),  # 3 h 53 min: the nearest
        (START, START + dt.timedelta(minutes=7, seconds=30), "0.25"),  # half a quarter rounds up
        (START, START + dt.timedelta(minutes=7, seconds=29), "0.00"),
        (END + dt.timedelta(hours=1), END + dt.timedelta(hours=2), "0.00"),  # nothing inside the window
    ],
)
def test_hours_are_the_overlap_with_the_shift_to_the_quarter(checked_in, checked_out, hours) -> None:
    got = worked_hours(checked_in_at=checked_in, checked_out_at=checked_out, starts_at=START, ends_at=END)
    assert got == Decimal(hours)


def test_amounts_round_half_up_to_the_cent() -> None:
    assert amounts(hours=Decimal("7.75"), pay_rate=Decimal("333.33"), bill_rate=Decimal("0.01")) == (
        Decimal("2583.31"),  # 2583.3075
        Decimal("0.08"),  # 0.0775
    )


def _worked_day(world, *, hours: str = "8", currency: str = "RUB", site_=None):
    shift = shift_starting(world, timezone.now() - dt.timedelta(hours=2), site_=site_)
    Order.objects.filter(pk=shift.order_id).update(currency=currency)
    offers = [accepted_offer(shift, w) for w in world.workers]
    for offer in offers:
        attendance_mark(user=world.dispatcher, offer_id=offer.pk, outcome="present", hours=Decimal(hours))
    return shift


def test_a_worker_sees_only_their_own_earnings_per_currency() -> None:
    world = consistent_world(2)
    first = _worked_day(world, hours="8")
    _worked_day(world, hours="4", currency="KZT", site_=first.order.site)

    mine = worker_earnings(user=world.workers[0].user)

    assert mine.totals == {"RUB": Decimal("3200.00"), "KZT": Decimal("1600.00")}
    assert mine.hours == Decimal("12.00") and len(mine.lines) == 2
    assert {line.shift_id for line in mine.lines} <= set(
        world.workers[0].attendances.values_list("shift_id", flat=True)
    )
    with pytest.raises(NotFound):
        worker_earnings(user=world.dispatcher)
    with pytest.raises(ApplicationError) as backwards:
        worker_earnings(user=world.workers[0].user, date_from=first.date, date_to=first.date - dt.timedelta(days=1))
    assert backwards.value.code == "invalid_dates"


def test_order_money_and_billing_stay_inside_the_tenancy() -> None:
    world = consistent_world(2)
    shift = _worked_day(world, hours="10")
    stranger = staffing_world(0)

    figures = order_money(user=world.hq_dispatcher, order_id=shift.order_id)  # the HQ sees its franchise's order
    billing = client_billing(user=world.dispatcher, organization_id=world.franchise.pk)

    assert (figures.hours, figures.pay_total, figures.bill_total, figures.margin) == (
        Decimal("20.00"),
        Decimal("8000.00"),
        Decimal("13000.00"),
        Decimal("5000.00"),
    )
    assert billing == [
        {
            "client_id": shift.order.client_id,
            "client": "Stroy LLC",
            "currency": "RUB",
            "hours": Decimal("20.00"),
            "amount": Decimal("13000.00"),
        }
    ]
    with pytest.raises(NotFound):
        order_money(user=stranger.dispatcher, order_id=shift.order_id)
    with pytest.raises(PermissionDenied):
        order_money(user=member(world.franchise, Role.ANALYST), order_id=shift.order_id)


def test_exports_are_recorded_refuse_a_strangers_client_and_write_xlsx() -> None:
    world = consistent_world(1)
    shift = _worked_day(world)
    stranger = staffing_world(0)
    _, foreign = order_with_shift(stranger.franchise)
    events = Event.objects.filter(action=EventAction.EXPORT).count()

    content, name, content_type = payroll_export(
        user=world.dispatcher,
        organization_id=world.franchise.pk,
        date_from=shift.date,
        date_to=shift.date,
        fmt="xlsx",
    )
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("date", "worker_id", "worker") and len(rows) == 2
    assert name.endswith(".xlsx") and "spreadsheet" in content_type
    with pytest.raises(NotFound):
        invoice_export(
            user=world.dispatcher,
            organization_id=world.franchise.pk,
            date_from=shift.date,
            date_to=shift.date,
            client_id=foreign.order.client_id,
        )
    with pytest.raises(ApplicationError) as too_long:
        payroll_export(
            user=world.dispatcher,
            organization_id=world.franchise.pk,
            date_from=shift.date,
            date_to=shift.date + dt.timedelta(days=400),
        )
    assert too_long.value.code == "invalid_dates"
    assert Event.objects.filter(action=EventAction.EXPORT).count() == events + 1  # refusals leave no event
