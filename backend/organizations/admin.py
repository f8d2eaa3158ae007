"""Back office for organizations, branches and memberships, and the (tenant-scoped) event log.

Non-superusers see only their organizations and need the manage right (owners) to change anything; every
save and removal goes through ``services``, so it is permission-checked and written to the event log.
Organizations and branches are deactivated, never deleted here (history and memberships refer to them).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import ValidationError
from django.forms import BaseInlineFormSet
from django.http import HttpRequest

from backend.accounts.models import User
from backend.core.models import Event

from . import services
from .admin_tenancy import TenantScopedAdmin, tenant_choices, tenant_ids
from .models import Branch, Membership, Organization
from .permissions import Perm

INLINE_BRANCH_FIELDS = ("name", "address", "time_zone", "phone", "is_active")
INLINE_MEMBERSHIP_FIELDS = ("user", "role", "branch", "is_active")


def _changes(form: forms.ModelForm, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in form.changed_data if name in fields}


class MembershipForm(forms.ModelForm):
    """The fields of a membership; the service judges them (a branch of another organization is its refusal,
    shown on the form by the admin base)."""

    class Meta:
        model = Membership
        fields = ("user", "organization", "branch", "role", "is_active")


class MemberRawIdWidget(ForeignKeyRawIdWidget):
    """Names only users the staff member can already see: typing an id must not reveal a stranger's phone."""

    def __init__(self, *args: Any, visible_user_ids: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.visible_user_ids = visible_user_ids

    def label_and_url_for_value(self, value: Any) -> tuple[str, str]:
        try:
            visible = self.visible_user_ids.filter(pk=value).exists()
        except (TypeError, ValueError, ValidationError):
            visible = False
        return super().label_and_url_for_value(value) if visible else ("", "")


def member_choices(admin_site: Any, request: HttpRequest, db_field: Any, kwargs: dict[str, Any]) -> None:
    """Any user may be given a role (that is how people join), but only known colleagues are named."""
    if db_field.name != "user" or request.user.is_superuser:
        return
    colleagues = Membership.objects.filter(organization_id__in=tenant_ids(request, Perm.ORG_VIEW))
    kwargs["widget"] = MemberRawIdWidget(
        db_field.remote_field,
        admin_site,
        using=kwargs.get("using"),
        visible_user_ids=User.objects.filter(pk__in=colleagues.values("user_id")),
    )


class TenantInlineMixin:
    """Inline choices narrowed like the parent admin's (the parent itself is already scoped)."""

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        tenant_choices(request, db_field, Perm.ORG_MANAGE, kwargs)
        member_choices(self.admin_site, request, db_field, kwargs)  # type: ignore[attr-defined]
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class BranchInline(TenantInlineMixin, admin.TabularInline):
    model = Branch
    extra = 0
    fields = INLINE_BRANCH_FIELDS
    can_delete = False


class MembershipInline(TenantInlineMixin, admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 0
    raw_id_fields = ("user",)
    fields = INLINE_MEMBERSHIP_FIELDS


def membership_formset_save(request: HttpRequest, formset: BaseInlineFormSet, **fixed: Any) -> None:
    """Save a membership inline through the services; ``fixed`` holds the parent (user or organization)."""
    formset.save(commit=False)
    for deleted in formset.deleted_objects:
        services.membership_revoke(user=request.user, membership_id=deleted.pk)
    changed_forms = {id(f.instance): f for f in formset.forms}
    for membership, changed in formset.changed_objects:
        form = changed_forms[id(membership)]
        services.membership_update(
            user=request.user,
            membership_id=membership.pk,
            data={k: form.cleaned_data[k] for k in changed if k in services.MEMBERSHIP_FIELDS},
        )
    for membership in formset.new_objects:
        created = services.membership_grant(
            user=request.user,
            member_id=fixed.get("member_id", membership.user_id),
            organization_id=fixed.get("organization_id", membership.organization_id),
            role=membership.role,
            branch_id=membership.branch_id,
            is_active=membership.is_active,
        )
        membership.pk = created.pk


@admin.register(Organization)
class OrganizationAdmin(TenantScopedAdmin):
    tenant_path = "id"
    view_perm = Perm.ORG_VIEW
    change_perm = Perm.ORG_MANAGE
    delete_perm = None

    list_display = ("name", "kind", "parent", "country", "time_zone", "currency", "is_active")
    list_filter = ("kind", "country", "is_active")
    search_fields = ("name",)
    autocomplete_fields = ("parent",)
    inlines = (BranchInline, MembershipInline)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return bool(request.user.is_superuser) and super().has_add_permission(request, *args)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Attaching to or leaving an HQ changes who sees the organization's data: superusers only.
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else (*fields, "parent")

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        data = _changes(form, services.ORGANIZATION_FIELDS)
        if change:
            saved = services.organization_update(user=request.user, organization_id=obj.pk, data=data)
        else:
            saved = services.organization_create(
                user=request.user, data={k: form.cleaned_data[k] for k in services.ORGANIZATION_FIELDS}
            )
        obj.__dict__.update(saved.__dict__)

    def save_formset(self, request: HttpRequest, form: Any, formset: BaseInlineFormSet, change: bool) -> None:
        organization: Organization = form.instance
        if formset.model is Membership:
            membership_formset_save(request, formset, organization_id=organization.pk)
            return
        formset.save(commit=False)
        changed_forms = {id(f.instance): f for f in formset.forms}
        for branch, changed in formset.changed_objects:
            form_ = changed_forms[id(branch)]
            services.branch_update(
                user=request.user,
                branch_id=branch.pk,
                data={k: form_.cleaned_data[k] for k in changed if k in services.BRANCH_FIELDS},
            )
        for branch in formset.new_objects:
            form_ = changed_forms[id(branch)]
            created = services.branch_create(
                user=request.user,
                organization_id=organization.pk,
                data={k: form_.cleaned_data[k] for k in INLINE_BRANCH_FIELDS if k in form_.cleaned_data},
            )
            branch.pk = created.pk


@admin.register(Branch)
class BranchAdmin(TenantScopedAdmin):
    view_perm = Perm.ORG_VIEW
    change_perm = Perm.ORG_MANAGE
    delete_perm = None

    list_display = ("name", "organization", "address", "time_zone", "is_active")
    list_filter = ("organization", "is_active")
    search_fields = ("name", "address", "organization__name")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: memberships narrowed to a branch would go with it

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("organization",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Branch, form: Any, change: bool) -> None:
        if change:
            saved = services.branch_update(
                user=request.user, branch_id=obj.pk, data=_changes(form, services.BRANCH_FIELDS)
            )
        else:
            data = {k: v for k, v in form.cleaned_data.items() if k in services.BRANCH_FIELDS}
            saved = services.branch_create(user=request.user, organization_id=data.pop("organization").pk, data=data)
        obj.__dict__.update(saved.__dict__)


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    """Granting a role needs the manage right in that organization: nobody makes themselves owner elsewhere."""

    view_perm = Perm.ORG_VIEW
    change_perm = Perm.ORG_MANAGE
    delete_perm = Perm.ORG_MANAGE
    form = MembershipForm

    list_display = ("user", "organization", "branch", "role", "is_active")
    list_filter = ("role", "is_active", "organization")
    search_fields = ("user__phone", "user__first_name", "user__last_name", "organization__name")
    raw_id_fields = ("user",)
    autocomplete_fields = ("organization", "branch")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        member_choices(self.admin_site, request, db_field, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        if change:
            saved = services.membership_update(
                user=request.user, membership_id=obj.pk, data=_changes(form, services.MEMBERSHIP_FIELDS)
            )
        else:
            data = form.cleaned_data
            saved = services.membership_grant(
                user=request.user,
                member_id=data["user"].pk,
                organization_id=data["organization"].pk,
                role=data["role"],
                branch_id=data["branch"].pk if data.get("branch") else None,
                is_active=data.get("is_active", True),
            )
        obj.__dict__.update(saved.__dict__)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_revoke(user=request.user, membership_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for membership_id in self.scoped_for(request, queryset, self.delete_perm).values_list("pk", flat=True):
            services.membership_revoke(user=request.user, membership_id=membership_id)


@admin.register(Event)
class EventAdmin(TenantScopedAdmin):
    """The audit trail: readable by staff with the audit right in the event's organization, never editable.

    Events with no organization (users, sessions) are superuser-only.
    """

    view_perm = Perm.AUDIT_VIEW

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
