from __future__ import annotations

import pytest
from django.test import Client as DjangoClient
from django.urls import reverse

from backend.catalog.models import Service
from backend.core.models import Event, EventAction
from backend.crm.models import Client
from backend.crm.services import client_create, client_group_create, client_soft_delete, client_source_create
from backend.imports.services import clients_import
from backend.organizations.models import Role
from tests.conftest import member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(org) -> DjangoClient:
    boss = UserFactory(is_staff=True, is_superuser=True)
    web = DjangoClient()
    web.force_login(boss)
    web.user = boss  # type: ignore[attr-defined]
    return web


@pytest.fixture
def clients(org, manager) -> list[Client]:
    return [
        client_create(
            user=manager, organization_id=org.id, phone="+77011110001", first_name="Ольга", last_name="Ёлкина"
        ),
        client_create(user=manager, organization_id=org.id, phone="+77011110002", first_name="Anna"),
    ]


def test_changelist_searches_cyrillic_case_insensitively_and_phone_digits(admin_web, clients) -> None:
    url = reverse("admin:crm_client_changelist")
    page = admin_web.get(url, {"q": "ЕЛКИНА"})
    assert page.status_code == 200
    assert "+77011110001" in page.content.decode() and "+77011110002" not in page.content.decode()
    by_phone = admin_web.get(url, {"q": "1110002"}).content.decode()
    assert "+77011110002" in by_phone and "+77011110001" not in by_phone
    for params in ({"deleted": "yes"}, {"deleted": "no"}, {"consent": "marketing"}, {"o": "2"}):
        assert admin_web.get(url, params).status_code == 200


