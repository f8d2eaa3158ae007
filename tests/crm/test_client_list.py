from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.utils import timezone

from backend.core.exceptions import PermissionDenied, ValidationFailed
from backend.crm.models import Client
from backend.crm.selectors import CLIENT_SORTS, ClientFilters, client_list
from backend.crm.services import (
    client_create,
    client_group_create,
    client_soft_delete,
    client_source_create,
    client_update,
)
from backend.organizations.models import Role
from tests.conftest import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(org, manager):
    """Six clients with gaps (empty birthdays, sources, visits) so NULL ordering is exercised."""
    insta = client_source_create(user=manager, organization_id=org.id, name="Instagram")
    walk = client_source_create(user=manager, organization_id=org.id, name="Walk-in")
    vip = client_group_create(user=manager, organization_id=org.id, name="VIP")
    rows = [
        ("+77011110001", "Ольга", "Ёлкина", dt.date(1990, 3, 5), insta.id, True, "female"),
        ("+77011110002", "ОЛЕГ", "Иванов", None, None, False, "male"),
        ("+77011110003", "Anna", "Smith", dt.date(1985, 3, 20), walk.id, False, "female"),
        ("+77011110004", "anna", "Brown", dt.date(2000, 12, 1), insta.id, True, ""),
        ("+77021110005", "Пётр", "Иванов", None, walk.id, False, "male"),
        ("+77011110006", "Zed", "", dt.date(1990, 3, 5), None, True, ""),
    ]
    out = []
    for phone, first, last, birthday, source_id, consent, gender in rows:
        out.append(
            client_create(
                user=manager,
                organization_id=org.id,
                phone=phone,
                first_name=first,
                last_name=last,
                birthday=birthday,
                source_id=source_id,
                gender=gender,
                consents={"marketing": {"given": consent}},
                group_ids=[vip.id] if consent else [],
            )
        )
    visits = [timezone.now() - dt.timedelta(days=d) if d is not None else None for d in (3, None, 40, 3, None, 10)]
    for client, visit in zip(out, visits, strict=True):
        Client.objects.filter(pk=client.pk).update(last_visit_at=visit)  # booking maintains it; set directly here
    return {"clients": out, "insta": insta, "walk": walk, "vip": vip}


def _ids(page) -> list[int]:
    return [c.pk for c in page.items]


def _walk(user, sort: str, limit: int, **kw) -> list[int]:
    seen: list[int] = []
    cursor = None
    for _ in range(50):
        page = client_list(user=user, sort=sort, cursor=cursor, limit=limit, **kw)
        seen += _ids(page)
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


def test_search_is_case_insensitive_for_cyrillic_and_folds_yo(manager, people) -> None:
    c = people["clients"]
    assert _ids(client_list(user=manager, search="олег")) == [c[1].pk]
    assert _ids(client_list(user=manager, search="ЕЛКИНА")) == [c[0].pk]
    assert _ids(client_list(user=manager, search="Ёлк")) == [c[0].pk]
    assert set(_ids(client_list(user=manager, search="иванов"))) == {c[1].pk, c[4].pk}
    assert _ids(client_list(user=manager, search="иванов пётр")) == [c[4].pk]
    assert set(_ids(client_list(user=manager, search="ANNA"))) == {c[2].pk, c[3].pk}


def test_search_by_phone_digits_anywhere_in_the_number(manager, people) -> None:
    c = people["clients"]
    assert _ids(client_list(user=manager, search="702")) == [c[4].pk]
    assert _ids(client_list(user=manager, search="+7 (701) 111-00-03")) == [c[2].pk]
    assert len(_ids(client_list(user=manager, search="1110"))) == 6
    assert _ids(client_list(user=manager, search="%")) == []  # wildcards are literal


def test_filters(manager, people) -> None:
    c = people["clients"]
    visit_from = timezone.now() - dt.timedelta(days=15)

    def ids(**f) -> set[int]:
        return set(_ids(client_list(user=manager, filters=ClientFilters(**f))))

    assert ids(source_id=people["insta"].id) == {c[0].pk, c[3].pk}
    assert ids(group_id=people["vip"].id) == {c[0].pk, c[3].pk, c[5].pk}
    assert ids(birthday_month=3) == {c[0].pk, c[2].pk, c[5].pk}
    assert ids(last_visit_from=visit_from) == {c[0].pk, c[3].pk, c[5].pk}
    assert ids(last_visit_to=visit_from) == {c[2].pk}
    assert ids(consent_marketing=True) == {c[0].pk, c[3].pk, c[5].pk}
    assert ids(consent_marketing=False) == {c[1].pk, c[2].pk, c[4].pk}
    assert ids(consent_messages=True) == set()


def test_curator_filter(org, manager, people) -> None:
    c = people["clients"]
    curator = member(org, Role.MASTER)
    client_update(user=manager, client_id=c[2].pk, data={"curator_id": curator.id})
    assert _ids(client_list(user=manager, filters=ClientFilters(curator_id=curator.id))) == [c[2].pk]


