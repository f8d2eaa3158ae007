from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client as DjangoClient
from django.urls import reverse

from backend.catalog.models import Service
from backend.catalog.services import service_create, service_group_create
from backend.core.models import Event, EventAction
from backend.organizations.models import Role
from tests.conftest import member

pytestmark = pytest.mark.django_db


def _web(user) -> DjangoClient:
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="catalog"))
    web = DjangoClient()
    web.force_login(user)
    return web


def test_staff_see_their_catalog_only_and_change_it_through_the_service(org, other_org, manager, other_manager) -> None:
    mine = service_create(user=manager, organization_id=org.id, name="Haircut", price="1000")
    service_create(user=other_manager, organization_id=other_org.id, name="TheirService")
    service_group_create(user=other_manager, organization_id=other_org.id, name="TheirGroup")
    staff = member(org, Role.MANAGER, is_staff=True)
    web = _web(staff)

    listing = web.get(reverse("admin:catalog_service_changelist")).content.decode()
    assert "Haircut" in listing and "TheirService" not in listing
    assert "TheirGroup" not in web.get(reverse("admin:catalog_service_add")).content.decode()
    response = web.post(
        reverse("admin:catalog_service_change", args=[mine.pk]),
        {
            "group": "",
            "name": "Haircut",
            "code": "",
            "price": "1200",
            "duration_minutes": "60",
            "description": "",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    mine.refresh_from_db()
    assert str(mine.price) == "1200.00"
    assert Event.objects.filter(
        entity_type="catalog.service", entity_id=str(mine.pk), action=EventAction.UPDATE, actor=staff
    ).exists()


def test_a_role_that_only_views_the_catalog_cannot_change_it(org, manager) -> None:
    service = service_create(user=manager, organization_id=org.id, name="Haircut", price="1000")
    master = member(org, Role.MASTER, is_staff=True)

    response = _web(master).post(
        reverse("admin:catalog_service_change", args=[service.pk]),
        {
            "name": "Hacked",
            "price": "1",
            "duration_minutes": "60",
            "is_active": "on",
        },
    )

    assert response.status_code == 403
    assert Service.objects.get(pk=service.pk).name == "Haircut"


def _root_web() -> DjangoClient:
    from tests.factories import UserFactory

    web = DjangoClient()
    web.force_login(UserFactory(is_staff=True, is_superuser=True))
    return web


def test_the_services_refusals_are_form_errors_on_the_fields_they_name(org, other_org, manager, other_manager) -> None:
    # given a superuser (every choice offered) and a group and a service code of org A, a group of org B
    theirs = service_group_create(user=other_manager, organization_id=other_org.id, name="Theirs")
    service_create(user=manager, organization_id=org.id, name="Haircut", code="H-1")
    stranger = member(other_org, Role.MASTER)
    web = _root_web()
    base = {"organization": org.id, "name": "Shave", "price": "500", "duration_minutes": "30", "is_active": "on"}
    rows_before, events_before = Service.objects.count(), Event.objects.count()

    # when the add form names the other organization's group, a taken code, or staff of another organization
    wrong_group = web.post(reverse("admin:catalog_service_add"), {**base, "group": theirs.pk})
    taken_code = web.post(reverse("admin:catalog_service_add"), {**base, "code": "H-1"})
    haircut = Service.objects.get(code="H-1")
    wrong_staff = web.post(
        reverse("admin:catalog_staffservice_add"), {"staff": stranger.pk, "service": haircut.pk, "is_active": "on"}
    )

    # then each comes back with the service's message on that field, and nothing is written
    assert wrong_group.context["adminform"].form.errors["group"] == ["Unknown group."]
    # (the add form has the organization, so the model's own constraint speaks first, above the fields)
    code_errors = taken_code.context["adminform"].form.errors
    assert ["Another service has this code."] in (code_errors.get("code"), code_errors.get("__all__")), code_errors
    assert wrong_staff.context["adminform"].form.errors["staff"] == ["Not a member of the organization."]
    assert (Service.objects.count(), Event.objects.count()) == (rows_before, events_before)
