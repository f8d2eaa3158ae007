"""A deleted client is seen only with the right to see deleted clients (the right to delete and restore them):
the list refuses the others, and so do the card and the history by id."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client as DjangoClient
from django.urls import reverse

from backend.core.exceptions import NotFound
from backend.core.models import Event
from backend.crm.models import Client
from backend.crm.selectors import client_get, client_history
from backend.crm.services import client_create, client_soft_delete
from backend.organizations.models import Role
from tests.conftest import member

pytestmark = pytest.mark.django_db

BASE = "/api/v1/crm"


@pytest.fixture
def deleted(org, manager) -> Client:
    client = client_create(user=manager, organization_id=org.id, phone="+77015550101", first_name="Gone")
    client_soft_delete(user=manager, client_id=client.pk)
    return client


def test_a_master_gets_404_for_the_card_and_history_of_a_deleted_client(api_client, org, deleted) -> None:
    # given a master (may view clients, may not delete them) of the deleted client's organization
    api = api_client(member(org, Role.MASTER))
    rows_before, events_before = list(Client.objects.values()), Event.objects.count()
    # when they ask for the card and the history by id
    card = api.get(f"{BASE}/clients/{deleted.pk}")
    history = api.get(f"{BASE}/clients/{deleted.pk}/history")
    listed = api.get(f"{BASE}/clients", {"deleted": "only"})
    # then both are "not found", as the client is absent from every list they can ask for
    assert card.status_code == 404 and card.json()["error"]["code"] == "not_found"
    assert history.status_code == 404 and history.json()["error"]["code"] == "not_found"
    assert "Gone" not in card.content.decode() + history.content.decode()
    assert listed.status_code == 403
    assert list(Client.objects.values()) == rows_before and Event.objects.count() == events_before


def test_a_master_still_reads_a_live_client(api_client, org, manager) -> None:
    live = client_create(user=manager, organization_id=org.id, phone="+77015550102", first_name="Here")
    api = api_client(member(org, Role.MASTER))

    assert api.get(f"{BASE}/clients/{live.pk}").status_code == 200
    assert api.get(f"{BASE}/clients/{live.pk}/history").status_code == 200


def test_a_manager_reads_the_card_and_history_of_a_deleted_client_to_restore_it(api_client, manager, deleted) -> None:
    api = api_client(manager)

    card = api.get(f"{BASE}/clients/{deleted.pk}")
    history = api.get(f"{BASE}/clients/{deleted.pk}/history")

    assert card.status_code == 200 and card.json()["deleted_at"] is not None
    assert history.status_code == 200
    assert [e["action"] for e in history.json()["items"]] == ["delete", "create"]


@pytest.mark.parametrize("role", [Role.MASTER, Role.ANALYST, Role.DISPATCHER])
def test_the_selectors_hide_a_deleted_client_from_roles_without_the_delete_right(org, deleted, role) -> None:
    user = member(org, role)
    with pytest.raises(NotFound):
        client_get(user=user, client_id=deleted.pk)
    with pytest.raises(NotFound):
        client_history(user=user, client_id=deleted.pk)


def test_the_admin_hides_a_deleted_client_from_a_master(org, deleted) -> None:
    master = member(org, Role.MASTER, is_staff=True)
    master.user_permissions.add(*Permission.objects.filter(codename="view_client"))
    web = DjangoClient()
    web.force_login(master)

    listed = web.get(reverse("admin:crm_client_changelist"))
    opened = web.get(reverse("admin:crm_client_change", args=[deleted.pk]))

    assert deleted.pk not in set(listed.context["cl"].queryset.values_list("pk", flat=True))
    assert opened.status_code == 302  # the admin's answer for an object that is not there
