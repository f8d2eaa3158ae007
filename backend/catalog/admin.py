"""Back office for the catalog; saves go through the catalog services so each change is in the event log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from backend.core.admin_filters import DeletedFilter, ServiceErrorsAdmin, tenant_scoped
from backend.organizations.models import Branch, Membership, Organization
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_ids_for

from . import services
from .models import Resource, Service, ServiceGroup, StaffService


class CatalogAdmin(ServiceErrorsAdmin):
    """Staff who are not superusers see and change only their organizations' catalog, per their role."""

    org_path = "organization_id"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return tenant_scoped(request, super().get_queryset(request), Perm.CATALOG_VIEW, self.org_path)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        if not allowed or request.user.is_superuser or obj is None:
            return allowed
        org_id = obj.branch.organization_id if self.org_path.startswith("branch") else obj.organization_id
        return org_id in organization_ids_for(request.user, Perm.CATALOG_CHANGE)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # bookings and history refer to catalog rows: deactivate or soft-delete instead

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if not request.user.is_superuser:
            ids = organization_ids_for(request.user, Perm.CATALOG_CHANGE)
            if db_field.name == "organization":
                kwargs["queryset"] = Organization.objects.filter(id__in=ids)
            elif db_field.name == "group":
                kwargs["queryset"] = ServiceGroup.objects.filter(organization_id__in=ids)
            elif db_field.name == "branch":
                kwargs["queryset"] = Branch.objects.filter(organization_id__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ServiceAdminForm(forms.ModelForm):
    class Meta:
        model = Service
        fields = ("organization", "group", "name", "code", "price", "duration_minutes", "description", "is_active")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        organization = data.get("organization") or getattr(self.instance, "organization", None)
        group = data.get("group")
        if organization is not None and group is not None and group.organization_id != organization.pk:
            self.add_error("group", _("Belongs to another organization."))
        code = data.get("code")
        if (
            organization is not None
            and code
            and Service.objects.filter(organization=organization, code=code).exclude(pk=self.instance.pk).exists()
        ):
            self.add_error("code", _("Another service has this code."))
        return data


@admin.register(Service)
class ServiceAdmin(CatalogAdmin):
    form = ServiceAdminForm
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
            services.service_soft_delete(user=request.user, service_id=service_id)
        self.message_user(request, _("Deleted."))

    @admin.action(description=_("Restore selected services"))
    def restore_selected(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        for service_id in queryset.values_list("id", flat=True):
            services.service_restore(user=request.user, service_id=service_id)
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


class StaffServiceAdminForm(forms.ModelForm):
    class Meta:
        model = StaffService
        fields = ("staff", "service", "price", "duration_minutes", "is_active")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        staff, service = data.get("staff"), data.get("service")
        if (
            staff is not None
            and service is not None
            and not Membership.objects.filter(
                user=staff, organization_id=service.organization_id, is_active=True
            ).exists()
        ):
            self.add_error("staff", _("Not a member of the service's organization."))
        return data


@admin.register(Resource)
class ResourceAdmin(CatalogAdmin):
    org_path = "branch__organization_id"
    list_display = ("name", "kind", "branch", "is_active")
    list_filter = ("kind", "is_active", "branch__organization")
    search_fields = ("name", "branch__name")
    list_select_related = ("branch",)

    def save_model(self, request: HttpRequest, obj: Resource, form: forms.Form, change: bool) -> None:
        services.resource_save(user=request.user, resource=obj)


@admin.register(StaffService)
class StaffServiceAdmin(CatalogAdmin):
    form = StaffServiceAdminForm
    list_display = ("staff", "service", "price", "duration_minutes", "is_active")
    list_filter = ("organization", "is_active")
    search_fields = ("service__name", "staff__phone", "staff__last_name")
    raw_id_fields = ("staff", "service")
    fields = ("staff", "service", "price", "duration_minutes", "is_active")

    def save_model(self, request: HttpRequest, obj: StaffService, form: forms.Form, change: bool) -> None:
        services.staff_service_save(user=request.user, staff_service=obj)
