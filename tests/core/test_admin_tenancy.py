"""Admin tenancy: staff who are not superusers see and change only their own organizations' rows.

The registry walk at the bottom fails as soon as an admin is registered that is neither tenant-scoped nor
superuser-only.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.exceptions import EmptyResultSet
from django.test import Client, RequestFactory
from django.urls import reverse

from backend.accounts.models import AuthToken, OtpChallenge, User
from backend.accounts.services import otp_request
from backend.accounts.tokens import token_pair_issue
from backend.core.admin_tenancy import SuperuserOnlyAdmin
from backend.core.events import event_record
from backend.core.models import Event, EventAction
from backend.notifications.models import Channel, OutboxMessage, OutboxStatus
from backend.notifications.services import message_enqueue
from backend.organizations.admin_tenancy import TenantScopedAdmin
from backend.organizations.models import Branch, Membership, Organization, Role
from tests.conftest import member

pytestmark = pytest.mark.django_db


def all_model_permissions(user: User) -> User:
    user.user_permissions.add(*Permission.objects.all())
    return User.objects.get(pk=user.pk)  # fresh: the permission cache is per instance


@pytest.fixture(params=[Role.OWNER, Role.MANAGER])
def staff(request: Any, org: Organization) -> User:
    """An owner or a manager of org A with every model permission Django knows, but not a superuser."""
    return all_model_permissions(member(org, request.param, is_staff=True, is_superuser=False))


@pytest.fixture
def web(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def owner_web(org: Organization) -> tuple[User, Client]:
    owner = all_model_permissions(member(org, Role.OWNER, is_staff=True, is_superuser=False))
    client = Client()
    client.force_login(owner)
    return owner, client


@pytest.fixture
def rows(org: Organization, other_org: Organization, staff: User) -> dict[str, dict[str, Any]]:
    """One object of each kind in org A and in org B."""
    out: dict[str, dict[str, Any]] = {}
    for key, organization in (("a", org), ("b", other_org)):
        colleague = member(organization, Role.MASTER)
        membership = Membership.objects.get(user=colleague)
        branch = Branch.objects.create(organization=organization, name=f"Branch {key}")
        event = event_record(entity=branch, action=EventAction.CREATE, after={"name": "Secret " + key})
        message, _ = message_enqueue(
            channel=Channel.SMS,
            recipient=colleague.phone,
            body="hi",
            dedupe_key=f"k-{key}",
            organization_id=organization.pk,
        )
        token_pair_issue(user=colleague)
        out[key] = {
            "event": event,
            "outboxmessage": message,
            "organization": organization,
            "branch": branch,
            "membership": membership,
            "user": colleague,
            "authtoken": AuthToken.objects.filter(user=colleague).first(),
        }
    otp_request(phone=out["b"]["user"].phone, ip="10.0.0.1")
    out["b"]["otpchallenge"] = OtpChallenge.objects.get()
    return out


def url(obj: Any, view: str) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])


@pytest.mark.parametrize(
    "kind", ["event", "outboxmessage", "organization", "branch", "membership", "user", "authtoken", "otpchallenge"]
)
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_other_organizations_objects_are_not_found(
    web: Client, rows: dict[str, dict[str, Any]], kind: str, view: str
) -> None:
    # given an object of org B
    obj = rows["b"][kind]
    events_before = Event.objects.count()
    # when org A's owner opens it
    response = web.get(url(obj, view))
    # then the admin answers as for a missing object (redirect to the index) or refuses; nothing leaks
    assert response.status_code in (302, 403, 404), (kind, view, response.status_code)
    if response.status_code == 302:
        assert response.headers["Location"] == reverse("admin:index")
    assert "Secret b" not in response.content.decode()
    assert Event.objects.count() == events_before


@pytest.mark.parametrize(
    "kind", ["event", "outboxmessage", "organization", "branch", "membership", "user", "authtoken", "otpchallenge"]
)
def test_posting_a_change_or_delete_of_another_organizations_object_changes_nothing(
    web: Client, rows: dict[str, dict[str, Any]], kind: str
) -> None:
    obj = rows["b"][kind]
    model = type(obj)
    before = list(model.objects.order_by("pk").values())
    events_before = Event.objects.count()
    web.post(url(obj, "change"), {"name": "Taken", "role": Role.OWNER, "is_active": "on"})
    web.post(url(obj, "delete"), {"post": "yes"})
    assert list(model.objects.order_by("pk").values()) == before
    assert Event.objects.count() == events_before


@pytest.mark.parametrize(
    ("kind", "visible"),
    [
        ("event", True),
        ("outboxmessage", True),
        ("organization", True),
        ("branch", True),
        ("membership", True),
        ("user", True),
        ("authtoken", False),
        ("otpchallenge", False),
    ],
)
def test_changelists_show_only_own_organization_rows(
    web: Client, rows: dict[str, dict[str, Any]], kind: str, visible: bool
) -> None:
    obj = rows["b"].get(kind) or rows["a"][kind]
    meta = obj._meta
    response = web.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    if not visible:
        # sessions and one-time codes are superuser-only
        assert response.status_code == 403
        return
    assert response.status_code == 200
    shown = set(response.context["cl"].queryset.values_list("pk", flat=True))
    assert rows["a"][kind].pk in shown
    assert rows["b"][kind].pk not in shown
    assert "Salon B" not in response.content.decode()


def test_other_organizations_are_not_offered_as_filter_or_choice(
    web: Client, owner_web: tuple[User, Client], rows: dict[str, dict[str, Any]]
) -> None:
    # the membership form offers only organizations org A's owner manages
    response = owner_web[1].get(reverse("admin:organizations_membership_add"))
    assert response.status_code == 200
    choices = {o.pk for o in response.context["adminform"].form.fields["organization"].queryset}
    assert choices == {rows["a"]["organization"].pk}
    # the event list's organization filter names no other tenant
    assert "Salon B" not in web.get(reverse("admin:core_event_changelist")).content.decode()


def test_owner_cannot_grant_themselves_a_role_in_another_organization(
    owner_web: tuple[User, Client], rows: dict[str, dict[str, Any]], other_org: Organization
) -> None:
    # when org A's owner posts a membership making themselves owner of org B
    staff, web = owner_web
    events_before = Event.objects.count()
    response = web.post(
        reverse("admin:organizations_membership_add"),
        {"user": staff.pk, "organization": other_org.pk, "role": Role.OWNER, "is_active": "on"},
    )
    # then the form refuses the organization and nothing is written
    assert response.status_code == 200
    assert "organization" in response.context["adminform"].form.errors
    assert not Membership.objects.filter(user=staff, organization=other_org).exists()
    assert Event.objects.count() == events_before


def test_manager_without_manage_right_sees_organization_but_cannot_change_it(
    org: Organization, rows: dict[str, dict[str, Any]]
) -> None:
    # given a manager of org A (no org.manage) holding every model permission
    manager = all_model_permissions(member(org, Role.MANAGER, is_staff=True))
    client = Client()
    client.force_login(manager)
    before = list(Organization.objects.order_by("pk").values())
    # when they open and post their own organization and try to grant a role in it
    page = client.get(url(org, "change"))
    client.post(url(org, "change"), {"name": "Renamed", "kind": org.kind, "country": "KZ"})
    grant = client.post(
        reverse("admin:organizations_membership_add"),
        {"user": manager.pk, "organization": org.pk, "role": Role.OWNER, "is_active": "on"},
    )
    # then they may look but not change, and no role is granted
    assert page.status_code == 200 and "Renamed" not in page.content.decode()
    assert list(Organization.objects.order_by("pk").values()) == before
    assert grant.status_code == 403
    assert not Membership.objects.filter(user=manager, role=Role.OWNER).exists()


def test_outbox_actions_touch_only_visible_rows(web: Client, rows: dict[str, dict[str, Any]]) -> None:
    # given a failed message in each organization
    ids = [rows["a"]["outboxmessage"].pk, rows["b"]["outboxmessage"].pk]
    OutboxMessage.objects.filter(pk__in=ids).update(status=OutboxStatus.FAILED)
    # when org A's owner or manager selects both (one id forged) and cancels
    web.post(reverse("admin:notifications_outboxmessage_changelist"), {"action": "cancel", "_selected_action": ids})
    # then only org A's message is cancelled
    statuses = dict(OutboxMessage.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert statuses == {ids[0]: OutboxStatus.CANCELLED, ids[1]: OutboxStatus.FAILED}


def test_superuser_still_sees_every_organization(rows: dict[str, dict[str, Any]]) -> None:
    root = User.objects.create_superuser(phone="+77010000099", password="pw-123456789")
    client = Client()
    client.force_login(root)
    for kind in ("event", "outboxmessage", "organization", "branch", "membership", "user", "authtoken"):
        meta = rows["b"][kind]._meta
        response = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        shown = set(response.context["cl"].queryset.values_list("pk", flat=True))
        assert {rows["a"][kind].pk, rows["b"][kind].pk} <= shown, kind


# --- every registered admin is scoped or superuser-only ----------------------------------------------------------

#: Third-party admins re-registered as superuser-only in backend/core/admin.py.
THIRD_PARTY = {"auth.Group", "django_tasks_database.DBTaskResult"}


def _request(user: User) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _is_empty(queryset: Any) -> bool:
    try:
        queryset.query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:
        return True
    return queryset.query.is_empty()


def test_every_registered_admin_is_tenant_scoped_or_superuser_only(db: None) -> None:
    # given a staff user with every model permission and no membership anywhere
    outsider = all_model_permissions(User.objects.create_user(phone="+77010000077", is_staff=True))
    request = _request(outsider)
    unscoped = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        superuser_only = not model_admin.has_module_permission(request) and not model_admin.has_view_permission(request)
        if isinstance(model_admin, SuperuserOnlyAdmin):
            assert superuser_only, label
        elif isinstance(model_admin, TenantScopedAdmin):
            # scoped: without a membership the queryset is provably empty, whatever the table holds
            assert _is_empty(model_admin.get_queryset(request)), label
        elif not superuser_only:
            unscoped.append(label)
        assert label not in THIRD_PARTY or superuser_only, label
    assert unscoped == [], f"admins neither tenant-scoped nor superuser-only: {unscoped}"


def test_every_registered_admin_uses_one_of_the_two_bases(db: None) -> None:
    """One base for tenant data, one for data with no organization: no admin scopes rows by code of its own."""
    others = sorted(
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, TenantScopedAdmin | SuperuserOnlyAdmin)
    )
    assert others == []


def test_the_walk_catches_an_unscoped_admin(db: None) -> None:
    # given a model registered with a plain ModelAdmin (what a careless new admin would look like)
    site = admin.AdminSite(name="probe")
    site.register(Branch, admin.ModelAdmin)
    outsider = all_model_permissions(User.objects.create_user(phone="+77010000078", is_staff=True))
    model_admin = site._registry[Branch]
    request = _request(outsider)
    # then it is neither superuser-only nor provably empty, which is what the walk above reports
    assert model_admin.has_view_permission(request)
    assert not isinstance(model_admin, TenantScopedAdmin | SuperuserOnlyAdmin)
    assert not _is_empty(model_admin.get_queryset(request))


def test_staff_sees_a_colleague_read_only_with_only_shared_memberships(
    web: Client, rows: dict[str, dict[str, Any]], other_org: Organization
) -> None:
    # given org A's colleague who also works for org B
    colleague = rows["a"]["user"]
    Membership.objects.create(user=colleague, organization=other_org, role=Role.WORKER)
    # when org A's owner opens the colleague
    response = web.get(url(colleague, "change"))
    password = web.get(reverse("admin:auth_user_password_change", args=[colleague.pk]))
    # then the page is read-only, shows no trace of org B and no password change
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert "Salon B" not in response.content.decode()
    assert password.status_code in (302, 403)


def test_outbox_messages_without_an_organization_are_superuser_only(
    web: Client, rows: dict[str, dict[str, Any]]
) -> None:
    # given the one-time code message of the rows fixture (it belongs to no organization)
    orphan = OutboxMessage.objects.get(organization__isnull=True)
    # when staff list and open the outbox
    listed = web.get(reverse("admin:notifications_outboxmessage_changelist"))
    opened = web.get(url(orphan, "change"))
    # then the message is not there
    assert orphan.pk not in set(listed.context["cl"].queryset.values_list("pk", flat=True))
    assert opened.status_code == 302
