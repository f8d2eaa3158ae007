"""What the services would refuse is a form error in the admin, never a 500, and nothing is written."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client as DjangoClient
from django.urls import reverse

from backend.core.models import Event
from backend.crm.models import Client, ClientGroup, Vehicle
from backend.crm.services import client_create, client_group_create, client_soft_delete
from backend.organizations.models import Role
from tests.conftest import member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _web(user) -> DjangoClient:
    web = DjangoClient(raise_request_exception=False)
    web.force_login(user)
    return web


@pytest.fixture
def boss_web() -> DjangoClient:
    return _web(UserFactory(is_staff=True, is_superuser=True))


def _counts() -> tuple[int, int, int, int]:
    return Client.objects.count(), ClientGroup.objects.count(), Vehicle.objects.count(), Event.objects.count()


def test_a_curator_from_another_organization_is_a_form_error(boss_web, org, other_org, other_manager) -> None:
    before = _counts()

    response = boss_web.post(
        reverse("admin:crm_client_add"),
        {"organization": org.id, "phone": "+77015550001", "curator": other_manager.id, "gender": ""},
    )

    assert response.status_code == 200
    assert "curator" in response.context["adminform"].form.errors
    assert _counts() == before


def test_a_group_name_differing_only_in_case_is_a_form_error(boss_web, org, manager) -> None:
    vip = client_group_create(user=manager, organization_id=org.id, name="VIP")
    other = client_group_create(user=manager, organization_id=org.id, name="Regulars")
    before = _counts()

    added = boss_web.post(reverse("admin:crm_clientgroup_add"), {"organization": org.id, "name": "vip"})
    renamed = boss_web.post(reverse("admin:crm_clientgroup_change", args=[other.pk]), {"name": " Vip "})

    # the add form hears it from the model's constraint, the rename (organization read-only) from the service's 409
    for response in (added, renamed):
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert ["This name is taken."] in (errors.get("name"), errors.get("__all__")), errors
    assert _counts() == before
    assert set(ClientGroup.objects.values_list("name", flat=True)) == {vip.name, "Regulars"}


def test_a_vehicle_for_another_organizations_client_is_a_form_error(org, other_org, other_manager) -> None:
    theirs = client_create(user=other_manager, organization_id=other_org.id, phone="+77015550009")
    staff = member(org, Role.MANAGER, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_vehicle", "add_vehicle"]))
    before = _counts()

    response = _web(staff).post(reverse("admin:crm_vehicle_add"), {"client": theirs.pk, "make": "Lada"})

    assert response.status_code == 200
    assert "client" in response.context["adminform"].form.errors
    assert _counts() == before


def test_a_vehicle_for_a_deleted_client_is_a_form_error(boss_web, org, manager) -> None:
    gone = client_create(user=manager, organization_id=org.id, phone="+77015550010")
    client_soft_delete(user=manager, client_id=gone.pk)
    before = _counts()

    response = boss_web.post(reverse("admin:crm_vehicle_add"), {"client": gone.pk, "make": "Lada"})

    assert response.status_code == 200
    assert "client" in response.context["adminform"].form.errors
    assert _counts() == before


def test_a_refusal_only_the_service_sees_is_a_message_not_a_500(boss_web, org, manager) -> None:
    # given a client deleted after the change form was opened: the form is valid, the service refuses
    gone = client_create(user=manager, organization_id=org.id, phone="+77015550011", first_name="Old")
    client_soft_delete(user=manager, client_id=gone.pk)
    url = reverse("admin:crm_client_change", args=[gone.pk])
    before = _counts()

    response = boss_web.post(url, {"phone": "+77015550011", "first_name": "New", "gender": ""}, follow=True)

    assert response.status_code == 200
    assert "restore them first" in response.content.decode()
    assert Client.objects.get(pk=gone.pk).first_name == "Old"
    assert _counts() == before


def test_a_service_refusal_is_shown_on_the_form_with_what_was_typed(boss_web, org, manager) -> None:
    # given a client deleted after the change form was opened: the form is valid, only the service refuses
    gone = client_create(user=manager, organization_id=org.id, phone="+77015550012", first_name="Old")
    client_soft_delete(user=manager, client_id=gone.pk)
    before = _counts()

    response = boss_web.post(
        reverse("admin:crm_client_change", args=[gone.pk]), {"phone": "+77015550012", "first_name": "New", "gender": ""}
    )

    # then the same page comes back with the service's message on the form and the typed value kept
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.non_field_errors() == ["The client is deleted: restore them first."]
    assert form["first_name"].value() == "New"
    assert Client.objects.get(pk=gone.pk).first_name == "Old"
    assert _counts() == before


def test_a_field_the_service_names_gets_the_error(boss_web, org, manager) -> None:
    # given a phone the organization has, typed differently (only the service's normalisation sees the clash)
    client_create(user=manager, organization_id=org.id, phone="+77015550013")
    before = _counts()

    response = boss_web.post(
        reverse("admin:crm_client_add"), {"organization": org.id, "phone": "8 701 555 00 13", "gender": ""}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone"] == ["A client with this phone already exists."]
    assert _counts() == before
