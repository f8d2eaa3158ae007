from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Event, IdempotencyRecord, WorkerHeartbeat


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The audit trail: readable by staff, never editable."""

    list_display = ("occurred_at", "entity_type", "entity_id", "action", "actor", "organization", "batch_id")
    list_filter = ("action", "entity_type", "organization")
    search_fields = ("entity_id", "entity_type", "note", "batch_id")
    date_hierarchy = "occurred_at"
    list_select_related = ("actor", "organization")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
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
class WorkerHeartbeatAdmin(admin.ModelAdmin):
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
