"""Tenancy: which organizations a user may see, and with which rights.

Rules: a membership gives its organization; an HQ membership also covers every franchise below it; a
franchise never sees a sibling or its HQ's own data. An object outside the caller's organizations is
reported as *not found* (never "forbidden": that would confirm it exists); inside them but without the
right, it is *forbidden*.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import connection, models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from backend.core.access_trace import access_granted
from backend.core.exceptions import NotFound, PermissionDenied

from .models import Branch, Membership, Organization
from .permissions import Perm, role_has

MAX_TREE_DEPTH = 32  # HQ -> franchise trees are shallow; the bound only stops a walk up a (refused) cycle


def organization_ids_for(user: Any, perm: Perm | str | None = None) -> set[int]:
    """Organization ids where ``user`` holds ``perm`` (or any role when ``perm`` is None)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return set(Organization.objects.values_list("id", flat=True))
    # One round trip: the active memberships in active organizations, each with every franchise below it (a
    # recursive walk down the parents), each row carrying the role that reaches it.
    org = Organization._meta.db_table
    membership = Membership._meta.db_table
    sql = (
        f"WITH RECURSIVE down (id, role, depth) AS ("  # noqa: S608 (table names from the models, values bound)
        f" SELECT m.organization_id, m.role, 0 FROM {membership} m JOIN {org} mo ON mo.id = m.organization_id"
        f" WHERE m.user_id = %s AND m.is_active = %s AND mo.is_active = %s"
        f" UNION ALL SELECT o.id, down.role, down.depth + 1 FROM {org} o JOIN down ON o.parent_id = down.id"
        f" WHERE down.depth < %s)"
        f" SELECT DISTINCT id, role FROM down"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, True, True, MAX_TREE_DEPTH])
        rows = cursor.fetchall()
    return {int(org_id) for org_id, role in rows if perm is None or role_has(str(role), perm)}


def organizations_for(user: Any, perm: Perm | str | None = None) -> QuerySet[Organization]:
    """The organizations the caller reaches (with ``perm``, when given): memberships and an HQ's franchises."""
    return Organization.objects.filter(id__in=organization_ids_for(user, perm))


