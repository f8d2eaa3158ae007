"""The staff type-ahead: one box over names, phone digits and car plates, inside the caller's organizations."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from backend.crm.cleaning import client_derived_refresh
from backend.crm.models import Client, Vehicle
from backend.organizations.models import Organization, Role
from tests.conftest import ApiClient, member

URL = "/api/v1/crm/clients/search"


def _client(org: Organization, phone: str, last: str = "", first: str = "", plate: str = "") -> Client:
    client = Client(organization=org, phone=phone, last_name=last, first_name=first)
    client_derived_refresh(client)
    client.save()
    if plate:
        Vehicle.objects.create(organization=org, client=client, make="Lada", plate=plate)
    return client


@pytest.fixture
def clients(org: Organization, other_org: Organization) -> dict[str, Client]:
    return {
        "ivanova": _client(org, "+77011234567", "Иванова", "Алёна", plate="А123ВС02"),
        "ivanov": _client(org, "+77019990011", "Иванов", "Пётр"),
        "smith": _client(org, "+447700900123", "Smith", "John", plate="KZ777AAA"),
        # Another tenant's client matching every query below: must never be found from ``org``.
        "stranger": _client(other_org, "+77011234568", "Иванова", "Алёна", plate="A123BC02"),
    }


def _search(user: Any, q: str, **params: Any) -> list[dict[str, Any]]:
    answer = ApiClient(user).get(URL, {"q": q, **params})
    assert answer.status_code == 200, answer.content
    return list(answer.json()["items"])


def _ids(items: list[dict[str, Any]]) -> list[int]:
    return [item["id"] for item in items]


@pytest.mark.django_db
@pytest.mark.parametrize("q", ["701 123", "+7 (701) 123-45", "8 701 123 45 67", "1234567"])
def test_phone_digits_in_any_format(manager: Any, clients: dict[str, Client], q: str) -> None:
    items = _search(manager, q)
    assert _ids(items) == [clients["ivanova"].pk]
    assert items[0]["matched"] == ["phone"]


@pytest.mark.django_db
@pytest.mark.parametrize("q", ["a123", "А123ВС", "a 123 bc", "123вс02", "A-123-BC"])
def test_plate_without_spaces_case_or_keyboard(manager: Any, clients: dict[str, Client], q: str) -> None:
    items = _search(manager, q)
    assert clients["ivanova"].pk in _ids(items)
    hit = next(i for i in items if i["id"] == clients["ivanova"].pk)
    assert "plate" in hit["matched"] and hit["plates"] == ["А123ВС02"]


@pytest.mark.django_db
def test_cyrillic_names_any_case_with_yo_folded(manager: Any, clients: dict[str, Client]) -> None:
    assert _ids(_search(manager, "ИВАН")) == [clients["ivanov"].pk, clients["ivanova"].pk]
    assert _ids(_search(manager, "алена иванова")) == [clients["ivanova"].pk]  # ё typed as е, words in any order
    assert _ids(_search(manager, "пётр")) == [clients["ivanov"].pk]
    assert _ids(_search(manager, "Iv")) == []  # two Latin letters: a name prefix, no Cyrillic match
    assert _ids(_search(manager, "Ив")) == [clients["ivanov"].pk, clients["ivanova"].pk]  # short: a prefix
    assert _ids(_search(manager, "smi")) == [clients["smith"].pk]


@pytest.mark.django_db
def test_another_tenants_client_is_never_found(manager: Any, other_manager: Any, clients: dict[str, Client]) -> None:
    stranger = clients["stranger"].pk
    for q in ("Иванова", "7011234568", "A123BC", "алёна"):
        assert stranger not in _ids(_search(manager, q)), q
    # ... and the other tenant finds their own, not ours.
    assert _ids(_search(other_manager, "Иванова")) == [stranger]
    # Naming the other organization is a 404, as everywhere.
    answer = ApiClient(manager).get(URL, {"q": "Иванова", "organization_id": clients["stranger"].organization_id})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_roles_without_client_view_and_deleted_clients(org: Organization, clients: dict[str, Client]) -> None:
    worker = member(org, Role.WORKER)
    answer = ApiClient(worker).get(URL, {"q": "Иванова"})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
    master = member(org, Role.MASTER)
    assert clients["ivanova"].pk in _ids(_search(master, "Иванова"))
    Client.objects.filter(pk=clients["ivanova"].pk).update(deleted_at=timezone.now())
    assert _ids(_search(master, "Иванова")) == []
    assert _ids(_search(master, "A123BC")) == []


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{"q": ""}, {"q": "x" * 101}, {"q": "a\x00b"}, {"q": "ab", "limit": 51}, {}])
def test_bad_queries_are_422(manager: Any, params: dict[str, Any]) -> None:
    answer = ApiClient(manager).get(URL, params)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "validation_error"


@pytest.mark.django_db
def test_limit_is_honoured(org: Organization, manager: Any) -> None:
    for n in range(8):
        _client(org, f"+7701000{n:04d}", f"Петров{n}")
    assert len(_search(manager, "петров", limit=5)) == 5


@pytest.mark.postgres
@pytest.mark.django_db
def test_trigram_indexes_exist_on_postgresql() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE %s", ["%_trgm"])
        found = dict(cursor.fetchall())
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() is not None
    assert set(found) == {"crm_client_search_trgm", "crm_client_phone_trgm", "crm_vehicle_plate_trgm"}
    assert all("gin" in d and "gin_trgm_ops" in d for d in found.values())


@pytest.mark.django_db
def test_prefixes_come_first_then_names_holding_the_words(org: Organization, manager: Any) -> None:
    inside = _client(org, "+77010000001", "Абиванов", "Марат")  # holds "иван", does not start with it
    starts = [_client(org, f"+7701000001{n}", f"Иванов{n}", "Пётр") for n in range(3)]
    ids = _ids(_search(manager, "иван"))
    assert ids == [c.pk for c in starts] + [inside.pk]
    assert _ids(_search(manager, "иван", limit=3)) == [c.pk for c in starts]  # a full page of prefixes
    assert _ids(_search(manager, "ив")) == [c.pk for c in starts]  # two letters: prefixes only


@pytest.mark.django_db
def test_a_search_is_a_handful_of_round_trips(
    manager: Any, clients: dict[str, Client], django_assert_max_num_queries: Any
) -> None:
    api = ApiClient(manager)
    # the token, the caller's scope (one query), the name prefix, the hits with their plates
    with django_assert_max_num_queries(4):
        assert api.get(URL, {"q": "Ив"}).status_code == 200
    # ... a phone number: the token, the scope, the phone digits, the hits (no plate holds five digits in a row)
    with django_assert_max_num_queries(4):
        assert api.get(URL, {"q": "701 123 45"}).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_name_prefix_index_serves_the_prefix_in_order_on_postgresql(org: Organization) -> None:
    from backend.crm.search import _live, _name_prefix

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'crm_client_org_name_prefix'")
        (definition,) = cursor.fetchone()
    assert 'COLLATE "C"' in definition and "deleted_at IS NULL" in definition
    query = _name_prefix(_live({org.pk}), "ив").values_list("id", flat=True)[:20]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner show it can use it
        sql, params = query.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "crm_client_org_name_prefix" in plan and "Sort" not in plan, plan
