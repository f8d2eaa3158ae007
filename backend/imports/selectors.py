"""Import history and exports (reads)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from backend.catalog.models import Service
from backend.core.cursors import cursor_decode, cursor_encode
from backend.core.exceptions import NotFound, PermissionDenied
from backend.crm.fields import client_export_row
from backend.crm.models import Client
from backend.crm.selectors import Page
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for

from .columns import SERVICE_COLUMNS
from .models import ImportJob, ImportKind
from .tables import table_write

JOB_SORT = "-id"
EXPORT_CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _import_jobs(client_ids: set[int], service_ids: set[int]) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(
        Q(kind=ImportKind.CLIENTS, organization_id__in=client_ids)
        | Q(kind=ImportKind.SERVICES, organization_id__in=service_ids)
    )


def import_jobs_visible(user: Any) -> QuerySet[ImportJob]:
    """Client imports where the caller may import clients, service imports where they may change the catalog:
    the rights that run each kind."""
    return _import_jobs(organization_ids_for(user, Perm.CLIENT_IMPORT), organization_ids_for(user, Perm.CATALOG_CHANGE))


def import_job_list(*, user: Any, organization_id: int | None = None) -> QuerySet[ImportJob]:
    """The import history (newest first): 404 for an organization outside the tenancy, 403 without either right."""
    client_ids = organization_ids_for(user, Perm.CLIENT_IMPORT)
    service_ids = organization_ids_for(user, Perm.CATALOG_CHANGE)
    if organization_id is not None:
        if organization_id not in organization_ids_for(user):
            raise NotFound(_("Not found."))
        client_ids &= {organization_id}
        service_ids &= {organization_id}
    if not client_ids and not service_ids:
        raise PermissionDenied(_("Your role does not allow this action."))
    return _import_jobs(client_ids, service_ids).select_related("started_by").order_by("-started_at", "-id")


def client_export_rows(*, organization_id: int) -> Iterator[list[Any]]:
    """The organization's (not deleted) clients as rows in the order of ``CLIENT_COLUMNS``."""
    groups: dict[int, list[str]] = {}
    through = Client.groups.through
    for client_id, name in through.objects.filter(client__organization_id=organization_id).values_list(
        "client_id", "clientgroup__name"
    ):
        groups.setdefault(client_id, []).append(name)
    qs = (
        Client.objects.filter(organization_id=organization_id, deleted_at__isnull=True)
        .select_related("source")
        .order_by("name_key", "id")
    )
    for c in qs.iterator(chunk_size=2000):
        yield client_export_row(c, groups.get(c.pk, []))


def services_export(*, user: Any, organization_id: int, fmt: str) -> tuple[bytes, str, str]:
    """The organization's (not deleted) services in the import's columns: (content, file name, content type)."""
    organization_access_check(user, organization_id, Perm.CATALOG_VIEW)
    qs = Service.objects.filter(organization_id=organization_id, deleted_at__isnull=True).select_related("group")
    rows = (
        [
            s.code,
            s.name,
            s.group.name if s.group else "",
            s.price,
            s.duration_minutes,
            s.description,
            "yes" if s.is_active else "no",
        ]
        for s in qs.order_by("name", "id")
    )
    return table_write(SERVICE_COLUMNS, rows, fmt), f"services-{organization_id}.{fmt}", EXPORT_CONTENT_TYPES[fmt]


def import_job_get(*, user: Any, job_id: int) -> ImportJob:
    """One import job: 404 outside the caller's organizations, 403 inside them without the right of its kind."""
    job = (
        ImportJob.objects.select_related("started_by")
        .filter(pk=job_id, organization_id__in=organization_ids_for(user))
        .first()
    )
    if job is None:
        raise NotFound(_("Not found."))
    right = Perm.CLIENT_IMPORT if job.kind == ImportKind.CLIENTS else Perm.CATALOG_CHANGE
    organization_access_check(user, job.organization_id, right)
    return job


def import_job_page(
    *, user: Any, organization_id: int | None = None, cursor: str | None = None, limit: int = 50
) -> Page:
    """A page of the import history, newest first; the cursor is the last job's id."""
    qs = import_job_list(user=user, organization_id=organization_id).order_by("-id")
    if cursor:
        qs = qs.filter(id__lt=cursor_decode(cursor, sort=JOB_SORT, value_type=None).id)
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursor_encode(sort=JOB_SORT, value=None, id=rows[-1].pk)
    return Page(items=rows, next_cursor=next_cursor)
