"""Import history in the back office: read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from backend.organizations.admin_tenancy import TenantScopedAdmin
from backend.organizations.permissions import Perm

from .models import ImportJob
from .selectors import import_jobs_visible


@admin.register(ImportJob)
class ImportJobAdmin(TenantScopedAdmin):
    # Any role opens the page; which jobs it lists depends on the kind (``import_jobs_visible``).
    view_perm = Perm.ORG_VIEW
    list_display = (
        "started_at",
        "organization",
        "kind",
        "file_name",
        "dry_run",
        "status",
        "started_by",
        "created_count",
        "updated_count",
        "skipped_count",
        "error_count",
    )
    list_filter = ("kind", "status", "dry_run", "organization")
    search_fields = ("file_name", "batch_id")
    date_hierarchy = "started_at"
    list_select_related = ("organization", "started_by")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ImportJob]:
        qs = super().get_queryset(request)  # already limited to the user's organizations
        if request.user.is_superuser:
            return qs
        return qs.filter(pk__in=import_jobs_visible(request.user).values("pk"))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in ImportJob._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
