from __future__ import annotations

import pytest

from backend.core.models import Event
from backend.crm.models import Client, Vehicle
from backend.crm.services import client_create, client_group_create, client_source_create
from backend.organizations.models import Role
from tests.conftest import member

pytestmark = pytest.mark.django_db

BASE = "/api/v1/crm"


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "fields"} <= set(body["error"])
    return body["error"]


def test_create_then_card_with_groups_vehicles_history_and_empty_visits(api_client, org, manager) -> None:
    vip = client_group_create(user=manager, organization_id=org.id, name="VIP")
    api = api_client(manager)

    created = api.post(
        f"{BASE}/clients",
        {
            "phone": "+7 701 123 45 67",
            "first_name": "Анна",
            "group_ids": [vip.id],
            "consents": {"personal_data": {"given": True, "how": "paper"}},
        },
    )
    assert created.status_code == 201, created.content
    client_id = created.json()["id"]
    assert (
        api.post(
            f"{BASE}/clients/{client_id}/vehicles", {"make": "Lada", "plate": "a 123 bc", "year": 2015}
        ).status_code
        == 201
    )

    card = api.get(f"{BASE}/clients/{client_id}").json()

    assert card["phone"] == "+77011234567" and card["first_name"] == "Анна"
    assert card["groups"] == [{"id": vip.id, "name": "VIP"}]
    assert card["consents"]["personal_data"]["how"] == "paper"
    assert card["consents"]["personal_data"]["recorded_by_id"] == manager.id
    assert card["consents"]["marketing"]["given_at"] is None
    assert card["vehicles"][0]["plate"] == "A123BC"
    assert [(e["entity_type"], e["action"]) for e in card["history"]] == [
        ("crm.vehicle", "create"),
        ("crm.client", "create"),
    ]
    assert card["history"][1]["actor_id"] == manager.id
    assert card["visits"] == []


def test_duplicate_phone_is_409_client_phone_taken(api_client, org, manager) -> None:
    api = api_client(manager)
    assert api.post(f"{BASE}/clients", {"phone": "+77011234567"}).status_code == 201

    response = api.post(f"{BASE}/clients", {"phone": "87011234567", "organization_id": org.id})

    assert response.status_code == 409
    assert _error(response)["code"] == "client_phone_taken"
    assert Client.objects.count() == 1


def test_patch_delete_restore_and_history(api_client, org, manager) -> None:
    api = api_client(manager)
    client_id = api.post(f"{BASE}/clients", {"phone": "+77011234567", "first_name": "Ann"}).json()["id"]

    patched = api.patch(f"{BASE}/clients/{client_id}", {"last_name": "Smith", "birthday": "1990-05-01"})
    assert patched.status_code == 200 and patched.json()["birthday"] == "1990-05-01"
    assert api.patch(f"{BASE}/clients/{client_id}", {"birthday": None}).json()["birthday"] is None
    deleted = api.post(f"{BASE}/clients/{client_id}/delete")
    assert deleted.status_code == 200 and deleted.json()["deleted_at"] is not None
    assert api.get(f"{BASE}/clients").json()["items"] == []
    assert [c["id"] for c in api.get(f"{BASE}/clients", {"deleted": "only"}).json()["items"]] == [client_id]
    assert api.get(f"{BASE}/clients/counts").json() == {"total": 1, "active": 0, "deleted": 1}
    assert api.patch(f"{BASE}/clients/{client_id}", {"first_name": "X"}).status_code == 409
    restored = api.post(f"{BASE}/clients/{client_id}/restore")
    assert restored.status_code == 200 and restored.json()["deleted_at"] is None

    history = api.get(f"{BASE}/clients/{client_id}/history", {"limit": 2})
    first_page = history.json()
    assert [e["action"] for e in first_page["items"]] == ["restore", "delete"]
    rest = api.get(f"{BASE}/clients/{client_id}/history", {"limit": 2, "cursor": first_page["next_cursor"]}).json()
    assert [e["action"] for e in rest["items"]] == ["update", "update"]
    assert rest["items"][1]["after"] == {"birthday": "1990-05-01", "last_name": "Smith"}


