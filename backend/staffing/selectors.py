"""Staffing reads, scoped to the caller: the pool an organization dispatches from, a worker's own rows, an
organization's clients, sites, orders, shifts, offers and solver runs.

Tenancy rules on top of ``backend.organizations.selectors``: workers belong to the pool of an HQ (``pool owner``);
a franchise dispatches from its HQ's pool (its dispatchers may read those workers' profiles) but sees only its own
orders and clients; a worker sees only their own profile, availability, offers and shifts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.exceptions import NotFound
from backend.organizations.models import Organization
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for

from .models import (
    OFFER_HOLDS_PLACE,
    CorporateClient,
    Offer,
    OfferStatus,
    Order,
    ReliabilityChange,
    Shift,
    Site,
    SolverRun,
    Worker,
    WorkerAvailability,
)

#: Offers a worker sees in their list: everything but a standby slot they were never offered.
WORKER_VISIBLE = ~Q(status=OfferStatus.STANDBY, offered_at__isnull=True)


def pool_owner_id(organization_id: int) -> int:
    """The organization whose worker pool ``organization_id`` dispatches from: its HQ, or itself without one."""
    parent = Organization.objects.filter(pk=organization_id).values_list("parent_id", flat=True).first()
    return int(parent) if parent else organization_id


def pool_ids_for(user: Any, perm: Perm | str = Perm.STAFFING_MANAGE) -> set[int]:
    """The pools (owner organization ids) ``user`` may dispatch from: those of every organization where they hold
    ``perm``, so a franchise dispatcher reaches the HQ's pool, never a sibling's own rows."""
    ids = organization_ids_for(user, perm)
    parents = Organization.objects.filter(id__in=ids, parent__isnull=False).values_list("parent_id", flat=True)
    return ids | set(parents)


def worker_of(user: Any) -> Worker | None:
    """The caller's own worker profile, if they are in a pool."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Worker.objects.filter(user=user).select_related("user").first()


def worker_self_get(user: Any) -> Worker:
    """The caller's own worker profile; 404 when they are not in any pool."""
    worker = worker_of(user)
    if worker is None:
        raise NotFound(_("You are not in a worker pool."))
    organization_access_check(user, worker.organization_id, Perm.STAFFING_SELF)
    return worker


def pool_workers(*, user: Any, organization_id: int, status: str | None = None) -> QuerySet[Worker]:
    """Workers of the pool ``organization_id`` dispatches from; the caller needs STAFFING_MANAGE there."""
    organization_access_check(user, organization_id, Perm.STAFFING_MANAGE)
    qs = Worker.objects.filter(organization_id=pool_owner_id(organization_id)).select_related("user")
    return qs.filter(status=status) if status else qs


def pool_worker_get(*, user: Any, worker_id: int) -> Worker:
    """One worker of a pool the caller dispatches from; 404 otherwise."""
    worker = Worker.objects.filter(pk=worker_id, organization_id__in=pool_ids_for(user)).select_related("user").first()
    if worker is None:
        raise NotFound(_("Worker not found."))
    return worker


def availability_of(worker: Worker, *, since: dt.datetime | None = None) -> QuerySet[WorkerAvailability]:
    """A worker's declared windows ending after ``since`` (all of them without it), earliest first."""
    qs = WorkerAvailability.objects.filter(worker=worker)
    return qs.filter(ends_at__gt=since) if since is not None else qs


def _scoped(model: Any, user: Any, perm: Perm, organization_id: int | None) -> QuerySet[Any]:
    if organization_id is not None:
        organization_access_check(user, organization_id, perm)
        return model.objects.filter(organization_id=organization_id)
    return model.objects.filter(organization_id__in=organization_ids_for(user, perm))


def clients_for(*, user: Any, organization_id: int | None = None) -> QuerySet[CorporateClient]:
    """Corporate clients of the caller's organizations (or of ``organization_id``)."""
    return _scoped(CorporateClient, user, Perm.STAFFING_MANAGE, organization_id)


def sites_for(*, user: Any, organization_id: int | None = None, client_id: int | None = None) -> QuerySet[Site]:
    """Sites of the caller's organizations, optionally of one client."""
    qs = _scoped(Site, user, Perm.STAFFING_MANAGE, organization_id).select_related("client")
    return qs.filter(client_id=client_id) if client_id is not None else qs


def orders_for(*, user: Any, organization_id: int | None = None, status: str | None = None) -> QuerySet[Order]:
    """Orders of the caller's organizations, newest first."""
    qs = _scoped(Order, user, Perm.STAFFING_MANAGE, organization_id).select_related("client", "site")
    return qs.filter(status=status) if status else qs


def _get(model: Any, user: Any, pk: int, perm: Perm, message: str) -> Any:
    row = model.objects.filter(pk=pk, organization_id__in=organization_ids_for(user)).first()
    if row is None:
        raise NotFound(message)
    organization_access_check(user, row.organization_id, perm)
    return row


def client_get(*, user: Any, client_id: int) -> CorporateClient:
    """One corporate client: 404 outside the caller's organizations, 403 without STAFFING_MANAGE."""
    return _get(CorporateClient, user, client_id, Perm.STAFFING_MANAGE, _("Client not found."))  # type: ignore[no-any-return]


