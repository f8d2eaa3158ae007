"""Builders of a bookable branch for the availability, slots and journal tests: the catalog rows, schedules and
booked visits as the booking services store them (appointment, lines, one occupancy per line)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from backend.booking.models import (
    Appointment,
    AppointmentLine,
    AppointmentStatus,
    BookingChannel,
    GroupSession,
    Occupancy,
    PatternKind,
    WorkPattern,
)
from backend.catalog.models import BranchService, Resource, Service, StaffService
from backend.crm.models import Client
from backend.organizations.models import Branch, Organization, Role
from tests.conftest import member
from tests.factories import BranchFactory, OrganizationFactory

_phones = itertools.count(1)


def public_org(**kwargs: Any) -> Organization:
    """An organization that accepts online booking, with a 15-minute grid, no lead time and a long horizon."""
    args: dict[str, Any] = {
        "online_booking": True,
        "booking_slot_step_minutes": 15,
        "booking_lead_time_minutes": 0,
        "booking_horizon_days": 366,
    }
    args.update(kwargs)
    return OrganizationFactory(**args)


def branch_of(org: Organization, zone: str = "Europe/Vilnius", **kwargs: Any) -> Branch:
    return BranchFactory(organization=org, time_zone=zone, **kwargs)


def service_at(branch: Branch, minutes: int = 60, **kwargs: Any) -> Service:
    """A service of the branch's organization, offered at the branch."""
    online = kwargs.pop("offer_online", True)
    service = Service.objects.create(
        organization=branch.organization,
        name=kwargs.pop("name", f"Service {minutes}"),
        duration_minutes=minutes,
        **kwargs,
    )
    BranchService.objects.create(
        organization=branch.organization, branch=branch, service=service, online_booking=online
    )
    return service


def master_at(
    branch: Branch,
    services: Sequence[Service],
    *,
    hours: tuple[dt.time, dt.time] = (dt.time(9), dt.time(18)),
    breaks: Sequence[tuple[str, str]] = (),
    first_day: dt.date = dt.date(2027, 1, 1),
    last_day: dt.date = dt.date(2027, 12, 31),
    durations: dict[int, int] | None = None,
    **user_kwargs: Any,
) -> Any:
    """A master of the branch's organization who performs ``services`` and works every day ``hours``."""
    user = member(branch.organization, Role.MASTER, **user_kwargs)
    for service in services:
        StaffService.objects.create(
            organization=branch.organization,
            staff=user,
            service=service,
            duration_minutes=(durations or {}).get(service.pk),
        )
    WorkPattern.objects.create(
        organization=branch.organization,
        branch=branch,
        staff=user,
        kind=PatternKind.WEEKLY,
        weekdays=[0, 1, 2, 3, 4, 5, 6],
        anchor_date=first_day,
        end_date=last_day,
        day_start=hours[0],
        day_end=hours[1],
        breaks=[list(b) for b in breaks],
    )
    return user


def resource_at(branch: Branch, kind: str, name: str) -> Resource:
    return Resource.objects.create(branch=branch, kind=kind, name=name)


def client_of(org: Organization) -> Client:
    return Client.objects.create(organization=org, phone=f"+7702444{next(_phones):04d}", first_name="Guest")


def book(
    branch: Branch,
    staff: Any,
    service: Service,
    start: dt.datetime,
    *,
    resource: Resource | None = None,
    status: str = AppointmentStatus.BOOKED,
    client: Client | None = None,
) -> Appointment:
    """One booked visit of one service, stored as the booking services store it."""
    end = start + dt.timedelta(minutes=service.duration_minutes)
    appointment = Appointment.objects.create(
        organization=branch.organization,
        branch=branch,
        client=client or client_of(branch.organization),
        staff=staff,
        starts_at=start,
        ends_at=end,
        status=status,
        channel=BookingChannel.STAFF,
        price=Decimal("10"),
        currency="EUR",
    )
    line = AppointmentLine.objects.create(
        appointment=appointment,
        position=0,
        service=service,
        staff=staff,
        resource=resource,
        starts_at=start,
        ends_at=end,
        duration_minutes=service.duration_minutes,
        buffer_before_minutes=service.buffer_before_minutes,
        buffer_after_minutes=service.buffer_after_minutes,
        price=Decimal("10"),
    )
    Occupancy.objects.create(
        organization=branch.organization,
        branch=branch,
        staff=staff,
        resource=resource,
        starts_at=start - dt.timedelta(minutes=service.buffer_before_minutes),
        ends_at=end + dt.timedelta(minutes=service.buffer_after_minutes),
        is_active=status not in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW),
        line=line,
    )
    return appointment


def session(branch: Branch, staff: Any, service: Service, start: dt.datetime, *, taken: int) -> GroupSession:
    """A group session of ``service`` with ``taken`` places already booked."""
    group_session = GroupSession.objects.create(
        organization=branch.organization,
        branch=branch,
        service=service,
        staff=staff,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=service.duration_minutes),
        capacity=service.capacity,
        seats_taken=taken,
        price=Decimal("5"),
    )
    Occupancy.objects.create(
        organization=branch.organization,
        branch=branch,
        staff=staff,
        starts_at=group_session.starts_at,
        ends_at=group_session.ends_at,
        group_session=group_session,
    )
    return group_session
