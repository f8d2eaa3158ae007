"""Admin for core's own records that belong to no organization (superusers only).

The event log is tenant-scoped, so its admin lives with the tenancy base in ``backend.organizations.admin``.
"""

from __future__ import annotations

# Imported first so that their registrations exist before they are replaced below.
import django_tasks_db.admin as tasks_admin
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django_tasks_db.models import DBTaskResult

from .admin_tenancy import SuperuserOnlyAdmin
from .models import IdempotencyRecord, WorkerHeartbeat


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(SuperuserOnlyAdmin):
    """Whole stored responses keyed by caller, with no organization to scope by: superusers only."""

    list_display = ("created_at", "scope", "key", "status_code", "completed_at")
    search_fields = ("key", "scope")
    readonly_fields = (
        "key",
        "scope",
        "request_hash",
        "status_code",
        "response_body",
        "created_at",
        "completed_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(SuperuserOnlyAdmin):
    """Task workers and their last sign of life (written by ``run_worker``)."""

    list_display = (
        "worker_id",
        "hostname",
        "pid",
        "queues",
        "started_at",
        "beat_at",
        "stopped_at",
        "tasks_run",
    )
    list_filter = ("hostname", "stopped_at")
    search_fields = ("worker_id", "hostname")
    readonly_fields = (
        "worker_id",
        "hostname",
        "pid",
        "queues",
        "started_at",
        "beat_at",
        "stopped_at",
        "tasks_run",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class SuperuserGroupAdmin(SuperuserOnlyAdmin, GroupAdmin):
    """Groups hand out model permissions across every organization: superusers only."""


class SuperuserTaskResultAdmin(SuperuserOnlyAdmin, tasks_admin.DBTaskResultAdmin):
    """Task arguments and results belong to no single organization: superusers only."""


admin.site.unregister(Group)
admin.site.register(Group, SuperuserGroupAdmin)
admin.site.unregister(DBTaskResult)
admin.site.register(DBTaskResult, SuperuserTaskResultAdmin)