def test_change_view_shows_the_history_and_a_save_goes_through_the_service(admin_web, org, clients) -> None:
    client = clients[1]
    url = reverse("admin:crm_client_change", args=[client.pk])
    page = admin_web.get(url)
    assert page.status_code == 200 and "brigada-history" in page.content.decode()

    response = admin_web.post(
        url,
        {
            "phone": "8 701 111 00 02",
            "first_name": "Anna",
            "last_name": "Smith",
            "middle_name": "",
            "code": "",
            "birthday": "",
            "gender": "female",
            "email": "",
            "notes": "",
            "extra_contact": "",
            "consent_marketing": "on",
            "consent_how": "paper",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    client.refresh_from_db()
    assert client.last_name == "Smith" and client.consent_marketing_how == "paper"
    update = Event.objects.filter(entity_type="crm.client", entity_id=str(client.pk), action=EventAction.UPDATE).get()
    assert update.actor == admin_web.user and update.after["last_name"] == "Smith"
    assert "Smith" in admin_web.get(url).content.decode()


def test_admin_add_creates_through_the_service_and_rejects_a_duplicate_phone(admin_web, org, clients) -> None:
    url = reverse("admin:crm_client_add")
    base = {
        "organization": org.id,
        "first_name": "New",
        "last_name": "",
        "middle_name": "",
        "code": "",
        "birthday": "",
        "gender": "",
        "email": "",
        "notes": "",
        "extra_contact": "",
    }

    duplicate = admin_web.post(url, {**base, "phone": "+7 701 111 00 01"})
    assert duplicate.status_code == 200 and "already exists" in duplicate.content.decode()
    created = admin_web.post(url, {**base, "phone": "+77011110003"})

    assert created.status_code == 302
    new = Client.objects.get(phone="+77011110003")
    assert new.search_text == "new"
    assert Event.objects.filter(entity_id=str(new.pk), action=EventAction.CREATE, actor=admin_web.user).exists()


def test_no_hard_delete_in_admin_only_soft_delete_and_restore(admin_web, clients) -> None:
    url = reverse("admin:crm_client_changelist")
    target = clients[0]

    assert admin_web.get(reverse("admin:crm_client_delete", args=[target.pk])).status_code == 403
    hard = admin_web.post(url, {"action": "delete_selected", "_selected_action": [target.pk]})
    assert Client.objects.filter(pk=target.pk).exists() and hard.status_code in (200, 302)

    admin_web.post(url, {"action": "soft_delete_selected", "_selected_action": [target.pk]})
    target.refresh_from_db()
    assert target.is_deleted
    admin_web.post(url, {"action": "restore_selected", "_selected_action": [target.pk]})
    target.refresh_from_db()
    assert not target.is_deleted
    actions = list(
        Event.objects.filter(entity_id=str(target.pk), entity_type="crm.client")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [EventAction.CREATE, EventAction.DELETE, EventAction.RESTORE]


def test_add_to_group_action_is_a_recorded_bulk_update(admin_web, org, manager, clients) -> None:
    vip = client_group_create(user=manager, organization_id=org.id, name="VIP")
    url = reverse("admin:crm_client_changelist")

    admin_web.post(url, {"action": "add_to_group", "group": vip.pk, "_selected_action": [c.pk for c in clients]})

    assert all(vip in c.groups.all() for c in clients)
    assert Event.objects.filter(action=EventAction.BULK_UPDATE, entity_type="crm.client").count() == 2


def test_staff_without_superuser_see_only_their_organizations(org, other_org, manager, other_manager, clients) -> None:
    client_create(user=other_manager, organization_id=other_org.id, phone="+77011119999")
    client_group_create(user=other_manager, organization_id=other_org.id, name="TheirGroup")
    client_source_create(user=other_manager, organization_id=other_org.id, name="TheirSource")
    staff = member(org, Role.MANAGER, is_staff=True, is_superuser=False)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_client", "change_client", "add_client"]))
    web = DjangoClient()
    web.force_login(staff)
    page = web.get(reverse("admin:crm_client_changelist")).content.decode()
    assert "+77011110001" in page and "+77011119999" not in page
    assert "TheirGroup" not in page and "TheirSource" not in page
    add_page = web.get(reverse("admin:crm_client_add")).content.decode()
    assert "TheirGroup" not in add_page and "TheirSource" not in add_page


def test_other_admin_pages_render(admin_web, org, manager, clients) -> None:
    client_soft_delete(user=manager, client_id=clients[0].pk)
    clients_import(user=manager, organization_id=org.id, content=b"phone\n+77011110005\n", fmt="csv", dry_run=False)
    admin_web.post(
        reverse("admin:catalog_service_add"),
        {
            "organization": org.id,
            "name": "Haircut",
            "code": "H1",
            "price": "1500",
            "duration_minutes": "45",
            "description": "",
            "is_active": "on",
        },
    )
    service = Service.objects.get()
    assert Event.objects.filter(entity_type="catalog.service", action=EventAction.CREATE).count() == 1
    for name in (
        "crm_clientsource",
        "crm_clientgroup",
        "crm_vehicle",
        "catalog_service",
        "catalog_servicegroup",
        "catalog_resource",
        "catalog_staffservice",
        "imports_importjob",
    ):
        assert admin_web.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    assert admin_web.get(reverse("admin:catalog_service_change", args=[service.pk])).status_code == 200
    assert admin_web.get(reverse("admin:crm_client_add")).status_code == 200


def test_a_taken_code_is_a_form_error_and_a_role_without_change_right_gets_a_read_only_view(
    admin_web, org, manager, clients
) -> None:
    from django.contrib.auth.models import Permission

    from backend.crm.services import client_update

    client_update(user=manager, client_id=clients[0].pk, data={"code": "C-1"})
    url = reverse("admin:crm_client_change", args=[clients[1].pk])
    taken = admin_web.post(url, {"phone": "+77011110002", "first_name": "Anna", "code": "C-1", "gender": ""})
    assert taken.status_code == 200 and "Another client has this code" in taken.content.decode()

    master = member(org, Role.MASTER, is_staff=True)  # may view clients, not change them
    master.user_permissions.add(*Permission.objects.filter(codename__in=["view_client", "change_client"]))
    web = DjangoClient()
    web.force_login(master)
    post = web.post(url, {"phone": "+77011110002", "first_name": "Hacked", "gender": ""})
    assert post.status_code == 403
    clients[1].refresh_from_db()
    assert clients[1].first_name == "Anna" and clients[1].code == ""
