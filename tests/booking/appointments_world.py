"""A small bookable world for the appointment tests: an organization that accepts online booking (slots every 5
minutes), a branch in Asia/Almaty (UTC+5 all year), two masters working every day 09:00-18:00 with a 13:00-14:00
break, services (individual, with buffers and an own price, a group class, one needing a chair), a customer and a
manager."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from backend.accounts.models import User
from backend.booking.models import PatternKind, WorkPattern
from backend.catalog.models import BranchService, Resource, ResourceKind, Service, StaffService
from backend.organizations.models import Branch, Organization, Role
from tests.factories import BranchFactory, MembershipFactory, OrganizationFactory, UserFactory

ZONE = ZoneInfo("Asia/Almaty")
#: "Now" for every test: Monday 2027-03-01, 08:00 in the branch (03:00 UTC).
NOW = dt.datetime(2027, 3, 1, 8, 0, tzinfo=ZONE)


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A wall-clock time at the branch on March ``day`` 2027."""
    return dt.datetime(2027, 3, day, hour, minute, tzinfo=ZONE)


@dataclass
class World:
    org: Organization
    branch: Branch
    master: User
    other_master: User
    manager: User
    customer: User
    haircut: Service  # 60 min, 10 min buffer after, master's own price 5000
    colouring: Service  # 90 min, 15 min buffer before
    yoga: Service  # group class, capacity 3
    massage: Service  # needs a chair
    chair: Resource
    other_branch: Branch
    other_branch_master: User
    extra: dict[str, Any] = field(default_factory=dict)


def _works(org: Organization, branch: Branch, staff: User) -> None:
    WorkPattern.objects.create(
        organization=org,
        branch=branch,
        staff=staff,
        kind=PatternKind.WEEKLY,
        anchor_date=dt.date(2026, 1, 1),
        end_date=dt.date(2027, 12, 31),
        weekdays=[0, 1, 2, 3, 4, 5, 6],
        day_start=dt.time(9, 0),
        day_end=dt.time(18, 0),
        breaks=[["13:00", "14:00"]],
    )


def _offer(org: Organization, branch: Branch, service: Service, *masters: User, price: Decimal | None = None) -> None:
    BranchService.objects.create(organization=org, branch=branch, service=service)
    for master in masters:
        StaffService.objects.create(organization=org, staff=master, service=service, price=price)


def world_build(name: str = "Salon A") -> World:
    """Build the world (in the current transaction)."""
    org = OrganizationFactory(
        name=name, online_booking=True, booking_cancel_cutoff_minutes=120, booking_slot_step_minutes=5
    )
    branch = BranchFactory(organization=org, time_zone="Asia/Almaty")
    other_branch = BranchFactory(organization=org, time_zone="Asia/Almaty")
    master = UserFactory(first_name="Aigerim")
    other_master = UserFactory(first_name="Dana")
    other_branch_master = UserFactory(first_name="Erlan")
    for user in (master, other_master):
        MembershipFactory(user=user, organization=org, role=Role.MASTER, branch=branch)
    MembershipFactory(user=other_branch_master, organization=org, role=Role.MASTER, branch=other_branch)
    manager = UserFactory()
    MembershipFactory(user=manager, organization=org, role=Role.MANAGER)
    customer = UserFactory(first_name="Saule", last_name="Customer")
    for staff in (master, other_master):
        _works(org, branch, staff)
    _works(org, other_branch, other_branch_master)
    haircut = Service.objects.create(
        organization=org, name="Haircut", duration_minutes=60, price=Decimal("4000"), buffer_after_minutes=10
    )
    colouring = Service.objects.create(
        organization=org, name="Colouring", duration_minutes=90, price=Decimal("9000"), buffer_before_minutes=15
    )
    yoga = Service.objects.create(
        organization=org, name="Yoga", duration_minutes=60, price=Decimal("2000"), is_group=True, capacity=3
    )
    massage = Service.objects.create(
        organization=org, name="Massage", duration_minutes=30, price=Decimal("6000"), resource_kind=ResourceKind.CHAIR
    )
    chair = Resource.objects.create(branch=branch, kind=ResourceKind.CHAIR, name="Chair 1")
    _offer(org, branch, haircut, master, other_master)
    StaffService.objects.filter(staff=master, service=haircut).update(price=Decimal("5000"))
    _offer(org, branch, colouring, master, other_master)
    _offer(org, branch, yoga, master)
    _offer(org, branch, massage, master, other_master)
    _offer(org, other_branch, haircut, other_branch_master)
    return World(
        org=org,
        branch=branch,
        master=master,
        other_master=other_master,
        manager=manager,
        customer=customer,
        haircut=haircut,
        colouring=colouring,
        yoga=yoga,
        massage=massage,
        chair=chair,
        other_branch=other_branch,
        other_branch_master=other_branch_master,
    )
