"""Back office for clients. Every save and action goes through the CRM services, so the event log sees it;
nothing here can hard-delete a client."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from backend.accounts.models import User
from backend.core.admin_filters import DeletedFilter, application_error_report
from backend.core.exceptions import ApplicationError
from backend.organizations.admin_tenancy import TenantScopedAdmin, tenant_ids
from backend.organizations.permissions import Perm

from . import selectors, services
from .fields import CLIENT_FORM_FIELDS, CLIENT_PLAIN_FIELDS
from .models import CONSENT_KINDS, Client, ClientGroup, ClientSource, Vehicle


def _short(value: Any) -> str:
    text = "∅" if value in (None, "", []) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """'field: old → new' for changes, 'field: value' for what a creation set (empty values left out)."""
    before = before or {}
    parts = []
    for key in sorted(after or {}):
        new = (after or {})[key]
        if key in before:
            parts.append(f"{key}: {_short(before[key])} → {_short(new)}")
        elif new not in (None, "", []):
            parts.append(f"{key}: {_short(new)}")
    return "; ".join(parts)


class ConsentFilter(admin.SimpleListFilter):
    title = _("consent given")
    parameter_name = "consent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(k, k.replace("_", " ")) for k in CONSENT_KINDS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in CONSENT_KINDS:
            return queryset.filter(**{f"consent_{self.value()}_at__isnull": False})
        return queryset


class GroupActionForm(ActionForm):
    group = forms.ModelChoiceField(queryset=ClientGroup.objects.all(), required=False, label=_("group"))


class ClientAdminForm(forms.ModelForm):
    """The client's fields and consent check boxes; the services clean and check them (phone, code, references)."""

    consent_messages = forms.BooleanField(required=False, label=_("consents to messages"))
    consent_marketing = forms.BooleanField(required=False, label=_("consents to marketing"))
    consent_personal_data = forms.BooleanField(required=False, label=_("consents to personal data processing"))
    consent_how = forms.CharField(required=False, max_length=100, label=_("how consent was given"))

    class Meta:
        model = Client
        fields = CLIENT_FORM_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for kind in CONSENT_KINDS:
                self.fields[f"consent_{kind}"].initial = getattr(self.instance, f"consent_{kind}_at") is not None


class CrmAdmin(TenantScopedAdmin):
    """CRM rows: seen with the right to view clients, changed with the right to change them, never hard-deleted."""

    view_perm = Perm.CLIENT_VIEW
    change_perm = Perm.CLIENT_CHANGE
    delete_perm = None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # soft-delete actions only: clients, sources and groups carry history