def test_there_is_no_hard_delete_route(api_client, org, manager) -> None:
    api = api_client(manager)
    client_id = api.post(f"{BASE}/clients", {"phone": "+77011234567"}).json()["id"]

    response = api.delete(f"{BASE}/clients/{client_id}")

    assert response.status_code == 405
    assert Client.objects.filter(id=client_id, deleted_at__isnull=True).exists()


def test_bulk_endpoint_assigns_source_and_group_and_records_each_client(api_client, org, manager) -> None:
    api = api_client(manager)
    ids = [api.post(f"{BASE}/clients", {"phone": f"+7701123456{i}"}).json()["id"] for i in range(3)]
    source_id = api.post(f"{BASE}/sources", {"name": "Instagram"}).json()["id"]
    group_id = api.post(f"{BASE}/groups", {"name": "VIP"}).json()["id"]

    response = api.post(
        f"{BASE}/clients/bulk", {"client_ids": ids, "source_id": source_id, "add_group_ids": [group_id]}
    )

    assert response.status_code == 200 and response.json() == {"changed": 3}
    assert Event.objects.filter(action="bulk_update", entity_type="crm.client").count() == 3
    listed = api.get(f"{BASE}/clients", {"group_id": group_id, "source_id": source_id}).json()["items"]
    assert sorted(c["id"] for c in listed) == ids
    cleared = api.post(f"{BASE}/clients/bulk", {"client_ids": ids[:1], "source_id": None})
    assert cleared.json() == {"changed": 1} and Client.objects.get(id=ids[0]).source_id is None


def test_sources_and_groups_lists_and_name_conflicts(api_client, org, manager, other_org, other_manager) -> None:
    client_source_create(user=other_manager, organization_id=other_org.id, name="Theirs")
    api = api_client(manager)
    assert api.post(f"{BASE}/sources", {"name": "Instagram"}).status_code == 201
    dup = api.post(f"{BASE}/sources", {"name": "instagram"})
    assert dup.status_code == 409 and _error(dup)["code"] == "source_name_taken"
    assert [s["name"] for s in api.get(f"{BASE}/sources").json()["items"]] == ["Instagram"]
    assert api.post(f"{BASE}/groups", {"name": "VIP"}).status_code == 201
    assert _error(api.post(f"{BASE}/groups", {"name": "VIP"}))["code"] == "group_name_taken"
    assert [g["name"] for g in api.get(f"{BASE}/groups").json()["items"]] == ["VIP"]
    assert api.get(f"{BASE}/sources", {"organization_id": other_org.id}).status_code == 404


def test_another_tenant_gets_404_and_a_role_without_the_right_403(api_client, org, manager, other_manager) -> None:
    client = client_create(user=manager, organization_id=org.id, phone="+77011234567")
    worker = member(org, Role.WORKER)
    foreign = api_client(other_manager)
    own_worker = api_client(worker)

    for method, path, body in [
        ("get", f"{BASE}/clients/{client.id}", None),
        ("get", f"{BASE}/clients/{client.id}/history", None),
        ("patch", f"{BASE}/clients/{client.id}", {"first_name": "x"}),
        ("post", f"{BASE}/clients/{client.id}/delete", None),
        ("post", f"{BASE}/clients/{client.id}/restore", None),
        ("post", f"{BASE}/clients/{client.id}/vehicles", {"make": "x"}),
    ]:
        assert getattr(foreign, method)(path, body).status_code == 404, path
        assert getattr(own_worker, method)(path, body).status_code == 403, path
    assert own_worker.get(f"{BASE}/clients").status_code == 403
    assert foreign.get(f"{BASE}/clients", {"organization_id": org.id}).status_code == 404
    client.refresh_from_db()
    assert client.first_name == "" and client.deleted_at is None and not Vehicle.objects.exists()


def test_unauthenticated_is_401(api_client) -> None:
    response = api_client().get(f"{BASE}/clients")
    assert response.status_code == 401 and _error(response)["code"] == "unauthorized"


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "x" * 33},
        {"phone": "+77011234567", "first_name": "x" * 101},
        {"phone": "+77011234567", "birthday": "1899-12-31"},
        {"phone": "+77011234567", "birthday": "2101-01-01"},
        {"phone": "+77011234567", "gender": "other"},
        {"phone": "+77011234567", "source_id": 2**63},
        {"phone": "+77011234567", "email": "nope"},
        {"phone": "12"},
    ],
)
def test_invalid_bodies_are_422_and_create_nothing(api_client, org, manager, body) -> None:
    response = api_client(manager).post(f"{BASE}/clients", body)
    assert response.status_code == 422, response.content
    assert Client.objects.count() == 0 and not Event.objects.filter(entity_type="crm.client").exists()


