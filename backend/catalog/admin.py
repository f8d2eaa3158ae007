"""Back office for the catalog; saves go through the catalog services so each change is in the event log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from backend.core.admin_filters import DeletedFilter, application_error_report
from backend.core.exceptions import ApplicationError
from backend.organizations.admin_tenancy import TenantScopedAdmin
from backend.organizations.permissions import Perm

from . import services
from .models import Resource, Service, ServiceGroup, StaffService


class CatalogAdmin(TenantScopedAdmin):
    """Staff who are not superusers see and change only their organizations' catalog, per their role."""

    view_perm = Perm.CATALOG_VIEW
    change_perm = Perm.CATALOG_CHANGE
    delete_perm = None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # bookings and history refer to catalog rows: deactivate or soft-delete instead


@admin.register(Service)
class ServiceAdmin(CatalogAdmin):
    fields = ("organization", "group", "name", "code", "price", "duration_minutes", "description", "is_active")
    list_display = ("name", "code", "organization", "group", "price", "duration_minutes", "is_active", "deleted_at")
    list_filter = ("organization", "group", "is_active", DeletedFilter)
    search_fields = ("name", "code")
    list_select_related = ("organization", "group")
    actions = ("soft_delete_selected", "restore_selected")

    def get_readonly_fields(self, request: HttpRequest, obj: Service | None = None) -> tuple[str, ...]:
        return ("organization",) if obj is not None else ()

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request: HttpRequest, obj: Service, form: forms.Form, change: bool) -> None:
        data: dict[str, Any] = {
            "name": obj.name,
            "code": obj.code,
            "price": obj.price,
            "duration_minutes": obj.duration_minutes,
            "description": obj.description,
            "is_active": obj.is_active,
            "group_id": obj.group_id,
        }
        if change:
            saved = services.service_update(user=request.user, service_id=obj.pk, data=data)
        else:
            saved = services.service_create(user=request.user, organization_id=obj.organization_id, **data)
        obj.pk = saved.pk

    @admin.action(description=_("Delete selected services (soft: they can be restored)"))
    def soft_delete_selected(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        for service_id in queryset.values_list("id", flat=True):
            try:
                services.service_soft_delete(user=request.user, service_id=service_id)
            except ApplicationError as exc:  # e.g. a role that may view but not change the catalog
                application_error_report(request, exc)
                return
        self.message_user(request, _("Deleted."))

    @admin.action(description=_("Restore selected services"))
    def restore_selected(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        for service_id in queryset.values_list("id", flat=True):
            try:
                services.service_restore(user=request.user, service_id=service_id)
            except ApplicationError as exc:  # e.g. a role that may view but not change the catalog
                application_error_report(request, exc)
                return
        self.message_user(request, _("Restored."))


@admin.register(ServiceGroup)
class ServiceGroupAdmin(CatalogAdmin):
    list_display = ("name", "organization", "sort_order")
    list_filter = ("organization",)
    search_fields = ("name",)
    fields = ("organization", "name", "sort_order")

    def get_readonly_fields(self, request: HttpRequest, obj: ServiceGroup | None = None) -> tuple[str, ...]:
        return ("organization",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: ServiceGroup, form: forms.Form, change: bool) -> None:
        if change:
            saved = services.service_group_update(
                user=request.user, group_id=obj.pk, name=obj.name, sort_order=obj.sort_order
            )
        else:
            saved = services.service_group_create(
                user=request.user, organization_id=obj.organization_id, name=obj.name, sort_order=obj.sort_order
            )
        obj.pk = saved.pk


@admin.register(Resource)
class ResourceAdmin(CatalogAdmin):
    tenant_path = "branch__organization"
    list_display = ("name", "kind", "branch", "is_active")
    list_filter = ("kind", "is_active", "branch__organization")
    search_fields = ("name", "branch__name")
    list_select_related = ("branch",)

    def save_model(self, request: HttpRequest, obj: Resource, form: forms.Form, change: bool) -> None:
        services.resource_save(user=request.user, resource=obj)


@admin.register(StaffService)
class StaffServiceAdmin(CatalogAdmin):
    list_display = ("staff", "service", "price", "duration_minutes", "is_active")
    list_filter = ("organization", "is_active")
    search_fields = ("service__name", "staff__phone", "staff__last_name")
    raw_id_fields = ("staff", "service")
    fields = ("staff", "service", "price", "duration_minutes", "is_active")

    def save_model(self, request: HttpRequest, obj: StaffService, form: forms.Form, change: bool) -> None:
        services.staff_service_save(user=request.user, staff_service=obj)
