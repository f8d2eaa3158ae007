"""The phone's first screen in one call: what matters now for each role the caller holds.

Which organization: the one the request names (404 outside the caller's tenancy, as every route), else the caller's
default (their first active membership, ``organizations.selectors.default_organization_id``), as every route that
takes an optional ``organization_id``. Roles are the caller's memberships in that organization (or in its HQ).
A customer has no membership: the customer part (their own visits and waiting-list offers, at every organization)
is there for everyone, the worker part for anyone in a worker pool, and each staff part only with its role.
Everything is composed from the domains' own selectors and services; nothing here restates their rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Sum
from django.utils import timezone

from backend.booking import appointment_selectors
from backend.booking.models import ACTIVE_STATUSES, Appointment, AppointmentStatus
from backend.booking.models_comms import WaitlistEntry, WaitlistOffer
from backend.booking.selectors_comms import open_offers, waitlist_mine
from backend.crm.models import Client
from backend.organizations.models import Membership, Organization, Role
from backend.organizations.permissions import Perm
from backend.organizations.selectors import (
    day_range,
    default_organization_id,
    organization_access_check,
    organization_ids_for,
    organization_zone,
)
from backend.staffing import selectors as staffing_selectors
from backend.staffing.models import OFFER_HOLDS_PLACE, Offer, OfferStatus, OrderStatus, Shift, ShiftStatus
from backend.staffing.services.money import worker_earnings

#: How many rows each list of the home screen shows at most (the full lists have their own routes).
HOME_LIST = 5
AT_RISK_HOURS_DEFAULT = 24
AT_RISK_HOURS_MAX = 168


@dataclass(frozen=True)
class CustomerHome:
    next_visits: list[Appointment]
    waitlist_offers: list[tuple[WaitlistEntry, WaitlistOffer]]


@dataclass(frozen=True)
class WorkerHome:
    open_offers: list[Offer]
    next_shift: Offer | None
    confirmations_due: list[Offer]
    month_start: dt.date
    month_hours: Decimal
    month_totals: dict[str, Decimal]


@dataclass(frozen=True)
class MasterHome:
    day: dt.date
    visits: list[Appointment]


@dataclass(frozen=True)
class DispatcherHome:
    within_hours: int
    at_risk: list[Shift]


@dataclass(frozen=True)
class ManagerHome:
    day: dt.date
    appointments: int
    by_status: dict[str, int]
    expected_revenue: dict[str, Decimal]
    new_clients: int


@dataclass(frozen=True)
class Home:
    organization_id: int | None
    roles: list[str]
    customer: CustomerHome
    worker: WorkerHome | None = None
    master: MasterHome | None = None
    dispatcher: DispatcherHome | None = None
    manager: ManagerHome | None = None


def _roles_in(user: Any, organization_id: int) -> set[str]:
    """The caller's roles in the organization: its own memberships and those in its HQ (which cover it)."""
    parent_id = Organization.objects.filter(pk=organization_id).values_list("parent_id", flat=True).first()
    orgs = {organization_id, *([parent_id] if parent_id else [])}
    return set(
        Membership.objects.filter(user=user, is_active=True, organization_id__in=orgs).values_list("role", flat=True)
    )


def _customer(user: Any, now: dt.datetime) -> CustomerHome:
    visits = appointment_selectors.customer_appointments(user=user, upcoming_only=True, now=now)[:HOME_LIST]
    entries = list(waitlist_mine(user=user).select_related("branch"))
    offers = open_offers(entries)
    return CustomerHome(
        next_visits=visits,
        waitlist_offers=[(e, offers[e.pk]) for e in entries if e.pk in offers][:HOME_LIST],
    )


