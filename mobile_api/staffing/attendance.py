"""Staffing API, the shift itself: workers check in and out, read their earnings and their rating with reasons;
foremen and dispatchers mark attendance and scores, watch the board, read an order's money and export payroll and
invoices. Thin: every read is a selector or a read service, every write a service."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_for_action
from backend.staffing.models import Attendance
from backend.staffing.services import attendance as attendance_services
from backend.staffing.services import board, money
from mobile_api.errors import OBJECT_ERROR_RESPONSES, ErrorEnvelope
from mobile_api.pagination import CursorPageQuery

from .attendance_schemas import (
    AttendanceOut,
    BoardOut,
    BoardQuery,
    EarningsOut,
    InvoiceQuery,
    MarkIn,
    MoneyTotal,
    OrderMoneyOut,
    PayrollExportQuery,
    PeriodQuery,
    PointIn,
    QualityIn,
    RatingOut,
    ShiftAttendanceOut,
)

router = Router(tags=["staffing: the shift"])

READ = OBJECT_ERROR_RESPONSES
WRITE = {**OBJECT_ERROR_RESPONSES, 409: ErrorEnvelope}
FILE = {
    200: {
        "description": "The file.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    }
}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _degrees(value: float) -> Decimal:
    # The columns hold six decimals (about 0.1 m); phones send more.
    return Decimal(str(round(value, 6)))


def _attendance_out(a: Attendance) -> AttendanceOut:
    return AttendanceOut(
        id=a.pk,
        offer_id=a.offer_id,
        shift_id=a.shift_id,
        worker_id=a.worker_id,
        offer_status=a.offer.status,
        checked_in_at=a.checked_in_at,
        check_in_distance_m=a.check_in_distance_m,
        checked_out_at=a.checked_out_at,
        check_out_distance_m=a.check_out_distance_m,
        hours=a.hours,
        quality_score=a.quality_score,
        no_show=a.no_show,
        excused=a.excused,
        excuse_reason=a.excuse_reason,
        pay_amount=a.pay_amount,
        currency=a.shift.order.currency,
    )


def _file(content: bytes, name: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- the worker ----------------------------------------------------------------------------------------------


@router.post(
    "/me/check-in",
    response={200: AttendanceOut, **WRITE, 422: ErrorEnvelope},
    summary="Check in to my shift that is open now",
    description="Allowed from an hour before the start until the end of a shift I accepted, within the site's "
    "radius: 409 `no_shift_to_check_in` when none is open, 422 `too_far_from_site` (with `fields.distance_m`).",
)
def check_in(request: HttpRequest, body: PointIn) -> AttendanceOut:
    done = attendance_services.attendance_check_in(
        user=_user(request), latitude=_degrees(body.latitude), longitude=_degrees(body.longitude)
    )
    return _attendance_out(done)


@router.post(
    "/me/check-out",
    response={200: AttendanceOut, **WRITE, 422: ErrorEnvelope},
    summary="Check out of the shift I am checked in to",
    description="Hours are the time inside the shift's window, to the nearest quarter hour; the pay they earn is "
    "frozen. 409 `not_checked_in`, 422 `too_far_from_site`.",
)
def check_out(request: HttpRequest, body: PointIn) -> AttendanceOut:
    done = attendance_services.attendance_check_out(
        user=_user(request), latitude=_degrees(body.latitude), longitude=_degrees(body.longitude)
    )
    return _attendance_out(done)


@router.get(
    "/me/earnings",
    response={200: EarningsOut, **READ, 422: ErrorEnvelope},
    summary="My earnings: hours × pay rate per worked shift",
    description="`hours` and `totals` cover the whole period; its shifts are paged by `cursor`, earliest first.",
)
def my_earnings(request: HttpRequest, query: Query[PeriodQuery]) -> dict[str, Any]:
    earnings, next_cursor = money.worker_earnings_page(
        user=_user(request), date_from=query.date_from, date_to=query.date_to, cursor=query.cursor, limit=query.limit
    )
    return {
        "hours": earnings.hours,
        "totals": [MoneyTotal(currency=c, amount=a) for c, a in sorted(earnings.totals.items())],
        "items": [line.__dict__ for line in earnings.lines],
        "next_cursor": next_cursor,
    }


@router.get(
    "/me/rating",
    response={200: RatingOut, **READ},
    summary="My reliability and rank, with the reason of every change",
)
def my_rating(request: HttpRequest) -> dict[str, Any]:
    worker, changes = attendance_services.worker_rating(user=_user(request))
    return {
        "worker_id": worker.pk,
        "reliability": worker.reliability,
        "rank": worker.rank,
        "shows": worker.shows_count,
        "no_shows": worker.no_shows_count,
        "excused": worker.excused_count,
        "quality_scores": worker.quality_count,
        "changes": [
            {
                "occurred_at": c.occurred_at,
                "reason": c.reason,
                "reason_label": c.get_reason_display(),
                "reason_text": c.reason_text,
                "reliability_before": c.reliability_before,
                "reliability_after": c.reliability_after,
                "rank_before": c.rank_before,
                "rank_after": c.rank_after,
                "shift_id": c.shift_id,
            }
            for c in changes
        ],
    }


# --- the foreman and the dispatcher --------------------------------------------------------------------------


@router.post(
    "/offers/{offer_id}/attendance",
    response={200: AttendanceOut, **WRITE, 422: ErrorEnvelope},
    summary="Mark a call-up's attendance: no-show, excused or present",
    description="For a shift that has started (409 `shift_not_started`). A no-show lowers the worker's reliability "
    "and rank in the same transaction, with a reason they see; an excused absence does not count. "
    "409 `attendance_already_marked` for a call-up in another state.",
)
def attendance_mark(request: HttpRequest, offer_id: int, body: MarkIn) -> AttendanceOut:
    done = attendance_services.attendance_mark(
        user=_user(request),
        offer_id=offer_id,
        outcome=body.outcome,
        hours=body.hours,
        excuse_reason=body.excuse_reason,
    )
    return _attendance_out(done)


@router.post(
    "/offers/{offer_id}/quality",
    response={200: AttendanceOut, **WRITE, 422: ErrorEnvelope},
    summary="Give the foreman's 1-10 quality score",
    description="For a worker who came (409 `not_present` otherwise); it moves their rank at once.",
)
def attendance_quality(request: HttpRequest, offer_id: int, body: QualityIn) -> AttendanceOut:
    done = attendance_services.attendance_rate(user=_user(request), offer_id=offer_id, quality_score=body.quality_score)
    return _attendance_out(done)


@router.get(
    "/shifts/{shift_id}/attendance",
    response={200: ShiftAttendanceOut, **READ},
    summary="A shift's call-ups to mark, with their attendance",
    description="In plan order, paged by `cursor`.",
)
def shift_attendance(request: HttpRequest, shift_id: int, query: Query[CursorPageQuery]) -> dict[str, Any]:
    offers, next_cursor = attendance_services.shift_attendance_page(
        user=_user(request), shift_id=shift_id, cursor=query.cursor, limit=query.limit
    )
    items = []
    for offer in offers:
        found = getattr(offer, "attendance", None)
        items.append(
            {
                "offer_id": offer.pk,
                "worker_id": offer.worker_id,
                "worker_name": str(offer.worker.user.get_full_name() or offer.worker_id),
                "offer_status": offer.status,
                "attendance": _attendance_out(found) if found is not None else None,
            }
        )
    return {"shift_id": shift_id, "items": items, "next_cursor": next_cursor}


@router.get(
    "/board",
    response={200: BoardOut, **READ},
    summary="The order board: each shift's planned / offered / accepted / confirmed / checked-in / no-show counts",
    description="Shifts starting from a day ago to two weeks ahead, earliest first, paged by `cursor`. The same "
    "rows are pushed live on `ws/v1/staffing/board/?organization_id=` after every committed change.",
)
def board_snapshot(request: HttpRequest, query: Query[BoardQuery]) -> dict[str, Any]:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=query.organization_id, perm=Perm.STAFFING_MANAGE)
    rows, next_cursor = board.board_page(user=user, organization_id=org_id, cursor=query.cursor, limit=query.limit)
    return {"organization_id": org_id, "items": rows, "next_cursor": next_cursor}


@router.get(
    "/orders/{order_id}/money",
    response={200: OrderMoneyOut, **READ},
    summary="An order's hours, pay to workers, bill to the client and margin",
)
def order_money(request: HttpRequest, order_id: int) -> OrderMoneyOut:
    figures = money.order_money(user=_user(request), order_id=order_id)
    return OrderMoneyOut(**figures.__dict__)


@router.get(
    "/exports/payroll",
    response={**READ, 422: ErrorEnvelope},
    summary="Payroll: one line per worker and shift with hours, pay rate and amount",
    description="Recorded in the event log (who exported what, when).",
    openapi_extra={"responses": FILE},
)
def payroll_export(request: HttpRequest, query: Query[PayrollExportQuery]) -> HttpResponse:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=query.organization_id, perm=Perm.STAFFING_MANAGE)
    return _file(
        *money.payroll_export(
            user=user, organization_id=org_id, date_from=query.date_from, date_to=query.date_to, fmt=query.format
        )
    )


@router.get(
    "/exports/invoice",
    response={**READ, 422: ErrorEnvelope},
    summary="Invoicing: one line per shift with workers, hours, bill rate and amount",
    description="All clients of the organization, or one `client_id`. Recorded in the event log.",
    openapi_extra={"responses": FILE},
)
def invoice_export(request: HttpRequest, query: Query[InvoiceQuery]) -> HttpResponse:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=query.organization_id, perm=Perm.STAFFING_MANAGE)
    return _file(
        *money.invoice_export(
            user=user,
            organization_id=org_id,
            date_from=query.date_from,
            date_to=query.date_to,
            client_id=query.client_id,
            fmt=query.format,
        )
    )
