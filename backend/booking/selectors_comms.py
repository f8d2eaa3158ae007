"""Reads of the client-messaging rows (waiting list, reviews), scoped to the caller like every selector."""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, Q, QuerySet
from django.utils.translation import gettext as _

from backend.booking.models_comms import (
    OPEN_WAITLIST_STATUSES,
    Review,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistOfferStatus,
)
from backend.core.exceptions import NotFound
from backend.organizations.models import Branch
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for


def waitlist_mine(*, user: Any) -> QuerySet[WaitlistEntry]:
    """The caller's own open entries (as a customer: joined with their account or with their phone's client)."""
    if not getattr(user, "is_authenticated", False):
        return WaitlistEntry.objects.none()
    return WaitlistEntry.objects.filter(
        Q(customer=user) | Q(client__phone=user.phone, client__deleted_at__isnull=True),
        status__in=OPEN_WAITLIST_STATUSES,
    ).order_by("created_at", "id")


def waitlist_of_branch(*, user: Any, branch_id: int) -> QuerySet[WaitlistEntry]:
    """A branch's open entries in their order (staff with the booking right)."""
    branch = Branch.objects.filter(pk=branch_id, organization_id__in=organization_ids_for(user)).first()
    if branch is None:
        raise NotFound(_("Not found."))
    organization_access_check(user, branch.organization_id, Perm.BOOKING_MANAGE)
    return WaitlistEntry.objects.filter(branch=branch, status__in=OPEN_WAITLIST_STATUSES).order_by("created_at", "id")


def open_offers(entries: list[WaitlistEntry]) -> dict[int, WaitlistOffer]:
    """The open offer of each of ``entries`` that has one, by entry id."""
    offers = WaitlistOffer.objects.filter(entry__in=entries, status=WaitlistOfferStatus.OFFERED)
    return {o.entry_id: o for o in offers}


def reviews_for(*, user: Any, organization_id: int, staff_id: int | None = None) -> QuerySet[Review]:
    """The organization's reviews, newest first (staff who may view clients), optionally of one master."""
    organization_access_check(user, organization_id, Perm.CLIENT_VIEW)
    qs = Review.objects.filter(organization_id=organization_id)
    if staff_id is not None:
        qs = qs.filter(staff_id=staff_id)
    return qs.order_by("-created_at", "-id")


def review_summary(reviews: QuerySet[Review]) -> dict[str, Any]:
    """Count and average score of ``reviews`` (``None`` average when there are none)."""
    row = reviews.aggregate(count=Count("id"), average=Avg("score"))
    return {"count": row["count"], "average": round(row["average"], 2) if row["average"] is not None else None}
