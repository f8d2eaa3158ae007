"""Back office for staff schedules, appointments and group sessions: read-only here, so no form can bypass (or
restate) the booking services' rules.

Writes go through ``backend.booking.services`` (schedules, appointments).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from backend.organizations.admin_tenancy import TenantScopedAdmin
from backend.organizations.permissions import Perm

from .models import Appointment, AppointmentLine, GroupSession, ScheduleException, WorkPattern


class ScheduleAdmin(TenantScopedAdmin):
    """Staff who are not superusers see only their organizations' schedules; nobody but a superuser edits here."""

    view_perm = Perm.SCHEDULE_VIEW
    change_perm = None
    delete_perm = None


@admin.register(WorkPattern)
class WorkPatternAdmin(ScheduleAdmin):
    list_display = ("staff", "branch", "kind", "anchor_date", "end_date", "day_start", "day_end")
    list_filter = ("organization", "branch", "kind")
    list_select_related = ("staff", "branch")


@admin.register(ScheduleException)
class ScheduleExceptionAdmin(ScheduleAdmin):
    list_display = ("staff", "branch", "kind", "start_date", "end_date", "day_start", "day_end")
    list_filter = ("organization", "branch", "kind")
    list_select_related = ("staff", "branch")


class AppointmentLineInline(admin.TabularInline):
    model = AppointmentLine
    extra = 0
    can_delete = False
    fields = ("position", "service", "staff", "resource", "starts_at", "ends_at", "price")
    readonly_fields = fields

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class ReadOnlyBookingAdmin(ScheduleAdmin):
    """Nobody edits here, superusers included: a form write would skip the booking services (events, hooks, the
    retry on a taken slot)."""

    def has_add_permission(self, request: Any, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyBookingAdmin):
    """Read-only: bookings change through ``backend.booking.services.appointments`` (its checks and the database's
    guarantee), never through a form."""

    list_display = ("starts_at", "client", "staff", "branch", "status", "channel", "price", "currency")
    list_filter = ("organization", "branch", "status", "channel")
    list_select_related = ("client", "staff", "branch")
    date_hierarchy = "starts_at"
    inlines = (AppointmentLineInline,)


@admin.register(GroupSession)
class GroupSessionAdmin(ReadOnlyBookingAdmin):
    list_display = ("starts_at", "service", "staff", "branch", "seats_taken", "capacity", "status")
    list_filter = ("organization", "branch", "status")
    list_select_related = ("service", "staff", "branch")


from . import admin_comms  # noqa: E402, F401  (the client messages' back office, registered on import)
