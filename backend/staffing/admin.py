"""Back office for staffing: read-only for staff who are not superusers, so no form can bypass the services' rules
(the counters on a shift, an offer's ladder, the reliability ledger). Writes go through ``backend.staffing.services``
and the API; the admin is for looking.

A franchise's dispatchers see the shared pool of their HQ's workers as well as their own organization's rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet

from backend.organizations.admin_tenancy import TenantScopedAdmin
from backend.organizations.models import Organization
from backend.organizations.permissions import Perm

from .models import (
    Attendance,
    CorporateClient,
    DispatchOverride,
    Offer,
    Order,
    ReliabilityChange,
    Shift,
    Site,
    SolverRun,
    Worker,
    WorkerAvailability,
)


class StaffingAdmin(TenantScopedAdmin):
    view_perm = Perm.STAFFING_MANAGE
    change_perm = None
    delete_perm = None


def _with_pool_owners(ids: set[int]) -> set[int]:
    """``ids`` plus the HQs whose shared pool those organizations dispatch from."""
    parents = Organization.objects.filter(id__in=ids, parent__isnull=False).values_list("parent_id", flat=True)
    return set(ids) | set(parents)


class PoolAdmin(StaffingAdmin):
    def tenant_filter(self, queryset: QuerySet[Any], ids: set[int]) -> QuerySet[Any]:
        return queryset.filter(**{f"{self.tenant_path}__in": _with_pool_owners(ids)})

    def tenant_ids_of(self, obj: Any) -> set[int]:
        owner = super().tenant_ids_of(obj)
        franchises = Organization.objects.filter(parent_id__in=owner).values_list("id", flat=True)
        return owner | set(franchises)


@admin.register(Worker)
class WorkerAdmin(PoolAdmin):
    list_display = ("user", "organization", "status", "reliability", "rank", "shows_count", "no_shows_count")
    list_filter = ("organization", "status")
    list_select_related = ("user", "organization")
    search_fields = ("user__phone", "user__first_name", "user__last_name")


@admin.register(WorkerAvailability)
class WorkerAvailabilityAdmin(PoolAdmin):
    tenant_path = "worker__organization"
    list_display = ("worker", "starts_at", "ends_at")
    list_select_related = ("worker__user",)


@admin.register(CorporateClient)
class CorporateClientAdmin(StaffingAdmin):
    list_display = ("name", "organization", "inn", "kpp", "ogrn", "is_active")
    list_filter = ("organization", "is_active")
    search_fields = ("name", "inn")


@admin.register(Site)
class SiteAdmin(StaffingAdmin):
    list_display = ("name", "client", "address", "conditions", "is_active")
    list_filter = ("organization", "conditions")
    list_select_related = ("client",)


class ShiftInline(admin.TabularInline):
    model = Shift
    extra = 0
    can_delete = False
    fields = ("date", "starts_at", "ends_at", "headcount", "call_cap", "accepted_count", "confirmed_count")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(StaffingAdmin):
    list_display = ("title", "organization", "client", "site", "start_date", "end_date", "headcount", "status")
    list_filter = ("organization", "status")
    list_select_related = ("organization", "client", "site")
    inlines = (ShiftInline,)


@admin.register(Shift)
class ShiftAdmin(StaffingAdmin):
    list_display = (
        "order",
        "date",
        "headcount",
        "call_cap",
        "offered_count",
        "accepted_count",
        "confirmed_count",
        "checked_in_count",
        "no_show_count",
    )
    list_filter = ("organization", "status")
    list_select_related = ("order",)


@admin.register(Offer)
class OfferAdmin(StaffingAdmin):
    list_display = ("worker", "shift", "wave", "position", "is_standby", "status", "show_probability", "expires_at")
    list_filter = ("organization", "status", "is_standby")
    list_select_related = ("worker__user", "shift__order")


@admin.register(Attendance)
class AttendanceAdmin(StaffingAdmin):
    list_display = ("worker", "shift", "checked_in_at", "checked_out_at", "hours", "quality_score", "no_show")
    list_filter = ("organization", "no_show", "excused")
    list_select_related = ("worker__user", "shift__order")


@admin.register(ReliabilityChange)
class ReliabilityChangeAdmin(StaffingAdmin):
    list_display = ("worker", "occurred_at", "reason", "reliability_before", "reliability_after", "rank_after")
    list_filter = ("organization", "reason")
    list_select_related = ("worker__user",)


@admin.register(DispatchOverride)
class DispatchOverrideAdmin(StaffingAdmin):
    list_display = ("order", "worker", "kind", "created_at")
    list_filter = ("organization", "kind")


@admin.register(SolverRun)
class SolverRunAdmin(StaffingAdmin):
    list_display = ("order", "kind", "status", "created_at", "solve_s")
    list_filter = ("organization", "kind", "status")
    list_select_related = ("order",)