def _worker(user: Any, now: dt.datetime, zone: Any) -> WorkerHome | None:
    if staffing_selectors.worker_of(user) is None:
        return None
    offers = staffing_selectors.offers_of_worker(user=user)
    open_ = list(offers.filter(status=OfferStatus.OFFERED, shift__starts_at__gt=now)[:HOME_LIST])
    upcoming = offers.filter(status__in=OFFER_HOLDS_PLACE, shift__ends_at__gt=now)
    due = list(
        upcoming.filter(status=OfferStatus.ACCEPTED, confirm_requested_at__isnull=False, confirmed_at__isnull=True)[
            :HOME_LIST
        ]
    )
    today = now.astimezone(zone).date()
    month_start = today.replace(day=1)
    earnings = worker_earnings(user=user, date_from=month_start, date_to=today)
    return WorkerHome(
        open_offers=open_,
        next_shift=upcoming.first(),
        confirmations_due=due,
        month_start=month_start,
        month_hours=earnings.hours,
        month_totals=earnings.totals,
    )


def _dispatcher(user: Any, organization_id: int, now: dt.datetime, hours: int) -> DispatcherHome:
    """Shifts of live orders starting within ``hours`` that do not yet have their headcount of accepted places."""
    orders = staffing_selectors.orders_for(user=user, organization_id=organization_id).exclude(
        status__in=(OrderStatus.DRAFT, OrderStatus.CANCELLED, OrderStatus.COMPLETED)
    )
    shifts = (
        Shift.objects.filter(
            order__in=orders.values("id"),
            status=ShiftStatus.OPEN,
            starts_at__gte=now,
            starts_at__lt=now + dt.timedelta(hours=hours),
        )
        .filter(accepted_count__lt=F("headcount"))
        .select_related("order", "order__site")
        .order_by("starts_at", "id")
    )
    return DispatcherHome(within_hours=hours, at_risk=list(shifts[:50]))


def _manager(organization_id: int, zone: Any, now: dt.datetime) -> ManagerHome:
    today = now.astimezone(zone).date()
    start, end = day_range(zone=zone, first_day=today, last_day=today)
    visits = Appointment.objects.filter(organization_id=organization_id, starts_at__gte=start, starts_at__lt=end)
    visits = visits.exclude(status=AppointmentStatus.HELD)
    by_status = {row["status"]: row["n"] for row in visits.values("status").annotate(n=Count("id")).order_by()}
    revenue = {
        row["currency"]: row["total"] or Decimal("0.00")
        for row in visits.filter(status__in=ACTIVE_STATUSES).values("currency").annotate(total=Sum("price")).order_by()
    }
    new_clients = Client.objects.alive().filter(
        organization_id=organization_id, created_at__gte=start, created_at__lt=end
    )
    return ManagerHome(
        day=today,
        appointments=sum(by_status.values()),
        by_status=by_status,
        expected_revenue=revenue,
        new_clients=new_clients.count(),
    )


def home_read(
    *,
    user: Any,
    organization_id: int | None = None,
    at_risk_hours: int = AT_RISK_HOURS_DEFAULT,
    now: dt.datetime | None = None,
) -> Home:
    """The caller's home screen (see the module docstring). A named organization outside the tenancy is a 404."""
    now = now or timezone.now()
    if organization_id is not None:
        organization_access_check(user, organization_id, Perm.ORG_VIEW)
    else:
        organization_id = default_organization_id(user)
    zone = organization_zone(user=user, organization_id=organization_id)
    home = Home(
        organization_id=organization_id, roles=[], customer=_customer(user, now), worker=_worker(user, now, zone)
    )
    if organization_id is None:
        return home
    roles = _roles_in(user, organization_id)
    master = None
    if Role.MASTER in roles:
        day = now.astimezone(zone).date()
        master = MasterHome(day=day, visits=appointment_selectors.staff_day(user=user, day=day))
    dispatcher = None
    if organization_id in organization_ids_for(user, Perm.STAFFING_MANAGE) and roles & {
        Role.DISPATCHER,
        Role.MANAGER,
        Role.OWNER,
    }:
        dispatcher = _dispatcher(user, organization_id, now, at_risk_hours)
    manager = None
    if roles & {Role.MANAGER, Role.OWNER} and organization_id in organization_ids_for(user, Perm.BOOKING_MANAGE):
        manager = _manager(organization_id, zone, now)
    return Home(
        organization_id=organization_id,
        roles=sorted(roles),
        customer=home.customer,
        worker=home.worker,
        master=master,
        dispatcher=dispatcher,
        manager=manager,
    )