@admin.register(Client)
class ClientAdmin(CrmAdmin):
    form = ClientAdminForm
    list_display = ("display_name", "phone", "organization", "source", "last_visit_at", "created_at", "is_active")
    list_filter = (
        ("organization", admin.RelatedOnlyFieldListFilter),
        ("source", admin.RelatedOnlyFieldListFilter),
        ("groups", admin.RelatedOnlyFieldListFilter),
        ConsentFilter,
        DeletedFilter,
    )
    search_fields = ("phone", "search_text")
    search_help_text = _("Name, e-mail, code or phone digits (case-insensitive, Cyrillic too).")
    list_select_related = ("organization", "source")
    autocomplete_fields = ()
    actions = ("soft_delete_selected", "restore_selected", "add_to_group")
    action_form = GroupActionForm
    readonly_fields = (
        "created_at",
        "updated_at",
        "deleted_at",
        "last_visit_at",
        "consents_recorded",
        "vehicles_list",
        "history",
    )
    fieldsets = (
        (None, {"fields": ("organization", "phone", "last_name", "first_name", "middle_name", "code")}),
        (
            _("Details"),
            {"fields": ("birthday", "gender", "email", "source", "groups", "curator", "notes", "extra_contact")},
        ),
        (
            _("Consents"),
            {
                "fields": (
                    "consent_messages",
                    "consent_marketing",
                    "consent_personal_data",
                    "consent_how",
                    "consents_recorded",
                )
            },
        ),
        (_("Vehicles"), {"fields": ("vehicles_list",)}),
        (_("History (event log)"), {"fields": ("created_at", "updated_at", "deleted_at", "last_visit_at", "history")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Client]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(selectors.client_deleted_visible(request.user))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Curators are users, who have no organization column: offer the members of the user's organizations.
        if db_field.name == "curator" and not request.user.is_superuser:
            ids = tenant_ids(request, self.change_perm)
            kwargs["queryset"] = User.objects.filter(memberships__organization_id__in=ids).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        response = super().changelist_view(request, extra_context)
        form = getattr(response, "context_data", {}).get("action_form")
        if form is not None and not request.user.is_superuser:
            ids = tenant_ids(request, self.change_perm)
            form.fields["group"].queryset = ClientGroup.objects.filter(organization_id__in=ids)
        return response

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Client], search_term: str
    ) -> tuple[QuerySet[Client], bool]:
        # Admin's icontains cannot fold Cyrillic on SQLite: search the lowercase column the services keep.
        if not search_term.strip():
            return queryset, False
        return queryset.filter(selectors.client_search_filter(search_term)), False

    def get_readonly_fields(self, request: HttpRequest, obj: Client | None = None) -> tuple[str, ...]:
        fields = tuple(self.readonly_fields)
        return ("organization", *fields) if obj is not None else fields

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # managers never hard-delete clients
        return actions

    @admin.display(description=_("name"), ordering="name_key")
    def display_name(self, obj: Client) -> str:
        return obj.full_name or "—"

    @admin.display(description=_("active"), boolean=True)
    def is_active(self, obj: Client) -> bool:
        return obj.deleted_at is None

    @admin.display(description=_("consents recorded"))
    def consents_recorded(self, obj: Client) -> str:
        rows = [
            (
                kind.replace("_", " "),
                getattr(obj, f"consent_{kind}_at") or "—",
                getattr(obj, f"consent_{kind}_by") or "—",
                getattr(obj, f"consent_{kind}_how") or "—",
            )
            for kind in CONSENT_KINDS
        ]
        return format_html(
            "<table>{}</table>", format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        )

    @admin.display(description=_("vehicles"))
    def vehicles_list(self, obj: Client) -> str:
        if obj.pk is None:
            return "—"
        vehicles = selectors.client_vehicles(obj)
        return format_html_join(", ", "{}", ((str(v),) for v in vehicles)) or "—"

    @admin.display(description=_("history"))
    def history(self, obj: Client) -> str:
        if obj.pk is None:
            return "—"
        events = selectors.client_events(obj, limit=100)
        rows = (
            (
                timezone.localtime(e.occurred_at).strftime("%Y-%m-%d %H:%M:%S"),
                e.get_action_display(),
                e.entity_type,
                e.actor or "—",
                _changes(e.before, e.after) or "—",
            )
            for e in events
        )
        return format_html(
            '<table class="brigada-history"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>',
            _("when"),
            _("what"),
            _("entity"),
            _("who"),
            _("changes"),
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    def _consents(self, form: forms.Form, obj: Client) -> dict[str, Any]:
        how = form.cleaned_data.get("consent_how") or "back office"
        out = {}
        for kind in CONSENT_KINDS:
            given = bool(form.cleaned_data.get(f"consent_{kind}"))
            already = getattr(obj, f"consent_{kind}_at") is not None
            # A consent already on file keeps how it was given; only a new one takes the form's "how".
            out[kind] = {"given": given, "how": "" if already else how}
        return out

    def save_model(self, request: HttpRequest, obj: Client, form: forms.Form, change: bool) -> None:
        data = form.cleaned_data
        fields: dict[str, Any] = {name: data.get(name) for name in CLIENT_PLAIN_FIELDS}
        fields.update(
            {
                "source_id": data["source"].pk if data.get("source") else None,
                "curator_id": data["curator"].pk if data.get("curator") else None,
                "group_ids": [g.pk for g in data.get("groups") or []],
                "consents": self._consents(form, obj),
            }
        )
        if change:
            saved = services.client_update(user=request.user, client_id=obj.pk, data=fields)
        else:
            saved = services.client_create(user=request.user, organization_id=data["organization"].pk, **fields)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        """Groups were saved by the service (with the event); only inline formsets would remain, and there are none."""

    @admin.action(description=_("Delete selected clients (soft: they can be restored)"))
    def soft_delete_selected(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        done = 0
        for client_id in queryset.filter(deleted_at__isnull=True).values_list("id", flat=True):
            try:
                services.client_soft_delete(user=request.user, client_id=client_id)
                done += 1
            except ApplicationError as exc:
                application_error_report(request, exc)
        self.message_user(request, _("%(n)d client(s) deleted; restore them any time.") % {"n": done})

    @admin.action(description=_("Restore selected clients"))
    def restore_selected(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        done = 0
        for client_id in queryset.filter(deleted_at__isnull=False).values_list("id", flat=True):
            try:
                services.client_restore(user=request.user, client_id=client_id)
                done += 1
            except ApplicationError as exc:
                application_error_report(request, exc)
        self.message_user(request, _("%(n)d client(s) restored.") % {"n": done})

    @admin.action(description=_("Add selected clients to the group chosen below"))
    def add_to_group(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        group_id = request.POST.get("group")
        group = ClientGroup.objects.filter(pk=group_id).first() if group_id else None
        if group is None:
            self.message_user(request, _("Choose a group first."), level=messages.WARNING)
            return
        ids = list(
            queryset.filter(organization_id=group.organization_id, deleted_at__isnull=True).values_list("id", flat=True)
        )
        if not ids:
            self.message_user(
                request, _("None of the selected clients is in that group's organization."), level=messages.WARNING
            )
            return
        try:
            changed = services.client_bulk_update(
                user=request.user, organization_id=group.organization_id, client_ids=ids, add_group_ids=[group.pk]
            )
        except ApplicationError as exc:
            application_error_report(request, exc)
            return
        self.message_user(request, _("%(n)d client(s) added to %(group)s.") % {"n": changed, "group": group.name})


class NamedAdmin(CrmAdmin):
    """Sources and groups. Names are unique per organization in any case: a database constraint the services map
    to their 409, which the form shows."""

    list_display: tuple[str, ...] = ("name", "organization", "created_at")
    list_filter = ("organization",)
    search_fields = ("name",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("organization",) if obj is not None else ()


@admin.register(ClientSource)
class ClientSourceAdmin(NamedAdmin):
    list_display = ("name", "organization", "is_active", "created_at")
    fields = ("organization", "name", "is_active")

    def save_model(self, request: HttpRequest, obj: ClientSource, form: forms.Form, change: bool) -> None:
        if change:
            saved = services.client_source_update(
                user=request.user, source_id=obj.pk, name=obj.name, is_active=obj.is_active
            )
        else:
            saved = services.client_source_create(user=request.user, organization_id=obj.organization_id, name=obj.name)
        obj.pk = saved.pk


@admin.register(ClientGroup)
class ClientGroupAdmin(NamedAdmin):
    fields = ("organization", "name")

    def save_model(self, request: HttpRequest, obj: ClientGroup, form: forms.Form, change: bool) -> None:
        if change:
            saved = services.client_group_update(user=request.user, group_id=obj.pk, name=obj.name)
        else:
            saved = services.client_group_create(user=request.user, organization_id=obj.organization_id, name=obj.name)
        obj.pk = saved.pk


@admin.register(Vehicle)
class VehicleAdmin(CrmAdmin):
    list_display = ("__str__", "client", "vin", "year", "deleted_at")
    search_fields = ("plate", "vin", "client__phone")
    raw_id_fields = ("client",)
    fields = ("client", "make", "model", "plate", "vin", "year")

    def get_readonly_fields(self, request: HttpRequest, obj: Vehicle | None = None) -> tuple[str, ...]:
        return ("client",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Vehicle, form: forms.Form, change: bool) -> None:
        data = {k: getattr(obj, k) for k in services.VEHICLE_FIELDS}
        if change:
            saved = services.vehicle_update(user=request.user, vehicle_id=obj.pk, data=data)
        else:
            saved = services.vehicle_create(user=request.user, client_id=obj.client_id, **data)
        obj.pk = saved.pk
