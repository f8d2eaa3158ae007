"""Appointment reads: one appointment, a customer's own visits, a master's day. Always scoped to the caller.

Who sees an appointment: its customer (the account that booked it, or the account with its client's phone); staff
of its organization who manage bookings or read schedules; and a master of its organization for the visits they
perform (one of its lines is theirs).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from backend.core.exceptions import NotFound, ValidationFailed
from backend.organizations.models import Branch
from backend.organizations.permissions import Perm
from backend.organizations.selectors import day_range, organization_ids_for, organization_zone

from .exceptions import BookingErrorCode
from .models import ACTIVE_STATUSES, Appointment, AppointmentLine, AppointmentStatus
from .services.schedules import MAX_YEAR, MIN_YEAR

#: A list answers at most this many appointments.
MAX_LIST = 200


def customer_own(user: Any) -> Q:
    """The visits ``user`` owns as the client themselves, as a filter: booked with their account, or of a client
    whose phone is their (verified) phone, e.g. booked by the front desk before they first signed in. The same rule
    as ``customer_owns`` for one visit; an account without a phone owns only what it booked."""
    uid = getattr(user, "pk", None)
    if uid is None:
        return Q(pk__in=[])
    own = Q(customer_id=uid)
    phone = getattr(user, "phone", "") or ""
    if phone:
        own |= Q(client__phone=phone, client__deleted_at__isnull=True)
    return own


def appointments_visible(user: Any) -> Q:
    """The appointments ``user`` may see (see the module docstring), as a filter."""
    uid = getattr(user, "pk", None)
    if uid is None:
        return Q(pk__in=[])
    staff_orgs = organization_ids_for(user, Perm.BOOKING_MANAGE) | organization_ids_for(user, Perm.SCHEDULE_VIEW)
    master_orgs = organization_ids_for(user, Perm.STAFFING_SELF)
    own_lines = AppointmentLine.objects.filter(staff_id=uid).values("appointment_id")
    return customer_own(user) | Q(organization_id__in=staff_orgs) | Q(organization_id__in=master_orgs, id__in=own_lines)


def _with_lines(qs: QuerySet[Appointment]) -> QuerySet[Appointment]:
    return qs.select_related("branch", "branch__organization", "client", "staff", "group_session").prefetch_related(
        Prefetch("lines", queryset=AppointmentLine.objects.select_related("service", "staff", "resource"))
    )


def appointment_get(*, user: Any, appointment_id: int) -> Appointment:
    """One appointment the caller may see, with its lines; a 404 otherwise."""
    appointment = _with_lines(Appointment.objects.filter(appointments_visible(user), pk=appointment_id)).first()
    if appointment is None:
        raise NotFound(_("Appointment not found."))
    return appointment


def customer_appointments_qs(
    *, user: Any, upcoming_only: bool = False, now: dt.datetime | None = None
) -> QuerySet[Appointment]:
    """The caller's own visits as a customer (at every organization; ``customer_own``), unordered, with their lines;
    waiting-list holds are offers, not visits, and are left out. ``upcoming_only``: active visits that have not
    ended yet."""
    qs = Appointment.objects.filter(customer_own(user)).exclude(status=AppointmentStatus.HELD)
    if upcoming_only:
        qs = qs.filter(status__in=ACTIVE_STATUSES, ends_at__gt=now or dt.datetime.now(dt.UTC))
    return _with_lines(qs)


def customer_appointments(
    *, user: Any, upcoming_only: bool = False, now: dt.datetime | None = None
) -> list[Appointment]:
    """The caller's own visits as a customer (:func:`customer_appointments_qs`), latest first, at most
    ``MAX_LIST``; ``upcoming_only``: active visits that have not ended yet, soonest first."""
    qs = customer_appointments_qs(user=user, upcoming_only=upcoming_only, now=now)
    order = ("starts_at", "id") if upcoming_only else ("-starts_at", "-id")
    return list(qs.order_by(*order)[:MAX_LIST])


def staff_day(
    *, user: Any, day: dt.date, branch_id: int | None = None, include_cancelled: bool = False
) -> list[Appointment]:
    """The caller's own day as a master: the visits with a line of theirs that start on local ``day`` (in the
    branch's zone when one is named, else in their organization's), earliest first; one branch only when named."""
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValidationFailed(
            _("Some fields are invalid."),
            code=BookingErrorCode.INVALID_DATES,
            fields={"date": [_("Enter a date between %(min)d and %(max)d.") % {"min": MIN_YEAR, "max": MAX_YEAR}]},
        )
    orgs = organization_ids_for(user)
    if branch_id is not None:
        branch = Branch.objects.select_related("organization").filter(pk=branch_id, organization_id__in=orgs).first()
        if branch is None:
            raise NotFound(_("Branch not found."))
        zone = ZoneInfo(branch.effective_time_zone)
    else:
        zone = organization_zone(user=user, organization_id=None)
    start, end = day_range(zone=zone, first_day=day, last_day=day)
    own = AppointmentLine.objects.filter(staff_id=user.pk).values("appointment_id")
    qs = Appointment.objects.filter(organization_id__in=orgs, id__in=own, starts_at__gte=start)
    if end is not None:
        qs = qs.filter(starts_at__lt=end)
    if branch_id is not None:
        qs = qs.filter(branch_id=branch_id)
    if not include_cancelled:
        qs = qs.filter(status__in=ACTIVE_STATUSES - {AppointmentStatus.HELD})
    return list(_with_lines(qs.order_by("starts_at", "id"))[:MAX_LIST])