@pytest.mark.parametrize("sort", sorted(CLIENT_SORTS))
@pytest.mark.parametrize("descending", [False, True])
def test_every_column_sorts_and_pages_without_gaps_or_repeats(manager, people, sort, descending) -> None:
    key = f"-{sort}" if descending else sort
    everything = _ids(client_list(user=manager, sort=key, limit=200))

    assert sorted(everything) == sorted(c.pk for c in people["clients"])
    for limit in (1, 2, 4):
        assert _walk(manager, key, limit) == everything


def test_sort_orders_values_with_empty_ones_last_and_ties_by_id(manager, people) -> None:
    c = people["clients"]
    assert _ids(client_list(user=manager, sort="birthday")) == [c[2].pk, c[0].pk, c[5].pk, c[3].pk, c[1].pk, c[4].pk]
    assert _ids(client_list(user=manager, sort="-birthday")) == [c[3].pk, c[5].pk, c[0].pk, c[2].pk, c[4].pk, c[1].pk]
    by_source = _ids(client_list(user=manager, sort="source"))
    assert by_source[-2:] == [c[1].pk, c[5].pk]
    assert _ids(client_list(user=manager, sort="name"))[:3] == [c[3].pk, c[2].pk, c[5].pk]  # brown, smith, zed


def test_deleted_clients_only_for_those_who_may_delete(org, manager, people) -> None:
    c = people["clients"]
    client_soft_delete(user=manager, client_id=c[0].pk)
    dispatcher = member(org, Role.DISPATCHER)

    assert c[0].pk not in _ids(client_list(user=manager))
    assert _ids(client_list(user=manager, filters=ClientFilters(deleted="only"))) == [c[0].pk]
    assert len(_ids(client_list(user=manager, filters=ClientFilters(deleted="include")))) == 6
    with pytest.raises(PermissionDenied):
        client_list(user=dispatcher, filters=ClientFilters(deleted="include"))


def _cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("name", "not base64 at all!!"),
        ("name", "%%%"),
        ("name", base64.urlsafe_b64encode(b"\xff\xfe").decode()),
        ("name", _cursor([1, 2])),
        ("name", _cursor({"s": "birthday", "v": "1990-03-05", "id": 1})),  # made for another sort
        ("name", _cursor({"s": "name", "v": 5, "id": 1})),
        ("name", _cursor({"s": "name", "v": "a", "id": "1"})),
        ("name", _cursor({"s": "name", "v": "a", "id": True})),
        ("created_at", _cursor({"s": "created_at", "v": "2020-01-01T00:00:00", "id": 1})),  # naive
        ("created_at", _cursor({"s": "created_at", "v": "99999-12-31T23:59:59", "id": 1})),
        ("birthday", _cursor({"s": "birthday", "v": "1990-13-45", "id": 1})),
        ("id", _cursor({"s": "id", "v": 1.5, "id": 1})),
    ],
)
def test_a_malformed_cursor_is_a_422(manager, people, sort, cursor) -> None:
    with pytest.raises(ValidationFailed) as exc:
        client_list(user=manager, sort=sort, cursor=cursor)
    assert exc.value.code == "invalid_cursor"


def test_limit_and_sort_are_checked(manager, people) -> None:
    with pytest.raises(ValidationFailed):
        client_list(user=manager, limit=0)
    with pytest.raises(ValidationFailed):
        client_list(user=manager, limit=201)
    with pytest.raises(ValidationFailed) as exc:
        client_list(user=manager, sort="password")
    assert exc.value.code == "invalid_sort"


def test_list_is_scoped_to_the_callers_organizations(org, other_org, manager, other_manager, people) -> None:
    client_create(user=other_manager, organization_id=other_org.id, phone="+77011110001")
    assert len(_ids(client_list(user=other_manager))) == 1
    assert len(_ids(client_list(user=manager))) == 6


def test_api_list_shape_and_cursor_errors(api_client, manager, people) -> None:
    api = api_client(manager)
    first = api.get("/api/v1/crm/clients", {"limit": 4, "sort": "-last_visit_at"}).json()
    assert len(first["items"]) == 4 and first["next_cursor"]
    second = api.get("/api/v1/crm/clients", {"limit": 4, "sort": "-last_visit_at", "cursor": first["next_cursor"]})
    assert len(second.json()["items"]) == 2 and second.json()["next_cursor"] is None
    bad = api.get("/api/v1/crm/clients", {"cursor": "garbage!"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor"
    assert api.get("/api/v1/crm/clients", {"limit": 500}).status_code == 422
    assert api.get("/api/v1/crm/clients", {"birthday_month": 13}).status_code == 422
    assert api.get("/api/v1/crm/clients", {"sort": "nope"}).status_code == 422
    assert (
        api.get("/api/v1/crm/clients", {"last_visit_to": "2100-12-31", "last_visit_from": "1900-01-01"}).status_code
        == 200
    )
