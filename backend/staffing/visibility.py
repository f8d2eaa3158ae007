"""Staffing rows in the idempotent replay check (``backend.core.visibility``): what the staffing selectors show.

A worker's own rows (their profile, availability windows, offers and attendance) stay visible to that worker; an
organization's rows (clients, sites, orders, shifts, offers, solver runs, overrides) to whoever dispatches for it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from django.db.models import Q

from backend.core.visibility import visibility_register
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_ids_for

from .models import (
    Attendance,
    CorporateClient,
    DispatchOverride,
    Offer,
    Order,
    Shift,
    Site,
    SolverRun,
    Worker,
    WorkerAvailability,
)
from .selectors import pool_ids_for


def _org_rows(model: Any) -> Any:
    def visible(user: Any, ids: Sequence[int]) -> Collection[int]:
        orgs = organization_ids_for(user, Perm.STAFFING_MANAGE)
        return set(model.objects.filter(id__in=ids, organization_id__in=orgs).values_list("id", flat=True))

    return visible


def offers_visible(user: Any, ids: Sequence[int]) -> Collection[int]:
    """Offers of the caller (as the worker) or of an organization they dispatch for."""
    mine = Q(worker__user=user) if getattr(user, "is_authenticated", False) else Q(pk__in=[])
    rule = mine | Q(organization_id__in=organization_ids_for(user, Perm.STAFFING_MANAGE))
    return set(Offer.objects.filter(rule, id__in=ids).values_list("id", flat=True))


def workers_visible(user: Any, ids: Sequence[int]) -> Collection[int]:
    """The caller's own profile, or workers of a pool they dispatch from."""
    mine = Q(user=user) if getattr(user, "is_authenticated", False) else Q(pk__in=[])
    rule = mine | Q(organization_id__in=pool_ids_for(user))
    return set(Worker.objects.filter(rule, id__in=ids).values_list("id", flat=True))


def availability_visible(user: Any, ids: Sequence[int]) -> Collection[int]:
    """The caller's own availability windows, or those of a pool they dispatch from."""
    mine = Q(worker__user=user) if getattr(user, "is_authenticated", False) else Q(pk__in=[])
    rule = mine | Q(worker__organization_id__in=pool_ids_for(user))
    return set(WorkerAvailability.objects.filter(rule, id__in=ids).values_list("id", flat=True))


def attendance_visible(user: Any, ids: Sequence[int]) -> Collection[int]:
    """The caller's own attendance rows (their check-ins), or those of an organization they dispatch for (the
    foreman's marks)."""
    mine = Q(worker__user=user) if getattr(user, "is_authenticated", False) else Q(pk__in=[])
    rule = mine | Q(organization_id__in=organization_ids_for(user, Perm.STAFFING_MANAGE))
    return set(Attendance.objects.filter(rule, id__in=ids).values_list("id", flat=True))


def register() -> None:
    """Called from ``StaffingConfig.ready()``."""
    visibility_register("staffing.worker", workers_visible)
    visibility_register("staffing.workeravailability", availability_visible)
    visibility_register("staffing.offer", offers_visible)
    visibility_register("staffing.attendance", attendance_visible)
    for model in (CorporateClient, Site, Order, Shift, SolverRun, DispatchOverride):
        visibility_register(model._meta.label_lower, _org_rows(model))
