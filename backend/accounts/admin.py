"""Back office for users, their sessions (tokens) and one-time codes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from backend.core.admin import SuperuserGroupAdmin
from backend.core.admin_tenancy import SuperuserOnlyAdmin
from backend.core.events import event_record, snapshot
from backend.core.exceptions import Throttled, ValidationFailed
from backend.core.models import EventAction
from backend.core.net import client_ip
from backend.core.phones import phone_normalize
from backend.organizations.admin import MembershipForm, membership_formset_save
from backend.organizations.admin_tenancy import TenantScopedAdmin, tenant_ids
from backend.organizations.models import Membership
from backend.organizations.permissions import Perm

from .lockout import (
    account_key,
    admin_login_attempt_start,
    admin_login_failed,
    admin_login_succeeded,
    login_throttles_unlock,
)
from .models import AuthToken, LoginThrottle, LoginThrottleScope, OtpChallenge, TelegramDeepLink, User
from .services import (
    USER_EVENT_FIELDS,
    group_change_record,
    group_privileges,
    user_password_change_record,
    user_privileges_set,
)
from .telegram import telegram_deep_link_create, telegram_deep_link_revoke
from .tokens import token_family_revoke, user_sessions_revoke

# Privileges are recorded as their own `privilege_change` event; the profile event holds the rest.
PRIVILEGE_FORM_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")
PROFILE_EVENT_FIELDS = tuple(name for name in USER_EVENT_FIELDS if name not in PRIVILEGE_FORM_FIELDS)


def _phone_field() -> forms.CharField:
    # Wider than the column: staff may paste "+7 (701) 123-45-67"; clean_phone stores the E.164 form.
    return forms.CharField(label=_("phone"), max_length=32, help_text=_("E.164, e.g. +77011234567"))


def _clean_phone(value: str) -> str:
    try:
        return phone_normalize(value)
    except ValidationFailed as exc:
        raise forms.ValidationError(exc.message, code="invalid_phone") from None


class UserAddForm(AdminUserCreationForm):
    """Create a user by phone; a password is optional (customers and workers sign in with one-time codes)."""

    phone = _phone_field()

    class Meta:
        model = User
        fields = ("phone", "first_name", "last_name", "language")

    def clean_phone(self) -> str:
        return _clean_phone(self.cleaned_data["phone"])


class UserEditForm(UserChangeForm):
    phone = _phone_field()

    class Meta:
        model = User
        fields = "__all__"
        field_classes: dict[str, type[forms.Field]] = {}

    def clean_phone(self) -> str:
        return _clean_phone(self.cleaned_data["phone"])


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    fk_name = "user"
    extra = 0
    fields = ("organization", "branch", "role", "is_active")
    raw_id_fields = ("organization", "branch")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # A staff member looking at a colleague sees the memberships in their own organizations only.
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(organization_id__in=tenant_ids(request, Perm.ORG_VIEW))


@admin.register(User)
class UserAdmin(TenantScopedAdmin, BaseUserAdmin):
    """Superusers manage users; other staff may only look at the members of their own organizations."""

    tenant_path = "memberships__organization"
    view_perm = Perm.ORG_VIEW
    change_perm = None  # read-only below superuser: the form holds is_superuser, groups and permissions

    form = UserEditForm
    add_form = UserAddForm
    fieldsets = (
        (None, {"fields": ("phone", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email", "language", "telegram_user_id")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("phone", "first_name", "last_name", "language", "usable_password", "password1", "password2"),
            },
        ),
    )
    list_display = ("phone", "first_name", "last_name", "language", "telegram_linked", "is_staff", "is_active")
    list_filter = ("language", "is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("phone", "first_name", "last_name", "email")
    ordering = ("phone",)
    readonly_fields = ("last_login", "date_joined")
    inlines = (MembershipInline,)
    actions = ("revoke_sessions",)

    @admin.display(boolean=True, description=_("Telegram"))
    def telegram_linked(self, obj: User) -> bool:
        return obj.telegram_user_id is not None

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Admin edits are business changes too: they go to the event log in the admin's transaction.
        if not change:
            super().save_model(request, obj, form, change)
            event_record(
                entity=obj, action=EventAction.CREATE, actor=request.user, after=snapshot(obj, USER_EVENT_FIELDS)
            )
            return
        stored = User.objects.get(pk=obj.pk)
        # The privilege flags are applied by user_privileges_set in save_related, with its own event; the
        # profile save keeps the stored values.
        obj.is_staff, obj.is_superuser = stored.is_staff, stored.is_superuser
        before = snapshot(stored, PROFILE_EVENT_FIELDS)
        super().save_model(request, obj, form, change)
        after = snapshot(obj, PROFILE_EVENT_FIELDS)
        if before != after:
            event_record(entity=obj, action=EventAction.UPDATE, actor=request.user, before=before, after=after)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Groups and direct permissions go through user_privileges_set too, not through form.save_m2m().
        privileges = {name: form.cleaned_data.pop(name) for name in PRIVILEGE_FORM_FIELDS if name in form.cleaned_data}
        super().save_related(request, form, formsets, change)
        if change and privileges:
            user_privileges_set(user=form.instance, actor=request.user, **privileges)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        # Django's form sets the password; the event is written in the same transaction when the hash changed.
        with transaction.atomic():
            before = User.objects.select_for_update().filter(pk=id).values_list("password", flat=True).first()
            response = super().user_change_password(request, id, form_url)
            user = User.objects.filter(pk=id).first()
            if user is not None and before is not None and user.password != before:
                user_password_change_record(user=user, actor=request.user)
        return response

    def tenant_filter(self, queryset: QuerySet[Any], ids: set[int]) -> QuerySet[Any]:
        # A subquery, not a join: a member of two of the organizations must not be listed twice.
        return queryset.filter(pk__in=Membership.objects.filter(organization_id__in=ids).values("user_id"))

    def tenant_ids_of(self, obj: Any) -> set[int]:
        return set(Membership.objects.filter(user_id=obj.pk).values_list("organization_id", flat=True))

    def save_formset(self, request: HttpRequest, form: Any, formset: BaseInlineFormSet, change: bool) -> None:
        # Through the organization services: permission-checked and written to the event log.
        membership_formset_save(request, formset, member_id=form.instance.pk)

    @admin.action(description=_("Log out everywhere (revoke all tokens)"), permissions=["change"])
    def revoke_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        revoked = user_sessions_revoke(user_ids=queryset.values_list("pk", flat=True), actor=request.user)
        self.message_user(request, _("%(count)d tokens revoked.") % {"count": revoked}, messages.SUCCESS)


class RevokedFilter(admin.SimpleListFilter):
    title = _("revoked")
    parameter_name = "revoked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", str(_("Yes"))), ("no", str(_("No")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        return queryset


@admin.register(AuthToken)
class AuthTokenAdmin(SuperuserOnlyAdmin):
    """Sessions are read-only here; the one thing to do with a token is to revoke its session."""

    list_display = ("user", "kind", "family", "created_at", "expires_at", "used_at", "revoked_at", "user_agent")
    list_filter = ("kind", RevokedFilter)
    search_fields = ("user__phone", "=family")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    exclude = ("token_hash",)
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.change_authtoken")

    @admin.action(description=_("Revoke the sessions of the selected tokens"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[AuthToken]) -> None:
        with transaction.atomic():
            families = dict(queryset.values_list("family", "user_id"))
            revoked = 0
            for family, user_id in families.items():
                count = token_family_revoke(family=family)
                revoked += count
                if count:
                    event_record(
                        entity=User(pk=user_id),
                        action=EventAction.SESSION_REVOKE,
                        actor=request.user,
                        after={"family": str(family), "tokens_revoked": count},
                        note="session revoked by operator",
                    )
        self.message_user(
            request,
            _("%(sessions)d sessions revoked (%(tokens)d tokens).") % {"sessions": len(families), "tokens": revoked},
            messages.SUCCESS,
        )


@admin.register(OtpChallenge)
class OtpChallengeAdmin(SuperuserOnlyAdmin):
    """One-time codes, read-only; the code is never stored, and its hash is not shown either."""

    list_display = ("phone", "channel", "created_at", "expires_at", "attempts", "consumed_at", "superseded_at", "ip")
    list_filter = ("channel", "language")
    search_fields = ("phone", "=ip")
    date_hierarchy = "created_at"
    exclude = ("code_hash",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditedGroupAdmin(SuperuserGroupAdmin):
    """Permission groups, with every grant and withdrawal in the event log (a group's rights reach all members)."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Read before anything is written: the name is saved here, the permissions in save_related.
        form.brigada_group_before = group_privileges(Group.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        group_change_record(group=form.instance, actor=request.user, before=form.brigada_group_before)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        before = group_privileges(obj)
        group_change_record(group=obj, actor=request.user, before=before, deleted=True)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for group in queryset:
            group_change_record(group=group, actor=request.user, before=group_privileges(group), deleted=True)
        super().delete_queryset(request, queryset)


# core.admin registers the superuser-only group admin; this one adds the audit trail.
admin.site.unregister(Group)
admin.site.register(Group, AuditedGroupAdmin)


@admin.register(LoginThrottle)
class LoginThrottleAdmin(SuperuserOnlyAdmin):
    """Sign-in counters and locks, read-only; a superuser may lift a lock early."""

    list_display = ("scope", "key", "failures", "window_started_at", "locked_until")
    list_filter = ("scope",)
    search_fields = ("=key",)
    actions = ("unlock",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[LoginThrottle], search_term: str
    ) -> tuple[QuerySet[LoginThrottle], bool]:
        # Account keys are stored as E.164 or as a keyed hash: look up what the person says they typed, too.
        found, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            found = found | queryset.filter(scope=LoginThrottleScope.ACCOUNT, key=account_key(search_term))
        return found, duplicates

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_unlock_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    @admin.action(description=_("Lift the selected sign-in locks"), permissions=["unlock"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[LoginThrottle]) -> None:
        lifted = login_throttles_unlock(throttle_ids=list(queryset.values_list("pk", flat=True)), actor=request.user)
        self.message_user(request, _("%(count)d sign-in locks lifted.") % {"count": lifted}, messages.SUCCESS)


class BackOfficeLoginForm(AdminAuthenticationForm):
    """The admin sign-in, throttled per account and per IP (backend.accounts.lockout).

    The try is spent before Django checks the password, so a locked account's password is never tested.
    """

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return super().clean()
        ip = client_ip(self.request) if self.request is not None else None
        try:
            attempt = admin_login_attempt_start(username=username, ip=ip or None)
        except Throttled as exc:
            raise forms.ValidationError(exc.message, code=str(exc.code)) from None
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            admin_login_failed(attempt=attempt)
            raise
        admin_login_succeeded(attempt=attempt)
        return cleaned


admin.site.login_form = BackOfficeLoginForm


@admin.register(TelegramDeepLink)
class TelegramDeepLinkAdmin(TenantScopedAdmin):
    """Deep links of the user's organizations: created and revoked through the services (never edited)."""

    view_perm = Perm.ORG_VIEW
    change_perm = Perm.ORG_MANAGE
    list_display = ("label", "organization", "branch", "source", "uses", "created_at", "revoked_at")
    list_filter = ("organization",)
    fields = ("organization", "branch", "source", "label", "start_payload", "uses", "created_at", "revoked_at")
    actions = ("revoke",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        always = ("start_payload", "uses", "created_at", "revoked_at")
        return always + (("organization", "branch", "source", "label") if obj is not None else ())

    @admin.display(description=_("/start payload"))
    def start_payload(self, obj: TelegramDeepLink) -> str:
        return obj.code or "-"

    def save_model(self, request: HttpRequest, obj: TelegramDeepLink, form: forms.Form, change: bool) -> None:
        if change:
            return  # nothing of a link changes after creation except its revocation
        saved = telegram_deep_link_create(
            actor=request.user,
            organization_id=obj.organization_id,
            branch_id=obj.branch_id,
            source_id=obj.source_id,
            label=obj.label,
        )
        obj.pk, obj.code = saved.pk, saved.code

    @admin.action(description=_("Revoke the selected links"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[TelegramDeepLink]) -> None:
        for link in self.scoped_for(request, queryset, self.change_perm):
            telegram_deep_link_revoke(actor=request.user, link_id=link.pk)
