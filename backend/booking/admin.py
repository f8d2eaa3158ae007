"""Back office for staff schedules: read-only here, so no form can bypass (or restate) the schedule services' rules.

Writes go through ``backend.booking.services.schedules``; an editable admin comes with the booking API.
"""

from __future__ import annotations

from django.contrib import admin

from backend.organizations.admin_tenancy import TenantScopedAdmin
from backend.organizations.permissions import Perm

from .models import ScheduleException, WorkPattern


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


from . import admin_comms  # noqa: E402, F401  (the client messages' back office, registered on import)
