"""Money: hours worked × the order's pay rate to each worker, × its bill rate to the client, and the margin.

Amounts are ``Decimal`` in the order's currency, rounded half up to kopecks once per attendance when its hours are
set (check-out, or the foreman's mark), and frozen on the attendance: a later change of an order's rates does not
rewrite what was earned. Hours are the overlap of the check-in/check-out with the shift's window, rounded to the
nearest quarter hour. Sums are per currency, never across currencies.

Payroll and invoice CSV files go out through the same table writer as the CRM export, and each export is recorded
in the event log (who took which rows, when, with which filters).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from backend.core.cursors import keyset_page
from backend.core.events import export_record
from backend.core.exceptions import NotFound, ValidationFailed
from backend.imports.selectors import EXPORT_CONTENT_TYPES
from backend.imports.tables import table_write
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_get, organization_ids_for
from backend.staffing.exceptions import StaffingErrorCode
from backend.staffing.models import Attendance, CorporateClient, Order, Worker

CENT = Decimal("0.01")
QUARTER_HOURS = Decimal(4)
EXPORT_MAX_DAYS = 366
PAYROLL_COLUMNS = (
    "date",
    "worker_id",
    "worker",
    "phone",
    "order_id",
    "order",
    "site",
    "hours",
    "pay_rate",
    "amount",
    "currency",
)
INVOICE_COLUMNS = (
    "date",
    "client_id",
    "client",
    "inn",
    "kpp",
    "order_id",
    "order",
    "site",
    "workers",
    "hours",
    "bill_rate",
    "amount",
    "currency",
)


def worked_hours(
    *, checked_in_at: dt.datetime, checked_out_at: dt.datetime, starts_at: dt.datetime, ends_at: dt.datetime
) -> Decimal:
    """Hours inside the shift's window between check-in and check-out, to the nearest quarter hour (0 if none)."""
    start = max(checked_in_at, starts_at)
    end = min(checked_out_at, ends_at)
    seconds = max(0.0, (end - start).total_seconds())
    quarters = (Decimal(str(seconds)) / Decimal(900)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return (quarters / QUARTER_HOURS).quantize(CENT)


def amounts(*, hours: Decimal, pay_rate: Decimal, bill_rate: Decimal) -> tuple[Decimal, Decimal]:
    """(pay to the worker, bill to the client) for ``hours``, each rounded half up to the cent."""
    return (hours * pay_rate).quantize(CENT, rounding=ROUND_HALF_UP), (hours * bill_rate).quantize(
        CENT, rounding=ROUND_HALF_UP
    )


def attendance_amounts_set(attendance: Attendance, *, hours: Decimal, order: Order) -> None:
    """Freeze ``hours`` and the amounts they earn on ``attendance`` (the caller saves it in its transaction)."""
    attendance.hours = hours
    attendance.pay_amount, attendance.bill_amount = amounts(
        hours=hours, pay_rate=order.pay_rate, bill_rate=order.bill_rate
    )


def _paid() -> QuerySet[Attendance]:
    return Attendance.objects.filter(hours__isnull=False, pay_amount__isnull=False).select_related(
        "shift", "shift__order", "shift__order__site", "shift__order__client", "worker", "worker__user"
    )


def _period(qs: QuerySet[Attendance], date_from: dt.date | None, date_to: dt.date | None) -> QuerySet[Attendance]:
    if date_from is not None and date_to is not None and date_to < date_from:
        raise ValidationFailed(
            _("The period ends before it starts."),
            code=StaffingErrorCode.INVALID_DATES,
            fields={"date_to": [_("Must not be before date_from.")]},
        )
    if date_from is not None:
        qs = qs.filter(shift__date__gte=date_from)
    if date_to is not None:
        qs = qs.filter(shift__date__lte=date_to)
    return qs


def _add(totals: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    totals[currency] = totals.get(currency, Decimal("0.00")) + amount


@dataclass(frozen=True)
class EarningLine:
    """One worked shift of a worker."""

    attendance_id: int
    shift_id: int
    date: dt.date
    order_title: str
    site_name: str
    hours: Decimal
    pay_rate: Decimal
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Earnings:
    """A worker's worked shifts in a period and their totals per currency."""

    lines: list[EarningLine]
    hours: Decimal
    totals: dict[str, Decimal]


def _earning_line(a: Attendance) -> EarningLine:
    assert a.hours is not None and a.pay_amount is not None  # filtered by _paid
    order = a.shift.order
    return EarningLine(
        attendance_id=a.pk,
        shift_id=a.shift_id,
        date=a.shift.date,
        order_title=order.title,
        site_name=order.site.name,
        hours=a.hours,
        pay_rate=order.pay_rate,
        amount=a.pay_amount,
        currency=order.currency,
    )


def _worked(user: Any, date_from: dt.date | None, date_to: dt.date | None) -> QuerySet[Attendance]:
    worker = Worker.objects.filter(user_id=getattr(user, "pk", 0) or 0).first()
    if worker is None:
        raise NotFound(_("You are not in a worker pool."), code=StaffingErrorCode.NOT_A_WORKER)
    return _period(_paid().filter(worker=worker), date_from, date_to)


def worker_earnings(*, user: Any, date_from: dt.date | None = None, date_to: dt.date | None = None) -> Earnings:
    """The caller's own earnings (the caller must be a pool worker): every shift with hours in the period."""
    lines = []
    totals: dict[str, Decimal] = {}
    hours = Decimal("0.00")
    for a in _worked(user, date_from, date_to).order_by("shift__starts_at", "id"):
        line = _earning_line(a)
        lines.append(line)
        hours += line.hours
        _add(totals, line.currency, line.amount)
    return Earnings(lines=lines, hours=hours, totals=totals)


def worker_earnings_page(
    *, user: Any, date_from: dt.date | None, date_to: dt.date | None, cursor: str | None, limit: int
) -> tuple[Earnings, str | None]:
    """The period's totals (every worked shift of it) with one page of its lines, in shift order by keyset, and the
    cursor of the next page (None on the last)."""
    worked = _worked(user, date_from, date_to)
    rows, next_cursor = keyset_page(
        worked, sort="staffing.earnings", keys=[("shift__starts_at", dt.datetime)], cursor=cursor, limit=limit
    )
    # The totals from three columns of every line, summed here as Decimals (exact on every database).
    totals: dict[str, Decimal] = {}
    hours = Decimal("0.00")
    for line_hours, amount, currency in worked.order_by().values_list("hours", "pay_amount", "shift__order__currency"):
        assert line_hours is not None and amount is not None  # filtered by _paid
        hours += line_hours
        _add(totals, currency, amount)
    return Earnings(lines=[_earning_line(a) for a in rows], hours=hours, totals=totals), next_cursor


def worker_earnings_month(*, user: Any, now: dt.datetime | None = None) -> tuple[dt.date, dt.date, Earnings]:
    """The caller's earnings of the current calendar month in their pool's time zone: (first day, today, earnings).
    The bot's and any short summary's period; ``worker_earnings`` takes any period."""
    from django.utils import timezone

    from .availability_days import pool_zone

    worker = Worker.objects.filter(user_id=getattr(user, "pk", 0) or 0).select_related("organization").first()
    if worker is None:
        raise NotFound(_("You are not in a worker pool."), code=StaffingErrorCode.NOT_A_WORKER)
    today = (now or timezone.now()).astimezone(pool_zone(worker)).date()
    first = today.replace(day=1)
    return first, today, worker_earnings(user=user, date_from=first, date_to=today)


@dataclass(frozen=True)
class OrderMoney:
    """What an order earned so far: hours, paid to workers, billed to the client, margin (all in its currency)."""

    order_id: int
    currency: str
    workers: int
    hours: Decimal
    pay_total: Decimal
    bill_total: Decimal
    margin: Decimal
    margin_share: Decimal | None  # margin / bill, None while nothing is billed
    by_shift: list[dict[str, Any]] = field(default_factory=list)


def order_money(*, user: Any, order_id: int) -> OrderMoney:
    """Hours × rates summed over the order's attendances, per shift and in total, with the margin. Dispatchers,
    managers and owners of the order's organization (404 outside the caller's tenancy, 403 without the right)."""
    order = Order.objects.filter(pk=order_id, organization_id__in=organization_ids_for(user)).first()
    if order is None:
        raise NotFound(_("Order not found."))
    organization_get(user, order.organization_id, Perm.STAFFING_MANAGE)
    per_shift: dict[int, dict[str, Any]] = {}
    hours = pay = bill = Decimal("0.00")
    workers: set[int] = set()
    for a in _paid().filter(shift__order=order).order_by("shift__starts_at", "id"):
        assert a.hours is not None and a.pay_amount is not None and a.bill_amount is not None
        row = per_shift.setdefault(
            a.shift_id,
            {
                "shift_id": a.shift_id,
                "date": a.shift.date,
                "workers": 0,
                "hours": Decimal("0.00"),
                "pay": Decimal("0.00"),
                "bill": Decimal("0.00"),
            },
        )
        row["workers"] += 1
        row["hours"] += a.hours
        row["pay"] += a.pay_amount
        row["bill"] += a.bill_amount
        hours, pay, bill = hours + a.hours, pay + a.pay_amount, bill + a.bill_amount
        workers.add(a.worker_id)
    for row in per_shift.values():
        row["margin"] = row["bill"] - row["pay"]
    margin = bill - pay
    return OrderMoney(
        order_id=order.pk,
        currency=order.currency,
        workers=len(workers),
        hours=hours,
        pay_total=pay,
        bill_total=bill,
        margin=margin,
        margin_share=(margin / bill).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) if bill else None,
        by_shift=list(per_shift.values()),
    )


def _export_period(date_from: dt.date, date_to: dt.date) -> None:
    if (date_to - date_from).days + 1 > EXPORT_MAX_DAYS:
        raise ValidationFailed(
            _("An export covers at most %(days)d days.") % {"days": EXPORT_MAX_DAYS},
            code=StaffingErrorCode.INVALID_DATES,
            fields={"date_to": [_("The period is too long.")]},
        )


def _check_format(fmt: str) -> str:
    if fmt not in EXPORT_CONTENT_TYPES:
        raise ValidationFailed(_("Unknown file format."), fields={"format": [_("csv or xlsx.")]})
    return fmt


@transaction.atomic
def payroll_export(
    *, user: Any, organization_id: int, date_from: dt.date, date_to: dt.date, fmt: str = "csv"
) -> tuple[bytes, str, str]:
    """The payroll of an organization's shifts in ``[date_from, date_to]``: one line per worker and shift with hours,
    pay rate and amount; (content, file name, content type). Recorded in the event log as an export."""
    organization = organization_get(user, organization_id, Perm.STAFFING_MANAGE)
    fmt = _check_format(fmt)
    qs = _period(_paid().filter(organization_id=organization.pk), date_from, date_to)
    _export_period(date_from, date_to)
    rows = []
    for a in qs.order_by("shift__date", "worker_id", "id"):
        order, person = a.shift.order, a.worker.user
        rows.append(
            [
                a.shift.date,
                a.worker_id,
                person.get_full_name(),
                person.phone,
                order.pk,
                order.title,
                order.site.name,
                a.hours,
                order.pay_rate,
                a.pay_amount,
                order.currency,
            ]
        )
    content = table_write(PAYROLL_COLUMNS, rows, fmt)
    export_record(
        model=Attendance,
        actor=user,
        organization_id=organization.pk,
        row_count=len(rows),
        file_format=fmt,
        filters={"kind": "payroll", "date_from": date_from, "date_to": date_to},
    )
    return content, f"payroll-{organization.pk}-{date_from}-{date_to}.{fmt}", EXPORT_CONTENT_TYPES[fmt]


@transaction.atomic
def invoice_export(
    *,
    user: Any,
    organization_id: int,
    date_from: dt.date,
    date_to: dt.date,
    client_id: int | None = None,
    fmt: str = "csv",
) -> tuple[bytes, str, str]:
    """What to invoice the organization's clients (or one ``client_id``) for ``[date_from, date_to]``: one line per
    shift with workers, hours, bill rate and amount; (content, file name, content type). Recorded as an export."""
    organization = organization_get(user, organization_id, Perm.STAFFING_MANAGE)
    fmt = _check_format(fmt)
    qs = _period(_paid().filter(organization_id=organization.pk), date_from, date_to)
    _export_period(date_from, date_to)
    if client_id is not None:
        if not CorporateClient.objects.filter(pk=client_id, organization_id=organization.pk).exists():
            raise NotFound(_("Client not found."))
        qs = qs.filter(shift__order__client_id=client_id)
    lines: dict[int, dict[str, Any]] = {}
    for a in qs.order_by("shift__date", "shift_id", "id"):
        assert a.hours is not None and a.bill_amount is not None
        order = a.shift.order
        line = lines.setdefault(
            a.shift_id,
            {
                "date": a.shift.date,
                "client": order.client,
                "order": order,
                "workers": 0,
                "hours": Decimal("0.00"),
                "amount": Decimal("0.00"),
            },
        )
        line["workers"] += 1
        line["hours"] += a.hours
        line["amount"] += a.bill_amount
    rows = [
        [
            line["date"],
            line["client"].pk,
            line["client"].name,
            line["client"].inn,
            line["client"].kpp,
            line["order"].pk,
            line["order"].title,
            line["order"].site.name,
            line["workers"],
            line["hours"],
            line["order"].bill_rate,
            line["amount"],
            line["order"].currency,
        ]
        for line in lines.values()
    ]
    content = table_write(INVOICE_COLUMNS, rows, fmt)
    export_record(
        model=Attendance,
        actor=user,
        organization_id=organization.pk,
        row_count=len(rows),
        file_format=fmt,
        filters={"kind": "invoice", "date_from": date_from, "date_to": date_to, "client_id": client_id},
    )
    suffix = f"-client{client_id}" if client_id is not None else ""
    return content, f"invoice-{organization.pk}{suffix}-{date_from}-{date_to}.{fmt}", EXPORT_CONTENT_TYPES[fmt]


def client_billing(
    *, user: Any, organization_id: int, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> list[dict[str, Any]]:
    """Per client of the organization: hours and amount billed in the period, per currency."""
    organization = organization_get(user, organization_id, Perm.STAFFING_MANAGE)
    per: dict[tuple[int, str], dict[str, Any]] = defaultdict(dict)
    for a in _period(_paid().filter(organization_id=organization.pk), date_from, date_to):
        assert a.hours is not None and a.bill_amount is not None
        order = a.shift.order
        row = per[(order.client_id, order.currency)]
        if not row:
            row.update(
                client_id=order.client_id,
                client=order.client.name,
                currency=order.currency,
                hours=Decimal("0.00"),
                amount=Decimal("0.00"),
            )
        row["hours"] += a.hours
        row["amount"] += a.bill_amount
    return sorted(per.values(), key=lambda r: (r["client"], r["currency"]))
