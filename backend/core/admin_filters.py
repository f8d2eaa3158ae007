"""Small admin pieces every admin shares: the soft-delete filter and showing a service's refusal on the form."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from .exceptions import ApplicationError

_REFUSAL = "_brigada_service_refusal"


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


def application_error_report(request: HttpRequest, exc: ApplicationError) -> None:
    """A service's refusal as an admin message (for actions, which have no form to show it on)."""
    details = "; ".join(
        f"{k}: {', '.join(map(str, v)) if isinstance(v, list | tuple) else v}" for k, v in exc.fields.items()
    )
    messages.error(request, f"{exc.message} {details}".strip())


def _form_field_for(name: str, form_fields: Iterable[str]) -> str | None:
    """The form field a service's argument names: ``source_id`` -> ``source``, ``group_ids`` -> ``groups``."""
    fields = set(form_fields)
    for candidate in (name, name.removesuffix("_id"), name.removesuffix("_ids") + "s"):
        if candidate in fields:
            return candidate
    return None


def service_refusal_to_form(form: forms.BaseForm, exc: ApplicationError) -> None:
    """Put a service's refusal on ``form``: its message above the form, the field messages on the fields named."""
    placed: set[str] = set()
    for name, value in exc.fields.items():
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            continue  # details such as ``existing_client_id`` are for API clients, not form errors
        target = _form_field_for(name, form.fields)
        if target is None:
            continue
        for message in value:
            form.add_error(target, message)
            placed.add(message)
    if str(exc.message) not in placed:
        form.add_error(None, exc.message)


class _RefusalForm:
    """Mixed into the admin's form class on the second pass: after its own checks, it carries the refusal."""

    service_refusal: ApplicationError

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        service_refusal_to_form(self, self.service_refusal)  # type: ignore[arg-type]


class ServiceErrorsMixin(admin.ModelAdmin):
    """Saves go through services, which judge every rule; the forms do not restate them.

    When a service refuses a save (``ApplicationError``), the exception has left the admin's transaction, so
    nothing of the save is kept; the same POST is then rendered again with the refusal on the form, as any
    form error would be: the user keeps what they typed. Should the second pass fail too (the refusal is not
    about the form), the refusal is a message on the page instead of a server error.
    """

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
            refusal = exc
        if request.method == "POST" and not hasattr(request, _REFUSAL):
            setattr(request, _REFUSAL, refusal)
            try:
                return super().changeform_view(request, object_id, form_url, extra_context)
            except ApplicationError as exc:
                refusal = exc
        application_error_report(request, refusal)
        return HttpResponseRedirect(request.get_full_path())

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, _REFUSAL, None)
        if refusal is None:
            return form
        return type(form.__name__, (_RefusalForm, form), {"service_refusal": refusal})
