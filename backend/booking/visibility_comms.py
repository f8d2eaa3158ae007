"""The client-messaging rows in the idempotent replay check (``backend.core.visibility``): what their selectors show.

A replay of a waiting-list join, an offer taken or a review is shown again only to a caller who still sees the rows:
staff of the organization, or the client themselves (the customer account, or the account with the client's phone).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from django.db.models import Q

from backend.core.visibility import visibility_register
from backend.organizations.selectors import organization_ids_for

from .models_comms import Mailing, Review, WaitlistEntry, WaitlistOffer


def _own(user: Any, *, customer: str, client: str) -> Q:
    if not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    return Q(**{customer: user.pk}) | Q(**{f"{client}__phone": user.phone})


def entries_visible(user: Any, ids: Sequence[int]) -> Collection[int]:
    """Entries the caller may still see: their organization's, or their own."""
    qs = WaitlistEntry.objects.filter(id__in=ids).filter(
        Q(organization_id__in=organization_ids_for(user)) | _own(user, customer="customer_id", client="client")
    )
    return set(qs.values_list("id", flat=True))


def offers_visible(user: Any, ids: Sequence[int]) -> Collection[int]:
    """Offers of entries the caller may still see."""
    qs = WaitlistOffer.objects.filter(id__in=ids).filter(
        Q(organization_id__in=organization_ids_for(user))
        | _own(user, customer="entry__customer_id", client="entry__client")
    )
    return set(qs.values_list("id", flat=True))


def reviews_visible(user: Any, ids: Sequence[int]) -> Collection[int]:
    """Reviews of the caller's organizations, or the ones they wrote."""
    qs = Review.objects.filter(id__in=ids).filter(
        Q(organization_id__in=organization_ids_for(user)) | Q(author_id=getattr(user, "pk", None))
    )
    return set(qs.values_list("id", flat=True))


def mailings_visible(user: Any, ids: Sequence[int]) -> Collection[int]:
    """Mailings of the caller's organizations."""
    qs = Mailing.objects.filter(id__in=ids, organization_id__in=organization_ids_for(user))
    return set(qs.values_list("id", flat=True))


def register() -> None:
    """Called from ``BookingConfig.ready()``."""
    visibility_register("booking.waitlistentry", entries_visible)
    visibility_register("booking.waitlistoffer", offers_visible)
    visibility_register("booking.review", reviews_visible)
    visibility_register("booking.mailing", mailings_visible)
