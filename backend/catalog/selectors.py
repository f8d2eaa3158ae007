"""Catalog reads, scoped by the caller's organizations."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from backend.core.exceptions import NotFound
from backend.organizations.models import Branch
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for

from .models import Service


def branch_list(*, user: Any, organization_id: int | None = None) -> QuerySet[Branch]:
    """Active branches of the caller's organizations, or of one of them (404 outside the tenancy)."""
    if organization_id is not None:
        organization_access_check(user, organization_id, Perm.ORG_VIEW)
        org_ids = {organization_id}
    else:
        org_ids = organization_ids_for(user, Perm.ORG_VIEW)
    return (
        Branch.objects.filter(organization_id__in=org_ids, is_active=True)
        .select_related("organization")
        .order_by("organization_id", "name", "id")
    )


def branch_get(*, user: Any, branch_id: int, perm: Perm = Perm.ORG_VIEW) -> Branch:
    """One branch: 404 outside the caller's organizations, 403 inside them without ``perm``."""
    branch = (
        Branch.objects.filter(id=branch_id, organization_id__in=organization_ids_for(user))
        .select_related("organization")
        .first()
    )
    if branch is None:
        raise NotFound(_("Branch not found."))
    organization_access_check(user, branch.organization_id, perm)
    return branch


def service_list_for_branch(*, user: Any, branch_id: int) -> QuerySet[Service]:
    """Bookable services of the branch's organization: active and not deleted."""
    branch = branch_get(user=user, branch_id=branch_id, perm=Perm.CATALOG_VIEW)
    return (
        Service.objects.filter(organization_id=branch.organization_id, is_active=True, deleted_at__isnull=True)
        .select_related("group", "organization")
        .order_by("group__sort_order", "group__name", "name", "id")
    )


def service_list(*, user: Any, organization_id: int, include_deleted: bool = False) -> QuerySet[Service]:
    """The organization's services by name (deleted ones only when asked): 404/403 like every tenant read."""
    organization_access_check(user, organization_id, Perm.CATALOG_VIEW)
    qs = Service.objects.filter(organization_id=organization_id)
    if not include_deleted:
        qs = qs.filter(deleted_at__isnull=True)
    return qs.select_related("group", "organization").order_by("name", "id")