def site_get(*, user: Any, site_id: int) -> Site:
    """One site: 404 outside the caller's organizations, 403 without STAFFING_MANAGE."""
    return _get(Site, user, site_id, Perm.STAFFING_MANAGE, _("Site not found."))  # type: ignore[no-any-return]


def order_get(*, user: Any, order_id: int) -> Order:
    """One order: 404 outside the caller's organizations, 403 without STAFFING_MANAGE."""
    return _get(Order, user, order_id, Perm.STAFFING_MANAGE, _("Order not found."))  # type: ignore[no-any-return]


def order_shifts(order: Order) -> QuerySet[Shift]:
    """The shifts of an order, in time order."""
    return Shift.objects.filter(order=order).order_by("starts_at", "id")


def order_offers(order: Order) -> QuerySet[Offer]:
    """Every offer of an order's shifts, in plan order, with the worker and the shift."""
    return (
        Offer.objects.filter(shift__order=order)
        .select_related("worker__user", "shift")
        .order_by("shift__starts_at", "is_standby", "position", "id")
    )


def worker_profile_get(*, user: Any, worker_id: int) -> Worker:
    """One worker's whole profile, for who manages staffing in the pool owner itself: 404 outside the caller's
    organizations, 403 without STAFFING_MANAGE (a franchise reads its HQ's pool through the list's rows)."""
    row = _get(Worker, user, worker_id, Perm.STAFFING_MANAGE, _("Worker not found."))
    return Worker.objects.select_related("user").get(pk=row.pk)


def solver_runs_for(*, user: Any, order_id: int) -> QuerySet[SolverRun]:
    """The solver runs of one order the caller dispatches, newest first."""
    order = order_get(user=user, order_id=order_id)
    return SolverRun.objects.filter(order=order).order_by("-created_at", "-id")


def solver_run_get(*, user: Any, run_id: int) -> SolverRun:
    """One solver run: 404 outside the caller's organizations, 403 without STAFFING_MANAGE."""
    return _get(SolverRun, user, run_id, Perm.STAFFING_MANAGE, _("Solver run not found."))  # type: ignore[no-any-return]


def offers_of_worker(*, user: Any, status: str | None = None) -> QuerySet[Offer]:
    """The caller's own offers (an empty list for someone not in a pool), soonest shift first."""
    worker = worker_of(user)
    if worker is None:
        return Offer.objects.none()
    qs = Offer.objects.filter(WORKER_VISIBLE, worker=worker).select_related("shift__order__site__organization")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("shift__starts_at", "id")


def offer_of_worker(
    *, user: Any, offer_id: int, perm: Perm = Perm.STAFFING_SELF, related: tuple[str, ...] = ("shift",)
) -> Offer:
    """One of the caller's own offers: 404 for anyone else's (a dispatcher reads offers through the order).
    ``related``: the relations read with it (``select_related``), for a caller that shows more than the shift."""
    worker = worker_of(user)
    offer = None
    if worker is not None:
        offer = Offer.objects.filter(WORKER_VISIBLE, pk=offer_id, worker=worker).select_related(*related).first()
    if offer is None or worker is None:
        raise NotFound(_("Offer not found."))
    organization_access_check(user, offer.organization_id, perm)
    offer.worker = worker  # the row just read: the services look at the worker without reading it again
    return offer


def reliability_changes_of(worker: Worker) -> QuerySet[ReliabilityChange]:
    """A worker's reliability history with reasons, newest first."""
    return ReliabilityChange.objects.filter(worker=worker).order_by("-occurred_at", "-id")


def shifts_of_worker(*, user: Any, past_days: int = 30) -> QuerySet[Offer]:
    """The caller's shifts: their offers that hold (or held) a place, soonest first, those that ended more than
    ``past_days`` ago left out."""
    worker = worker_of(user)
    if worker is None:
        return Offer.objects.none()
    held = (*OFFER_HOLDS_PLACE, OfferStatus.NO_SHOW, OfferStatus.EXCUSED)
    since = timezone.now() - dt.timedelta(days=past_days)
    qs = Offer.objects.filter(worker=worker, status__in=held, shift__ends_at__gt=since)
    return qs.select_related("shift__order__site__organization").order_by("shift__starts_at", "id")


def open_offers_of_worker(*, user: Any, now: dt.datetime | None = None) -> QuerySet[Offer]:
    """The caller's call-ups still waiting for an answer (offered, the answer time not over), soonest shift first."""
    now = now or timezone.now()
    return (
        offers_of_worker(user=user, status=OfferStatus.OFFERED)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), shift__starts_at__gt=now)
        .select_related("shift__order__site__organization")
    )


#: A place the worker still has to work (or is working now).
UPCOMING_PLACES = (OfferStatus.ACCEPTED, OfferStatus.CONFIRMED, OfferStatus.CHECKED_IN)


def upcoming_shifts_of_worker(*, user: Any, now: dt.datetime | None = None) -> QuerySet[Offer]:
    """The caller's places on shifts that have not ended, soonest first."""
    now = now or timezone.now()
    return shifts_of_worker(user=user).filter(status__in=UPCOMING_PLACES, shift__ends_at__gt=now)
