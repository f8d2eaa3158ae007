"""What the back office's live pages show and to whom: the staffing board's and the booking journal's own access
rules decide (404 outside the caller's tenancy, 403 without the right); this module only picks a default and lists
the alternatives the caller may switch to."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from backend.booking.selectors import journal_branch
from backend.core.exceptions import NotFound
from backend.organizations.models import Branch, Organization, OrganizationKind
from backend.organizations.permissions import Perm
from backend.organizations.selectors import default_organization_id, organization_ids_for
from backend.staffing.services.board import board_access


def _watchable_organizations(user: Any) -> list[Organization]:
    ids = organization_ids_for(user, Perm.STAFFING_MANAGE)
    # Agencies first: a superuser sees every organization, and the board is the agencies' page.
    return sorted(
        Organization.objects.filter(pk__in=ids, is_active=True),
        key=lambda o: (o.kind != OrganizationKind.STAFFING_AGENCY, o.pk),
    )


def board_page(*, user: Any, organization_id: int | None) -> dict[str, Any]:
    """The board page's context: the organization watched (the one asked for, else the caller's own), and the
    organizations the caller may switch to. 404 / 403 as the board's socket answers them."""
    choices = _watchable_organizations(user)
    if organization_id is None:
        organization_id = default_organization_id(user, Perm.STAFFING_MANAGE)
        if organization_id is None and choices:
            organization_id = choices[0].pk
    if organization_id is None:
        raise NotFound(_("You watch no organization's board."))
    watched = board_access(user=user, organization_id=organization_id)
    organization = next((o for o in choices if o.pk == watched), None) or Organization.objects.get(pk=watched)
    return {
        "title": _("Live order board"),
        "organization": organization,
        "organizations": choices,
    }


def journal_page(*, user: Any, branch_id: int | None, day: dt.date | None = None) -> dict[str, Any]:
    """The journal page's context: the branch shown (the one asked for, else the caller's first), today's date in its
    time zone, the day to open on (``day``, else today), and the branches the caller may switch to."""
    choices = list(
        Branch.objects.filter(organization_id__in=organization_ids_for(user, Perm.SCHEDULE_VIEW), is_active=True)
        .select_related("organization")
        .order_by("organization_id", "pk")
    )
    if branch_id is None:
        if not choices:
            raise NotFound(_("You see no branch's journal."))
        branch_id = choices[0].pk
    branch = journal_branch(user=user, branch_id=branch_id)
    zone = zoneinfo.ZoneInfo(branch.effective_time_zone)
    today = timezone.now().astimezone(zone).date()
    return {
        "title": _("Booking journal"),
        "branch": branch,
        "branches": choices,
        "today": today.isoformat(),
        "day": (day or today).isoformat(),
    }
