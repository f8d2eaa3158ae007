"""A small salon for the client-messaging tests: a branch, two masters, a service each performs, consenting clients,
and a queue clock that lets the real task worker see a future moment arrive."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from backend.booking.models import (
    Appointment,
    AppointmentLine,
    AppointmentStatus,
    BookingChannel,
    Occupancy,
    PatternKind,
    WorkPattern,
)
from backend.booking.services import appointments
from backend.catalog.models import BranchService, Service, StaffService
from backend.crm.models import Client
from backend.organizations.models import Branch, Organization, Role
from tests.conftest import member
from tests.factories import BranchFactory, OrganizationFactory

_phones = itertools.count(1)


@dataclass
class Salon:
    org: Organization
    branch: Branch
    manager: Any
    master: Any
    other_master: Any
    service: Service

    def client(self, *, consent: bool = True, **kwargs: Any) -> Client:
        return Client.objects.create(
            organization=self.org,
            phone=f"+7705{next(_phones):07d}",
            first_name=kwargs.pop("first_name", "Dana"),
            consent_messages_at=timezone.now() if consent else None,
            **kwargs,
        )


def salon_make(*, zone: str = "Asia/Almaty") -> Salon:
    """A new organization that takes online bookings, with its salon."""
    return salon_in(OrganizationFactory(name="Salon Lotus", time_zone=zone, language="en", online_booking=True))


def salon_in(org: Organization, *, zone: str = "Asia/Almaty") -> Salon:
    """A salon (branch, service, two masters performing it, a manager) in ``org``."""
    branch = BranchFactory(organization=org, name="Centre", time_zone=zone)
    service = Service.objects.create(organization=org, name="Haircut", duration_minutes=60, price=Decimal("5000"))
    BranchService.objects.create(organization=org, branch=branch, service=service)
    master, other = member(org, Role.MASTER), member(org, Role.MASTER)
    today = timezone.now().date()
    for staff in (master, other):
        StaffService.objects.create(organization=org, staff=staff, service=service)
        # Every day 08:00-22:00 at the branch, from yesterday for two months.
        WorkPattern.objects.create(
            organization=org,
            branch=branch,
            staff=staff,
            kind=PatternKind.WEEKLY,
            weekdays=list(range(7)),
            anchor_date=today - dt.timedelta(days=1),
            end_date=today + dt.timedelta(days=59),
            day_start=dt.time(8),
            day_end=dt.time(22),
        )
    return Salon(
        org=org, branch=branch, manager=member(org, Role.MANAGER), master=master, other_master=other, service=service
    )


def future(days: int, hour: int = 12) -> dt.datetime:
    """A whole hour ``days`` from today (UTC), far enough ahead for every reminder offset."""
    base = timezone.now().astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return (base + dt.timedelta(days=days)).replace(hour=hour)


def appointment_row(
    salon: Salon,
    client: Client,
    start: dt.datetime,
    *,
    staff: Any = None,
    status: str = AppointmentStatus.BOOKED,
    customer: Any = None,
) -> Appointment:
    """An appointment written as the appointment service writes one (visit, line, active occupancy)."""
    staff = staff or salon.master
    end = start + dt.timedelta(minutes=salon.service.duration_minutes)
    appointment = Appointment.objects.create(
        organization=salon.org,
        branch=salon.branch,
        client=client,
        customer=customer,
        staff=staff,
        starts_at=start,
        ends_at=end,
        status=status,
        channel=BookingChannel.STAFF,
        price=salon.service.price,
        currency="KZT",
    )
    line = AppointmentLine.objects.create(
        appointment=appointment,
        position=0,
        service=salon.service,
        staff=staff,
        starts_at=start,
        ends_at=end,
        duration_minutes=salon.service.duration_minutes,
        price=salon.service.price,
    )
    Occupancy.objects.create(
        organization=salon.org,
        branch=salon.branch,
        staff=staff,
        starts_at=start,
        ends_at=end,
        line=line,
        is_active=status not in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW),
    )
    return appointment


def book(salon: Salon, client: Client, start: dt.datetime, *, staff: Any = None) -> Appointment:
    """Book through the appointment service, as staff for a client (its hook schedules the reminders)."""
    staff = staff or salon.master
    return appointments.appointment_create_for_client(
        user=salon.manager,
        branch_id=salon.branch.pk,
        client_id=client.pk,
        service_ids=[salon.service.pk],
        start=start,
        staff_id=staff.pk,
    )


def cancel(salon: Salon, appointment: Appointment) -> Appointment:
    """Cancel through the appointment service (staff: no cutoff)."""
    return appointments.appointment_cancel(user=salon.manager, appointment_id=appointment.pk)


def reschedule(salon: Salon, appointment: Appointment, start: dt.datetime) -> Appointment:
    """Move through the appointment service."""
    return appointments.appointment_reschedule(user=salon.manager, appointment_id=appointment.pk, start=start)


def finish(salon: Salon, appointment: Appointment) -> Appointment:
    """The visit happened: arrived, then done, through the appointment service."""
    appointments.appointment_status_set(user=salon.manager, appointment_id=appointment.pk, status="arrived")
    return appointments.appointment_status_set(user=salon.manager, appointment_id=appointment.pk, status="done")


def queue_clock_reaches(moment: dt.datetime) -> int:
    """Make the queue's clock reach ``moment``: tasks due by then become due now (their order kept).

    The worker runs a task once ``run_after <= now``; moving the waiting tasks due by ``moment`` to now is what the
    passing of time would do to them, and leaves every task due later untouched.
    """
    now = timezone.now()
    return DBTaskResult.objects.filter(status="READY", run_after__lte=moment).update(run_after=now)


def worker_run() -> None:
    """Run the supervised task worker once over every queue (tasks, then outbox delivery)."""
    call_command("run_worker", "--once", "--queues", "default,outbox")
