"""GET /api/v1/booking/slots and the public catalog: the contract's keys, customers and staff, bad input as 4xx."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backend.catalog.models import StaffService
from backend.organizations.models import Role
from tests.booking.booking_world import book, branch_of, master_at, public_org, service_at
from tests.conftest import ApiClient, member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/booking/slots"
ZONE = "Europe/Vilnius"


def tomorrow() -> dt.date:
    return timezone.now().astimezone(ZoneInfo(ZONE)).date() + dt.timedelta(days=1)


@pytest.fixture
def world() -> dict[str, Any]:
    """A public branch with two services and two masters who work every day of the year ahead."""
    branch = branch_of(public_org(), ZONE)
    cut, colour = service_at(branch, 60, name="Cut"), service_at(branch, 90, name="Colour")
    start = timezone.now().date() - dt.timedelta(days=2)
    first = master_at(branch, [cut, colour], first_day=start, last_day=start + dt.timedelta(days=366), first_name="A")
    second = master_at(branch, [cut], first_day=start, last_day=start + dt.timedelta(days=366), first_name="B")
    return {"branch": branch, "cut": cut, "colour": colour, "first": first, "second": second}


def get(user: Any, **query: Any) -> Any:
    return ApiClient(user).get(URL, data=query)


def test_a_customer_gets_slots_with_the_contract_keys(world: dict[str, Any]) -> None:
    response = get(UserFactory(), branch_id=world["branch"].pk, service_id=world["cut"].pk, date=tomorrow())
    assert response.status_code == 200, response.content
    slots = response.json()
    assert isinstance(slots, list) and slots
    assert {"start", "end", "staff_id"} <= set(slots[0])
    assert slots[0]["start"].startswith(f"{tomorrow().isoformat()}T09:00:00+0")  # in the branch's zone
    assert {s["staff_id"] for s in slots} <= {world["first"].pk, world["second"].pk}
    assert slots[0]["why"]["rule"] == "least_booked_minutes_then_longest_wait"
    assert slots[0]["why"]["booked_minutes"] == 0


def test_any_master_is_explained_and_a_named_one_is_not(world: dict[str, Any]) -> None:
    branch, cut = world["branch"], world["cut"]
    day = tomorrow()
    book(branch, world["first"], cut, dt.datetime.combine(day, dt.time(9), tzinfo=ZoneInfo(ZONE)))
    slots = get(UserFactory(), branch_id=branch.pk, service_id=cut.pk, date=day).json()
    at_noon = next(s for s in slots if "T12:00:00" in s["start"])
    assert at_noon["staff_id"] == world["second"].pk
    assert at_noon["why"]["booked_minutes"] == 0 and at_noon["why"]["candidates"] == 2
    named = get(UserFactory(), branch_id=branch.pk, service_id=cut.pk, date=day, staff_id=world["first"].pk).json()
    assert named[0]["start"].startswith(f"{day.isoformat()}T10:00:00") and named[0]["why"] is None


def test_several_services_and_several_days(world: dict[str, Any]) -> None:
    branch = world["branch"]
    day = tomorrow()
    response = get(
        UserFactory(),
        branch_id=branch.pk,
        service_ids=[world["cut"].pk, world["colour"].pk],
        date=day,
        date_to=day + dt.timedelta(days=2),
    )
    assert response.status_code == 200, response.content
    slots = response.json()
    assert {s["start"][:10] for s in slots} == {(day + dt.timedelta(days=i)).isoformat() for i in range(3)}
    first = slots[0]
    assert [line["service_id"] for line in first["lines"]] == [world["cut"].pk, world["colour"].pk]
    assert first["lines"][1]["staff_id"] == world["first"].pk  # the only one who colours
    assert first["end"] == first["lines"][1]["end"]


def test_staff_see_their_own_branch_and_not_a_strangers(world: dict[str, Any]) -> None:
    branch = world["branch"]
    query = {"branch_id": branch.pk, "service_id": world["cut"].pk, "date": tomorrow()}
    assert get(member(branch.organization, Role.DISPATCHER), **query).status_code == 200
    assert get(member(branch.organization, Role.WORKER), **query).json()["error"]["code"] == "forbidden"
    stranger = member(public_org(), Role.OWNER)
    response = get(stranger, **query)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"date": "0001-01-01"}, 422),
        ({"date": "9999-12-31"}, 422),
        ({"date": "2000-01-01"}, 422),  # the past
        ({"date_to": "9999-12-31"}, 422),
        ({"date_to": "+31"}, 422),  # 32 days
        ({"date_to": "-1"}, 422),  # before the start
        ({"date": "tomorrow"}, 422),
        ({"service_id": None}, 422),  # no service at all
        ({"service_id": 2**63}, 422),
        ({"service_id": 10**12}, 404),
        ({"staff_id": 10**12}, 404),
        ({"branch_id": 10**12}, 404),
        ({"branch_id": 0}, 422),
        ({"service_ids": [1, 2, 3, 4, 5, 6]}, 422),
    ],
)
def test_bad_input_is_a_4xx_with_a_code(world: dict[str, Any], change: dict[str, Any], status: int) -> None:
    day = tomorrow()
    query: dict[str, Any] = {"branch_id": world["branch"].pk, "service_id": world["cut"].pk, "date": day}
    for key, value in change.items():
        if key == "date_to" and isinstance(value, str) and value[0] in "+-":
            value = day + dt.timedelta(days=int(value))
        query[key] = value
    response = get(UserFactory(), **{k: v for k, v in query.items() if v is not None})
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"]


def test_another_organizations_service_or_master_is_not_found(world: dict[str, Any]) -> None:
    other = branch_of(public_org(), ZONE)
    their_cut = service_at(other, 60)
    their_master = master_at(other, [their_cut])
    query = {"branch_id": world["branch"].pk, "date": tomorrow()}
    assert get(UserFactory(), **query, service_id=their_cut.pk).status_code == 404
    assert get(UserFactory(), **query, service_id=world["cut"].pk, staff_id=their_master.pk).status_code == 404


# --- the public catalog ------------------------------------------------------------------------------------------


def test_a_customer_sees_the_public_catalog_and_staff_see_their_own(world: dict[str, Any]) -> None:
    branch = world["branch"]
    private = branch_of(public_org(online_booking=False), ZONE)
    closed = branch_of(branch.organization, ZONE, online_booking=False)
    customer = UserFactory()
    branches = ApiClient(customer).get("/api/v1/catalog/branches").json()["items"]
    ids = {b["id"] for b in branches}
    assert branch.pk in ids and private.pk not in ids and closed.pk not in ids
    # staff see their organization's branches, the closed one included, and nobody else's
    staff_ids = {
        b["id"] for b in ApiClient(member(branch.organization)).get("/api/v1/catalog/branches").json()["items"]
    }
    assert staff_ids == {branch.pk, closed.pk}
    assert ApiClient(customer).get("/api/v1/catalog/services", data={"branch_id": private.pk}).status_code == 404


def test_a_customer_sees_online_services_and_masters(world: dict[str, Any]) -> None:
    branch, cut = world["branch"], world["cut"]
    offline = service_at(branch, 30, name="Phone only", online_booking=False)
    StaffService.objects.filter(staff=world["second"], service=cut).update(online_booking=False, price=7)
    customer = ApiClient(UserFactory())
    names = [s["name"] for s in customer.get("/api/v1/catalog/services", data={"branch_id": branch.pk}).json()["items"]]
    assert names == ["Colour", "Cut"]
    masters = customer.get("/api/v1/catalog/staff", data={"branch_id": branch.pk, "service_id": cut.pk}).json()["items"]
    assert [m["id"] for m in masters] == [world["first"].pk]
    assert masters[0]["duration_minutes"] == 60
    staff = ApiClient(member(branch.organization, Role.DISPATCHER))
    all_names = {
        s["name"] for s in staff.get("/api/v1/catalog/services", data={"branch_id": branch.pk}).json()["items"]
    }
    assert offline.name in all_names
    listed = staff.get("/api/v1/catalog/staff", data={"branch_id": branch.pk, "service_id": cut.pk}).json()["items"]
    assert {m["id"]: m["price"] for m in listed}[world["second"].pk] == "7.00"
    unknown = customer.get("/api/v1/catalog/staff", data={"branch_id": branch.pk, "service_id": offline.pk})
    assert unknown.status_code == 404