def _roles_reaching(user: Any, organization_id: int) -> list[str]:
    """The roles of the caller's active memberships (in active organizations) that reach ``organization_id``: a
    membership in it or in an HQ above it. One query (a recursive walk up the parents), where
    ``organization_ids_for`` twice costs four: the same answer as ``organization_id in organization_ids_for(user,
    perm)`` for every ``perm``, since a membership covers its organization and every franchise below it."""
    org = Organization._meta.db_table
    membership = Membership._meta.db_table
    sql = (
        f"WITH RECURSIVE up (id, parent_id, depth) AS ("  # noqa: S608 (table names from the models, values bound)
        f" SELECT id, parent_id, 0 FROM {org} WHERE id = %s"
        f" UNION ALL SELECT o.id, o.parent_id, up.depth + 1 FROM {org} o JOIN up ON o.id = up.parent_id"
        f" WHERE up.depth < %s)"
        f" SELECT m.role FROM up JOIN {membership} m ON m.organization_id = up.id JOIN {org} mo ON mo.id = up.id"
        f" WHERE m.user_id = %s AND m.is_active = %s AND mo.is_active = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [organization_id, MAX_TREE_DEPTH, user.pk, True, True])
        return [str(row[0]) for row in cursor.fetchall()]


def organization_access_check(user: Any, organization_id: int, perm: Perm | str) -> None:
    """Raise NotFound outside the caller's tenancy, PermissionDenied inside it without ``perm``.

    One round trip: this guards nearly every request, and each trip costs on a loaded server (ADR 0025).
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise NotFound(_("Not found."))
    if user.is_superuser:
        if not Organization.objects.filter(pk=organization_id).exists():
            raise NotFound(_("Not found."))
    else:
        roles = _roles_reaching(user, organization_id)
        if not roles:
            raise NotFound(_("Not found."))
        if not any(role_has(role, perm) for role in roles):
            raise PermissionDenied(_("Your role does not allow this action."))
    access_granted(organization_id, perm)


def organization_get(user: Any, organization_id: int, perm: Perm | str = Perm.ORG_VIEW) -> Organization:
    """One organization: 404 outside the caller's tenancy, 403 inside it without ``perm``."""
    organization_access_check(user, organization_id, perm)
    return Organization.objects.get(id=organization_id)


def branches_for(user: Any, perm: Perm | str = Perm.ORG_VIEW) -> QuerySet[Branch]:
    """The branches of every organization where the caller holds ``perm``."""
    return Branch.objects.filter(organization_id__in=organization_ids_for(user, perm)).select_related("organization")


def memberships_of(user: Any) -> QuerySet[Membership]:
    """The caller's active memberships with their organization and branch."""
    return Membership.objects.filter(user=user, is_active=True).select_related("organization", "branch")


def default_organization_id(user: Any, perm: Perm | str | None = None) -> int | None:
    """The organization a caller acts in when a request names none: their first active direct membership."""
    qs = Membership.objects.filter(user=user, is_active=True, organization__is_active=True).order_by("id")
    for org_id, role in qs.values_list("organization_id", "role"):
        if perm is None or role_has(role, perm):
            return int(org_id)
    return None


TenantRow = TypeVar("TenantRow", bound=models.Model)


def tenant_row_for_change(
    model: type[TenantRow],
    pk: int,
    *,
    user: Any,
    perm: Perm | str,
    not_found: str | None = None,
    visible: Q | None = None,
) -> TenantRow:
    """Lock and return the row ``pk`` of ``model`` (which has an ``organization``) that ``user`` may change.

    Outside the caller's organizations it is a 404 (its existence is not confirmed); inside them without the
    right, a 403. ``visible`` narrows what the caller may know exists (a deleted client without the right to see
    deleted ones): a row outside it is a 404 too, checked before the right so a 403 cannot confirm it either.
    Call inside the service's transaction: the row stays locked until it commits.
    """
    rows = model._default_manager.select_for_update().filter(pk=pk, organization_id__in=organization_ids_for(user))
    row = (rows if visible is None else rows.filter(visible)).first()
    if row is None:
        raise NotFound(not_found or _("Not found."))
    organization_access_check(user, row.organization_id, perm)  # type: ignore[attr-defined]
    return row


def organization_for_action(*, user: Any, organization_id: int | None, perm: Perm | str) -> int:
    """The organization a request acts in: the one it names, else the caller's default for ``perm``.

    A named organization is returned as is: the service's own check gives 404 outside the tenancy and 403 without
    the right. With none named and no organization where the caller holds ``perm``, it is a 403.
    """
    if organization_id is not None:
        return organization_id
    found = default_organization_id(user, perm)
    if found is None:
        raise PermissionDenied(_("Your role does not allow this action."))
    return found


def organization_zone(*, user: Any, organization_id: int | None, perm: Perm | str = Perm.ORG_VIEW) -> ZoneInfo:
    """The time zone a request's calendar days are read in: the named organization's, else the caller's default
    organization's; the server's zone when neither applies (an unknown zone name falls back to it as well)."""
    if organization_id is None:
        organization_id = default_organization_id(user, perm)
    name = None
    if organization_id is not None and organization_id in organization_ids_for(user):
        name = Organization.objects.filter(pk=organization_id).values_list("time_zone", flat=True).first()
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def day_range(
    *, zone: ZoneInfo, first_day: dt.date | None, last_day: dt.date | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Inclusive calendar days in ``zone`` as a half-open ``[start, end)`` of aware datetimes (either may be None).

    The end is midnight after ``last_day`` in that zone, so a day that is 23 or 25 hours long (a DST change) is
    covered exactly; a last day at the end of the calendar has no representable next midnight: no upper bound.
    """
    start = dt.datetime.combine(first_day, dt.time.min, tzinfo=zone) if first_day is not None else None
    end = None
    if last_day is not None and last_day < dt.date.max:
        end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def organization_day_range(
    *,
    user: Any,
    organization_id: int | None,
    first_day: dt.date | None,
    last_day: dt.date | None,
    perm: Perm | str = Perm.ORG_VIEW,
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``day_range`` in the zone of the organization a request acts in (see ``organization_zone``)."""
    zone = organization_zone(user=user, organization_id=organization_id, perm=perm)
    return day_range(zone=zone, first_day=first_day, last_day=last_day)
