"""Appointments API: book (customers for themselves, staff for a client), my visits, cancel, reschedule, the status
steps, and a master's day. Thin: every read is a selector, every write a service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from backend.booking import appointment_selectors as selectors
from backend.booking.models import Appointment, AppointmentStatus
from backend.booking.services import appointments as services
from backend.core.cursors import keyset_page
from mobile_api.conflicts import conflict_shows_current
from mobile_api.errors import OBJECT_ERROR_RESPONSES, ErrorEnvelope

from .schemas import (
    AppointmentCreateIn,
    AppointmentListOut,
    AppointmentOut,
    CancelIn,
    DayQuery,
    LineOut,
    MineQuery,
    RescheduleIn,
)

router = Router(tags=["booking"])

READ = OBJECT_ERROR_RESPONSES
WRITE = {**OBJECT_ERROR_RESPONSES, 409: ErrorEnvelope}

SLOT_TAKEN_DOC = (
    "409 `slot_taken` when the time is no longer free, with `error.fields.next_slots` "
    '(`[{"start", "end", "staff_id"}]`, the next free visits); 409 `group_full` for a full class. '
)


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def appointment_out(a: Appointment) -> AppointmentOut:
    return AppointmentOut(
        id=a.pk,
        organization_id=a.organization_id,
        branch_id=a.branch_id,
        branch_name=a.branch.name,
        time_zone=a.branch.effective_time_zone,
        client_id=a.client_id,
        client_name=a.client.full_name,
        customer_id=a.customer_id,
        staff_id=a.staff_id,
        group_session_id=a.group_session_id,
        start=a.starts_at,
        end=a.ends_at,
        status=a.status,
        channel=a.channel,
        source_id=a.source_id,
        price=a.price,
        currency=a.currency,
        notes=a.notes,
        cancel_reason=a.cancel_reason,
        cancelled_at=a.cancelled_at,
        rescheduled_count=a.rescheduled_count,
        hold_expires_at=a.hold_expires_at,
        created_at=a.created_at,
        lines=[
            LineOut(
                position=line.position,
                service_id=line.service_id,
                service_name=line.service.name,
                staff_id=line.staff_id,
                staff_name=line.staff.get_full_name() or "",
                resource_id=line.resource_id,
                start=line.starts_at,
                end=line.ends_at,
                duration_minutes=line.duration_minutes,
                buffer_before_minutes=line.buffer_before_minutes,
                buffer_after_minutes=line.buffer_after_minutes,
                price=line.price,
            )
            for line in a.lines.all()
        ],
    )


def _answer(user: Any, appointment: Appointment) -> AppointmentOut:
    return appointment_out(selectors.appointment_get(user=user, appointment_id=appointment.pk))


def _appointment_now(user: Any, appointment_id: int) -> dict[str, Any]:
    """The visit as ``GET /appointments/{id}`` shows it now: the ``current`` of a 409 (mobile_api.conflicts)."""
    return appointment_out(selectors.appointment_get(user=user, appointment_id=appointment_id)).model_dump(mode="json")


appointment_conflict = conflict_shows_current(_appointment_now, id_param="appointment_id")


@router.post(
    "/appointments",
    response={201: AppointmentOut, **WRITE},
    summary="Book a visit",
    description="A customer books for themselves (leave `client_id` out) at a branch that accepts online booking; "
    "staff with the booking right book for `client_id`. One service (`service_id`) or several in sequence "
    "(`service_ids`), with `staff_id` or the fairest free master. " + SLOT_TAKEN_DOC + "422 `in_past`, "
    "`too_soon` (lead time), `too_far` (horizon), `outside_schedule`, `staff_unavailable` (not a master of this "
    "branch for these services), `client_required`; 404 for a branch or service the caller cannot book.",
)
def appointment_create(request: HttpRequest, payload: AppointmentCreateIn) -> Status[AppointmentOut]:
    user = _user(request)
    service_ids = [*([payload.service_id] if payload.service_id else []), *payload.service_ids]
    common: dict[str, Any] = {
        "user": user,
        "branch_id": payload.branch_id,
        "service_ids": service_ids,
        "start": payload.start,
        "staff_id": payload.staff_id,
        "source_id": payload.source_id,
        "notes": payload.notes,
    }
    if payload.client_id is not None:
        appointment = services.appointment_create_for_client(client_id=payload.client_id, **common)
    else:
        appointment = services.appointment_create_for_customer(**common)
    return Status(201, _answer(user, appointment))


@router.get(
    "/appointments",
    response={200: AppointmentListOut, **READ},
    summary="My visits (as a customer)",
    description="The caller's own bookings at every organization, latest first (`upcoming=true`: active ones that "
    "have not ended, soonest first), paged by `cursor` (a cursor of one order is refused by the other).",
)
def appointment_mine(request: HttpRequest, query: Query[MineQuery]) -> AppointmentListOut:
    rows, next_cursor = keyset_page(
        selectors.customer_appointments_qs(user=_user(request), upcoming_only=query.upcoming),
        sort="booking.mine_upcoming" if query.upcoming else "booking.mine",
        keys=[("starts_at", dt.datetime)],
        cursor=query.cursor,
        limit=query.limit,
        descending=not query.upcoming,
    )
    return AppointmentListOut(items=[appointment_out(a) for a in rows], next_cursor=next_cursor)


@router.get(
    "/appointments/{appointment_id}",
    response={200: AppointmentOut, **READ},
    summary="One visit",
)
def appointment_detail(request: HttpRequest, appointment_id: int) -> AppointmentOut:
    return appointment_out(selectors.appointment_get(user=_user(request), appointment_id=appointment_id))


@router.post(
    "/appointments/{appointment_id}/cancel",
    response={200: AppointmentOut, **WRITE},
    summary="Cancel a visit",
    description="Its time is free again at once. A customer cancels up to the organization's cutoff before the "
    "start (409 `cutoff_passed` after it); 409 `invalid_transition` for a visit that is no longer open.",
)
@appointment_conflict
def appointment_cancel(request: HttpRequest, appointment_id: int, payload: CancelIn) -> AppointmentOut:
    user = _user(request)
    appointment = services.appointment_cancel(user=user, appointment_id=appointment_id, reason=payload.reason)
    return _answer(user, appointment)


@router.post(
    "/appointments/{appointment_id}/reschedule",
    response={200: AppointmentOut, **WRITE},
    summary="Move a visit",
    description="The same services, by the rules of a new booking. " + SLOT_TAKEN_DOC + "A customer moves a visit "
    "up to the cutoff before its current start (409 `cutoff_passed`); 422 `group_reschedule` for a class.",
)
@appointment_conflict
def appointment_reschedule(request: HttpRequest, appointment_id: int, payload: RescheduleIn) -> AppointmentOut:
    user = _user(request)
    appointment = services.appointment_reschedule(
        user=user, appointment_id=appointment_id, start=payload.start, staff_id=payload.staff_id
    )
    return _answer(user, appointment)


def _status_route(status: str, path: str, summary: str, description: str) -> None:
    @router.post(
        f"/appointments/{{appointment_id}}/{path}",
        response={200: AppointmentOut, **WRITE},
        summary=summary,
        description=description + " 409 `invalid_transition` for a step the flow does not have.",
        operation_id=f"booking_appointment_{path}",
    )
    @appointment_conflict
    def appointment_status(request: HttpRequest, appointment_id: int) -> AppointmentOut:
        user = _user(request)
        appointment = services.appointment_status_set(user=user, appointment_id=appointment_id, status=status)
        return _answer(user, appointment)


_status_route(
    AppointmentStatus.CONFIRMED, "confirm", "Confirm a visit", "The customer, its master or booking staff confirm."
)
_status_route(AppointmentStatus.ARRIVED, "arrived", "The client has arrived", "Its master or booking staff.")
_status_route(AppointmentStatus.DONE, "done", "The visit is done", "Its master or booking staff, after arrival.")
_status_route(
    AppointmentStatus.NO_SHOW,
    "no_show",
    "The client did not come",
    "Its master or booking staff, once the visit has started (409 `too_soon` before); frees the master's time.",
)


@router.get(
    "/staff/day",
    response={200: AppointmentListOut, **READ},
    summary="My day (as a master)",
    description="The caller's visits that start on the local `date` (the branch's zone when `branch_id` is given, "
    "else their organization's), earliest first.",
)
def staff_day(request: HttpRequest, query: Query[DayQuery]) -> AppointmentListOut:
    items = selectors.staff_day(
        user=_user(request), day=query.date, branch_id=query.branch_id, include_cancelled=query.include_cancelled
    )
    return AppointmentListOut(items=[appointment_out(a) for a in items], next_cursor=None)
