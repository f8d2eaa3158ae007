"""Small admin pieces the domain admins share: the soft-delete filter, row scoping by organization, and turning
service errors into messages instead of 500s."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from backend.organizations.permissions import Perm

from .admin_tenancy import tenant_ids
from .exceptions import ApplicationError


class DeletedFilter(admin.SimpleListFilter):
    """Active / soft-deleted rows of a SoftDeleteModel."""

    title = _("deleted")
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("no", _("active")), ("yes", _("deleted"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


def tenant_scoped(
    request: HttpRequest, queryset: QuerySet[Any], perm: Perm, path: str = "organization_id"
) -> QuerySet[Any]:
    """Rows of the organizations where a staff member holds ``perm``; superusers see every row."""
    if request.user.is_superuser:
        return queryset
    return queryset.filter(**{f"{path}__in": tenant_ids(request, perm)})


def application_error_report(request: HttpRequest, exc: ApplicationError) -> None:
    details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
    messages.error(request, f"{exc.message} {details}".strip())


class ServiceErrorsAdmin(admin.ModelAdmin):
    """Saves go through services, which may still refuse (a race the form could not see): the refusal is shown as
    a message on the same page, with the transaction rolled back, rather than a server error."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            application_error_report(request, exc)
            return HttpResponseRedirect(request.get_full_path())
