"""Tenancy cases of the appointment routes (booking, appointments part).

Each build makes a bookable branch (two services, a master who performs both and works from yesterday on) and, for
the routes on one appointment, a visit booked there through the service, so every id field names an object of the
organization and the call succeeds for the roles with the right.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from backend.booking.models import Appointment, AppointmentStatus
from backend.booking.services.appointments import appointment_create_for_client
from backend.crm.models import ClientSource
from backend.organizations.models import Organization, Role
from backend.organizations.permissions import Perm
from tests.api.tenancy_cases import INVALID_REFERENCE, NOT_FOUND, Call, Expect, TenancyCase, register
from tests.booking.booking_world import branch_of, client_of, master_at, service_at
from tests.conftest import member

STAFF_UNAVAILABLE = Expect(422, "staff_unavailable")


def _bookable(org: Organization) -> dict[str, Any]:
    branch = branch_of(org, "Asia/Almaty")
    cut, colour = service_at(branch, 60, name="Cut"), service_at(branch, 30, name="Colour")
    today = timezone.now().date()
    master = master_at(
        branch, [cut, colour], first_day=today - dt.timedelta(days=1), last_day=today + dt.timedelta(days=30)
    )
    start = dt.datetime.combine(today + dt.timedelta(days=2), dt.time(10), tzinfo=ZoneInfo("Asia/Almaty"))
    return {"branch": branch, "cut": cut, "colour": colour, "master": master, "start": start}


def _create(org: Organization) -> Call:
    found = _bookable(org)
    return Call(
        body={
            "branch_id": found["branch"].pk,
            "service_id": found["cut"].pk,
            "service_ids": [found["colour"].pk],
            "staff_id": found["master"].pk,
            "start": found["start"].isoformat(),
            "client_id": client_of(org).pk,
            "source_id": ClientSource.objects.create(organization=org, name="Walk-in").pk,
        }
    )


register(
    "post",
    "/api/v1/booking/appointments",
    TenancyCase(
        build=_create,
        needs=(Perm.BOOKING_MANAGE,),
        refusals={"body.staff_id": STAFF_UNAVAILABLE, "body.source_id": INVALID_REFERENCE},
    ),
)


def _booked(org: Organization, *, status: str = AppointmentStatus.BOOKED, past: bool = False) -> Appointment:
    found = _bookable(org)
    start = found["start"]
    if past:
        # A visit that has started: booked from yesterday's schedule, as of yesterday.
        start = start - dt.timedelta(days=3)
    appointment = appointment_create_for_client(
        user=member(org, Role.OWNER),
        branch_id=found["branch"].pk,
        client_id=client_of(org).pk,
        service_ids=[found["cut"].pk],
        staff_id=found["master"].pk,
        start=start,
        now=start - dt.timedelta(hours=1),
    )
    if status != AppointmentStatus.BOOKED:
        Appointment.objects.filter(pk=appointment.pk).update(status=status)
    return appointment


def _on(appointment: Appointment, body: dict[str, Any] | None = None) -> Call:
    return Call(path={"appointment_id": appointment.pk}, body=body)


register(
    "get",
    "/api/v1/booking/appointments/{appointment_id}",
    TenancyCase(
        build=lambda org: _on(_booked(org)),
        needs=(Perm.BOOKING_MANAGE, Perm.SCHEDULE_VIEW),
        needs_any=True,
        without_right=NOT_FOUND,  # a visit the caller may not see is not confirmed to exist
    ),
)
register(
    "post",
    "/api/v1/booking/appointments/{appointment_id}/cancel",
    TenancyCase(build=lambda org: _on(_booked(org), {"reason": "ill"}), needs=(Perm.BOOKING_MANAGE,)),
)


def _reschedule(org: Organization) -> Call:
    appointment = _booked(org)
    return _on(
        appointment,
        {"start": (appointment.starts_at + dt.timedelta(hours=4)).isoformat(), "staff_id": appointment.staff_id},
    )


register(
    "post",
    "/api/v1/booking/appointments/{appointment_id}/reschedule",
    TenancyCase(build=_reschedule, needs=(Perm.BOOKING_MANAGE,), refusals={"body.staff_id": STAFF_UNAVAILABLE}),
)
for _path, _build in (
    ("confirm", lambda org: _on(_booked(org))),
    ("arrived", lambda org: _on(_booked(org, status=AppointmentStatus.CONFIRMED))),
    ("done", lambda org: _on(_booked(org, status=AppointmentStatus.ARRIVED))),
    ("no_show", lambda org: _on(_booked(org, past=True))),
):
    register(
        "post",
        f"/api/v1/booking/appointments/{{appointment_id}}/{_path}",
        TenancyCase(build=_build, needs=(Perm.BOOKING_MANAGE,)),
    )


def _day(org: Organization) -> Call:
    found = _bookable(org)
    return Call(query={"branch_id": found["branch"].pk, "date": found["start"].date()})


register("get", "/api/v1/booking/staff/day", TenancyCase(build=_day))
