"""What a customer reads while booking for themselves step by step (the Telegram bot): the branches and services
they may book, the masters who perform a whole visit, the days that still have a free slot, a day's slots, and
their own visits and waiting-list offers.

Every read is the booking's own (``selectors.booking_context``, ``visit_specs``, ``slot_search``), so a step shows
exactly what the booking would accept, computed afresh at each step. "Their own" is decided by one rule
(``services.messaging.customer_owns``): the account that booked or joined, or the account with the client's phone.
Anything else is a 404 that does not tell a stranger's visit from one that never existed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.accounts.models import User
from backend.catalog.models import Service
from backend.core.exceptions import NotFound
from backend.crm.models import Client
from backend.organizations.models import Branch

from .appointment_selectors import customer_appointments
from .models import Appointment, AppointmentLine
from .models_comms import WaitlistOffer
from .selectors import SlotSearch, booking_context, catalog_branches, catalog_services, slot_search, visit_specs
from .services.appointments import OPEN_STATUSES, reschedule_master
from .services.availability import MAX_SEARCH_DAYS
from .services.messaging import customer_owns

#: How many local days one "choose a day" screen searches.
DAYS_PER_PAGE = 7


def customer_branches(*, user: Any, organization_id: int) -> QuerySet[Branch]:
    """The organization's branches the caller may book (for a customer: those taking online bookings)."""
    return catalog_branches(user=user, organization_id=organization_id)


def customer_services(*, user: Any, branch_id: int) -> QuerySet[Service]:
    """The services the caller may book at the branch (404 for a branch they cannot book)."""
    return catalog_services(user=user, branch_id=branch_id)


def visit_masters(*, user: Any, branch_id: int, service_ids: Sequence[int]) -> list[User]:
    """The masters who perform every service of the visit at the branch (the booking's rule for a named master),
    by name: 404 for a branch or a service the caller cannot book."""
    context = booking_context(user=user, branch_id=branch_id)
    specs = visit_specs(context, list(service_ids))
    qualified = set.intersection(*(set(spec.durations) for spec in specs))
    return list(User.objects.filter(pk__in=qualified).order_by("first_name", "last_name", "id"))


def branch_today(*, user: Any, branch_id: int, now: dt.datetime | None = None) -> dt.date:
    """Today at the branch (its zone decides where a day begins)."""
    context = booking_context(user=user, branch_id=branch_id)
    return (now or timezone.now()).astimezone(context.zone).date()


def slot_days(
    *,
    user: Any,
    branch_id: int,
    service_ids: Sequence[int],
    first_day: dt.date,
    days: int = DAYS_PER_PAGE,
    staff_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[dt.date]:
    """The local days among ``first_day`` and the ``days - 1`` after it on which the visit has a free slot."""
    days = max(1, min(days, MAX_SEARCH_DAYS))
    search = slot_search(
        user=user,
        branch_id=branch_id,
        service_ids=service_ids,
        first_day=first_day,
        last_day=first_day + dt.timedelta(days=days - 1),
        staff_id=staff_id,
        now=now,
    )
    zone = search.context.zone
    return sorted({slot.start.astimezone(zone).date() for slot in search.slots})


def day_slots(
    *,
    user: Any,
    branch_id: int,
    service_ids: Sequence[int],
    day: dt.date,
    staff_id: int | None = None,
    now: dt.datetime | None = None,
) -> SlotSearch:
    """The free visits of one local day, earliest first (``selectors.slot_search`` for that day)."""
    return slot_search(
        user=user, branch_id=branch_id, service_ids=service_ids, first_day=day, staff_id=staff_id, now=now
    )


def _with_lines(qs: QuerySet[Appointment]) -> QuerySet[Appointment]:
    return qs.select_related("branch", "branch__organization", "client", "staff").prefetch_related(
        Prefetch("lines", queryset=AppointmentLine.objects.select_related("service", "staff").order_by("position"))
    )


def customer_visit(*, user: Any, appointment_id: int) -> Appointment:
    """One of the caller's own visits as its client, with its lines; a 404 for any other (a waiting-list hold
    included: it is an offer, not a visit)."""
    appointment = _with_lines(Appointment.objects.filter(pk=appointment_id)).first()
    if appointment is None or not customer_owns(
        user=user, customer_id=appointment.customer_id, client=appointment.client
    ):
        raise NotFound(_("Appointment not found."))
    return appointment


def customer_upcoming_visits(*, user: Any, now: dt.datetime | None = None) -> list[Appointment]:
    """The caller's own visits that have not ended, soonest first (``customer_appointments``)."""
    return customer_appointments(user=user, upcoming_only=True, now=now)


def visit_is_open(appointment: Appointment) -> bool:
    """Whether the visit can still be moved or cancelled by its status (the cutoff is the service's to check)."""
    return appointment.status in OPEN_STATUSES


def visit_service_ids(appointment: Appointment) -> list[int]:
    """The services of the visit, in order."""
    return [line.service_id for line in appointment.lines.all()]


def reschedule_days(
    *, user: Any, appointment_id: int, first_day: dt.date, now: dt.datetime | None = None
) -> list[dt.date]:
    """The days with a free slot for moving one of the caller's visits (the same services; the master a move keeps,
    ``appointments.reschedule_master``)."""
    appointment = customer_visit(user=user, appointment_id=appointment_id)
    return slot_days(
        user=user,
        branch_id=appointment.branch_id,
        service_ids=visit_service_ids(appointment),
        first_day=first_day,
        staff_id=reschedule_master(appointment),
        now=now,
    )


def reschedule_slots(*, user: Any, appointment_id: int, day: dt.date, now: dt.datetime | None = None) -> SlotSearch:
    """The free slots of ``day`` for moving one of the caller's visits."""
    appointment = customer_visit(user=user, appointment_id=appointment_id)
    return day_slots(
        user=user,
        branch_id=appointment.branch_id,
        service_ids=visit_service_ids(appointment),
        day=day,
        staff_id=reschedule_master(appointment),
        now=now,
    )


def customer_offer(*, user: Any, offer_id: int) -> WaitlistOffer:
    """One of the caller's own waiting-list offers; a 404 for any other."""
    offer = (
        WaitlistOffer.objects.select_related("entry__client", "entry__service", "entry__branch", "staff")
        .filter(pk=offer_id)
        .first()
    )
    if offer is None or not customer_owns(user=user, customer_id=offer.entry.customer_id, client=offer.entry.client):
        raise NotFound(_("Not found."))
    return offer


def customer_origin(user: Any) -> tuple[int | None, int | None]:
    """The organization (and branch) a customer books with when no link named one: the organization whose client
    they are, when there is exactly one (else none: they follow an organization's link first)."""
    orgs = set(
        Client.objects.filter(phone=user.phone, deleted_at__isnull=True).values_list("organization_id", flat=True)
    )
    return (orgs.pop() if len(orgs) == 1 else None), None
