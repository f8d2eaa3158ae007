"""The one admin base for tenant-scoped data: staff who are not superusers see and change only their organizations'
rows, and a service refusing a save is shown on the form.

Superusers see everything. For everyone else a ModelAdmin built on ``TenantScopedAdmin`` shows only rows whose
organization is among ``organization_ids_for(user, view_perm)``; an object outside that set is simply not in the
queryset, so the admin answers as for a missing object. Inside the tenancy, changing needs ``change_perm`` and
deleting ``delete_perm`` in the object's organization, on top of Django's model permissions. Foreign-key and
many-to-many choices are narrowed to the organizations where the user may change things.

Admins with no organization to scope by (sessions, one-time codes, idempotency records, workers) are
``SuperuserOnlyAdmin`` (``backend.core.admin_tenancy``). ``tests/core/test_admin_tenancy.py`` fails for any registered
admin that is neither.

Saves go through the services, which judge every rule; forms do not restate them. When a service refuses
(``ApplicationError``), the same POST is shown again with the refusal on the form (``ServiceErrorsMixin``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from backend.core.admin_filters import ServiceErrorsMixin

from .models import Organization
from .permissions import Perm
from .selectors import organization_ids_for


def tenant_ids(request: HttpRequest, perm: Perm | None) -> set[int]:
    """``organization_ids_for`` memoised on the request: one admin page asks many times."""
    cache: dict[Perm | None, set[int]] = request.__dict__.setdefault("_brigada_tenant_ids", {})
    if perm not in cache:
        cache[perm] = organization_ids_for(request.user, perm)
    return cache[perm]


def tenant_choices(request: HttpRequest, db_field: Any, perm: Perm | None, kwargs: dict[str, Any]) -> None:
    """Narrow a relation's choices to the organizations where the user holds ``perm`` (in place)."""
    if request.user.is_superuser or "queryset" in kwargs:
        return
    related = db_field.related_model
    ids = tenant_ids(request, perm) if perm is not None else set()
    if related is Organization:
        kwargs["queryset"] = Organization.objects.filter(id__in=ids)
    elif any(f.name == "organization" for f in related._meta.get_fields()):
        kwargs["queryset"] = related._default_manager.filter(organization_id__in=ids)


class TenantScopedAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    """Rows, object permissions and relation choices limited to the user's organizations."""

    #: Lookup path from the model to its organization ("id" for Organization itself).
    tenant_path: str = "organization"
    view_perm: Perm = Perm.ORG_VIEW
    #: None: read-only for non-superusers.
    change_perm: Perm | None = None
    delete_perm: Perm | None = None

    # --- rows -------------------------------------------------------------------------------------------------
    def tenant_filter(self, queryset: QuerySet[Any], ids: set[int]) -> QuerySet[Any]:
        """Rows of ``ids``; rows with no organization never match, so they stay superuser-only."""
        return queryset.filter(**{f"{self.tenant_path}__in": ids})

    def tenant_ids_of(self, obj: Any) -> set[int]:
        """The organizations an object belongs to."""
        value = obj
        parts = self.tenant_path.split("__")
        for part in parts[:-1]:
            value = getattr(value, part, None)
            if value is None:
                return set()
        last = parts[-1]
        org_id = getattr(value, f"{last}_id") if hasattr(value, f"{last}_id") else getattr(value, last, None)
        return {int(org_id)} if org_id is not None else set()

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return self.tenant_filter(queryset, tenant_ids(request, self.view_perm))

    def scoped_for(self, request: HttpRequest, queryset: QuerySet[Any], perm: Perm | None) -> QuerySet[Any]:
        """Narrow an action's selection to the rows where the user holds ``perm``."""
        if request.user.is_superuser:
            return queryset
        return self.tenant_filter(queryset, tenant_ids(request, perm)) if perm is not None else queryset.none()

    # --- permissions ------------------------------------------------------------------------------------------
    def _tenant_allows(self, request: HttpRequest, perm: Perm | None, obj: Any) -> bool:
        if request.user.is_superuser:
            return True
        if perm is None:
            return False
        ids = tenant_ids(request, perm)
        return bool(ids) if obj is None else bool(self.tenant_ids_of(obj) & ids)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) and self._tenant_allows(request, self.view_perm, None)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and self._tenant_allows(request, self.view_perm, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return super().has_add_permission(request, *args) and self._tenant_allows(request, self.change_perm, None)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._tenant_allows(request, self.change_perm, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._tenant_allows(request, self.delete_perm, obj)

    # --- forms and filters ------------------------------------------------------------------------------------
    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        tenant_choices(request, db_field, self.change_perm, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        tenant_choices(request, db_field, self.change_perm, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request: HttpRequest) -> Any:
        """A plain relation filter lists every related row (other tenants' names): offer only those in use."""
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        out: list[Any] = []
        for item in filters:
            if isinstance(item, str) and "__" not in item:
                field = self.model._meta.get_field(item)
                if isinstance(field, models.ForeignKey | models.ManyToManyField):
                    item = (item, admin.RelatedOnlyFieldListFilter)
            out.append(item)
        return out
