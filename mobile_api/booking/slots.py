"""Booking reads: free slots and the branch journal. Thin: the selectors decide who sees what."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from ninja import Query, Router

from backend.booking.selectors import journal_read, slot_search
from backend.booking.services.availability import FAIRNESS_RULE, Choice, Slot
from mobile_api.errors import OBJECT_ERROR_RESPONSES

from .slots_schemas import (
    IntervalOut,
    JournalColumnOut,
    JournalEntryOut,
    JournalOut,
    JournalQuery,
    JournalSessionOut,
    SlotLineOut,
    SlotOut,
    SlotQuery,
    WhyOut,
)

router = Router(tags=["booking"])


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _why(choice: Choice | None, zone: ZoneInfo) -> WhyOut | None:
    if choice is None:
        return None
    return WhyOut(
        rule=FAIRNESS_RULE,
        booked_minutes=choice.booked_minutes,
        waited_since=choice.waited_since.astimezone(zone),
        candidates=choice.candidates,
    )


def _slot(slot: Slot, zone: ZoneInfo) -> SlotOut:
    whys: list[Choice | None] = list(slot.why) or [None] * len(slot.lines)
    lines = [
        SlotLineOut(
            service_id=line.service_id,
            staff_id=line.staff_id,
            start=line.start.astimezone(zone),
            end=line.end.astimezone(zone),
            resource_id=line.resource_ids[0] if line.resource_ids else None,
            why=_why(why, zone),
        )
        for line, why in zip(slot.lines, whys, strict=True)
    ]
    return SlotOut(
        start=slot.start.astimezone(zone),
        end=slot.end.astimezone(zone),
        staff_id=slot.staff_id,
        service_id=slot.lines[0].service_id,
        seats_left=slot.lines[0].seats_left,
        why=lines[0].why,
        lines=lines,
    )


@router.get(
    "/slots",
    response={200: list[SlotOut], **OBJECT_ERROR_RESPONSES},
    summary="Free slots",
    description="Visits of one service (`service_id`) or several in sequence (`service_ids`) that can start on "
    "the branch's grid, on the local day `date` (up to `date_to`, at most 31 days), with `staff_id` or any master "
    "(chosen fairly; `why` explains the choice). Times are in the branch's zone. A customer sees what accepts "
    "online booking, after the lead time and within the horizon; staff see their organization's branches. "
    "404 for a branch, service or master the caller cannot book; 422 for a past day or too long a range.",
)
def slots(request: HttpRequest, query: Query[SlotQuery]) -> list[SlotOut]:
    service_ids = ([query.service_id] if query.service_id is not None else []) + list(query.service_ids)
    found = slot_search(
        user=_user(request),
        branch_id=query.branch_id,
        service_ids=service_ids,
        first_day=query.date,
        last_day=query.date_to,
        staff_id=query.staff_id,
    )
    zone = found.context.zone
    return [_slot(slot, zone) for slot in found.slots]


def _interval(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> IntervalOut:
    return IntervalOut(start=start.astimezone(zone), end=end.astimezone(zone))


@router.get(
    "/journal",
    response={200: JournalOut, **OBJECT_ERROR_RESPONSES},
    summary="Branch journal",
    description="A branch's day (`days=1`) or week (`days=7`) from `date`, the chosen masters (`staff_ids`, all "
    "the branch's masters when empty) side by side: working time, appointments and group sessions, in the "
    "branch's zone. Needs the schedule-view right. Live changes: the WebSocket `/ws/v1/booking/journal/?branch_id=`.",
)
def journal(request: HttpRequest, query: Query[JournalQuery]) -> JournalOut:
    found = journal_read(
        user=_user(request),
        branch_id=query.branch_id,
        first_day=query.date,
        days=query.days,
        staff_ids=query.staff_ids,
        include_cancelled=query.include_cancelled,
    )
    zone = ZoneInfo(found.branch.effective_time_zone)
    columns = [
        JournalColumnOut(
            staff_id=column.staff.pk,
            name=column.staff.get_full_name() or str(column.staff),
            working=[_interval(start, end, zone) for start, end in column.working],
            appointments=[
                JournalEntryOut(
                    appointment_id=line.appointment_id,
                    line_id=line.pk,
                    position=line.position,
                    status=line.appointment.status,
                    client_id=line.appointment.client_id,
                    client_name=line.appointment.client.full_name or line.appointment.client.phone,
                    service_id=line.service_id,
                    service_name=line.service.name,
                    resource_id=line.resource_id,
                    start=line.starts_at.astimezone(zone),
                    end=line.ends_at.astimezone(zone),
                )
                for line in column.lines
            ],
            sessions=[
                JournalSessionOut(
                    id=session.pk,
                    service_id=session.service_id,
                    service_name=session.service.name,
                    resource_id=session.resource_id,
                    start=session.starts_at.astimezone(zone),
                    end=session.ends_at.astimezone(zone),
                    capacity=session.capacity,
                    seats_taken=session.seats_taken,
                    status=session.status,
                )
                for session in column.sessions
            ],
        )
        for column in found.columns
    ]
    return JournalOut(
        branch_id=found.branch.pk, time_zone=found.branch.effective_time_zone, days=found.days, columns=columns
    )
