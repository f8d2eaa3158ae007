"""A deleted client is seen only with the right to see deleted clients (the right to delete and restore them):
the list refuses the others, and so do the card and the history by id."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client as DjangoClient
from django.urls import reverse

from backend.core.exceptions import NotFound
from backend.core.models import Event
from backend.crm.models import Client, Vehicle
from backend.crm.selectors import client_get, client_history
from backend.crm.services import client_create, client_soft_delete, vehicle_create
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


# --- writes: a deleted client is as unknown as a missing id to roles that may not see it ----------------------

MISSING = 999_999


def _world() -> tuple[list, list, int]:
    clients, vehicles = Client.objects.order_by("id").values(), Vehicle.objects.order_by("id").values()
    return list(clients), list(vehicles), Event.objects.count()


def _writes(client_id: int, vehicle_id: int, live_id: int) -> list[tuple[str, str, dict]]:
    """Every route that takes a client or vehicle id and writes, aimed at ``client_id``/``vehicle_id``."""
    return [
        ("patch", f"{BASE}/clients/{client_id}", {"first_name": "Back"}),
        ("post", f"{BASE}/clients/{client_id}/vehicles", {"make": "Lada"}),
        ("patch", f"{BASE}/vehicles/{vehicle_id}", {"plate": "777AAA02"}),
        ("post", f"{BASE}/vehicles/{vehicle_id}/delete", {}),
        ("post", f"{BASE}/clients/{client_id}/merge", {"duplicate_id": live_id}),
        ("post", f"{BASE}/clients/{live_id}/merge", {"duplicate_id": client_id}),
        ("post", f"{BASE}/clients/{client_id}/restore", {}),
        ("post", f"{BASE}/clients/{client_id}/delete", {}),
        ("post", f"{BASE}/clients/bulk", {"client_ids": [client_id], "add_group_ids": []}),
    ]


def _send(api, method: str, url: str, body: dict):
    return getattr(api, method)(url, body) if method == "post" else api.patch(url, body)


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.MASTER])
def test_writes_to_a_deleted_client_or_its_vehicle_answer_as_for_an_unknown_id(api_client, org, manager, role) -> None:
    # given a deleted client with a vehicle, a live client, and a role that may not see deleted clients
    gone = client_create(user=manager, organization_id=org.id, phone="+77015550111", first_name="Gone")
    vehicle = vehicle_create(user=manager, client_id=gone.pk, make="Kia", plate="123ABC02")
    client_soft_delete(user=manager, client_id=gone.pk)
    live = client_create(user=manager, organization_id=org.id, phone="+77015550112", first_name="Here")
    api = api_client(member(org, role))
    before = _world()
    # when they send every write naming the deleted client (or its vehicle), and the same naming ids that do not exist
    answers = [_send(api, m, u, b) for m, u, b in _writes(gone.pk, vehicle.pk, live.pk)]
    unknown = [_send(api, m, u, b) for m, u, b in _writes(MISSING, MISSING, live.pk)]
    # then each answer is exactly the unknown id's (a 404 where the route reaches the row), nothing is written
    assert [(r.status_code, r.json()["error"]["code"]) for r in answers] == [
        (r.status_code, r.json()["error"]["code"]) for r in unknown
    ]
    assert {r.status_code for r in answers[:4]} == {404}
    assert "Gone" not in "".join(r.content.decode() for r in answers)
    assert _world() == before


def test_a_manager_still_learns_the_client_is_deleted_and_writes_nothing(api_client, org, manager) -> None:
    gone = client_create(user=manager, organization_id=org.id, phone="+77015550113", first_name="Gone")
    vehicle = vehicle_create(user=manager, client_id=gone.pk, make="Kia")
    client_soft_delete(user=manager, client_id=gone.pk)
    api = api_client(manager)
    before = _world()

    answers = [_send(api, m, u, b) for m, u, b in _writes(gone.pk, vehicle.pk, gone.pk)[:4]]

    assert [(r.status_code, r.json()["error"]["code"]) for r in answers] == [(409, "client_deleted")] * 4
    assert _world() == before