def test_vehicle_patch_and_delete(api_client, org, manager) -> None:
    api = api_client(manager)
    client_id = api.post(f"{BASE}/clients", {"phone": "+77011234567"}).json()["id"]
    vehicle_id = api.post(f"{BASE}/clients/{client_id}/vehicles", {"make": "Kia"}).json()["id"]
    assert api.patch(f"/api/v1/crm/vehicles/{vehicle_id}", {"year": 2101}).status_code == 422
    assert api.patch(f"/api/v1/crm/vehicles/{vehicle_id}", {"vin": "xw8zzz61zbg123456"}).json()["vin"] == (
        "XW8ZZZ61ZBG123456"
    )
    assert api.post(f"/api/v1/crm/vehicles/{vehicle_id}/delete").status_code == 200
    assert api.get(f"{BASE}/clients/{client_id}").json()["vehicles"] == []


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("post", "/api/v1/crm/clients", {"phone": "+77011234567", "first_name": "a\x00b"}),
        ("post", "/api/v1/crm/sources", {"name": "In\x00sta"}),
        ("post", "/api/v1/crm/clients/bulk", {"client_ids": [2**63]}),
        ("post", "/api/v1/crm/clients", {"phone": "+77011234567", "group_ids": [0]}),
    ],
)
def test_values_the_database_would_refuse_are_422(api_client, org, manager, method, path, payload) -> None:
    response = getattr(api_client(manager), method)(path, payload)
    assert response.status_code == 422, response.content
    assert not Client.objects.exists()


def test_nul_in_search_or_cursor_is_not_a_server_error(api_client, org, manager) -> None:
    import base64
    import json

    client = client_create(user=manager, organization_id=org.id, phone="+77011234567", first_name="Anna")
    api = api_client(manager)
    found = api.get(f"{BASE}/clients", {"search": "an\x00na"})
    assert found.status_code == 422 and "search" in _error(found)["fields"]
    cursor = base64.urlsafe_b64encode(json.dumps({"s": "name", "v": "a\x00", "id": 1}).encode()).decode()
    assert _error(api.get(f"{BASE}/clients", {"cursor": cursor}))["code"] == "invalid_cursor"
    huge = base64.urlsafe_b64encode(json.dumps({"s": "id", "v": 10**30, "id": 10**30}).encode()).decode()
    bad_list = api.get(f"{BASE}/clients", {"cursor": huge, "sort": "id"})
    assert bad_list.status_code == 422 and _error(bad_list)["code"] == "invalid_cursor"
    bad_history = api.get(f"{BASE}/clients/{client.id}/history", {"cursor": huge})
    assert bad_history.status_code == 422 and _error(bad_history)["code"] == "invalid_cursor"


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1899-12-31T00:00:00+00:00"])
def test_history_cursor_near_the_ends_of_time_is_a_422(api_client, org, manager, at) -> None:
    import base64
    import json

    client = client_create(user=manager, organization_id=org.id, phone="+77011234567")
    api = api_client(manager)
    for payload in ({"s": "-occurred_at", "v": at, "id": 1}, {"at": at, "id": 1}):  # today's shape and the old one
        cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
        for url in (f"{BASE}/clients/{client.id}/history", f"{BASE}/history"):
            response = api.get(url, {"cursor": cursor, "organization_id": org.id})
            assert response.status_code == 422, (url, response.content)
            assert _error(response)["code"] == "invalid_cursor"


@pytest.mark.parametrize("sort", ["created_at", "-updated_at", "last_visit_at", "consent_messages_at"])
@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_list_cursor_near_the_ends_of_time_is_a_422(api_client, org, manager, sort, at) -> None:
    import base64
    import json

    client_create(user=manager, organization_id=org.id, phone="+77011234567")
    api = api_client(manager)
    cursor = base64.urlsafe_b64encode(json.dumps({"s": sort, "v": at, "id": 1}).encode()).decode()
    response = api.get(f"{BASE}/clients", {"sort": sort, "cursor": cursor})
    assert response.status_code == 422, response.content
    assert _error(response)["code"] == "invalid_cursor"
