"""The journal: a branch's day and week with chosen masters side by side, and its socket, which hears every
appointment change of the branch after commit (never a rolled-back one, never another branch's), on the in-memory
layer and on Redis."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections, transaction

from backend.accounts.tokens import token_pair_issue
from backend.booking.models import Appointment, AppointmentStatus
from backend.booking.services.appointments import appointment_create_for_customer
from backend.booking.services.journal import publish_appointment_change
from backend.config.asgi import application
from backend.config.channel_layers import redis_layer
from backend.organizations.models import Role
from tests.booking.booking_world import book, branch_of, master_at, public_org, service_at, session
from tests.conftest import ApiClient, member
from tests.factories import UserFactory

URL = "/api/v1/booking/journal"
WS = "/ws/v1/booking/journal/"
ZONE = ZoneInfo("Europe/Vilnius")
DAY = dt.date(2027, 2, 1)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZONE)


def _world() -> dict[str, Any]:
    branch = branch_of(public_org())
    cut = service_at(branch, 60, name="Cut")
    yoga = service_at(branch, 60, name="Yoga", is_group=True, capacity=5)
    anna = master_at(branch, [cut, yoga], first_name="Anna", breaks=[("13:00", "14:00")])
    boris = master_at(branch, [cut], first_name="Boris")
    vera = master_at(branch, [cut], first_name="Vera")
    return {"branch": branch, "cut": cut, "yoga": yoga, "anna": anna, "boris": boris, "vera": vera}


# --- the journal read ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_chosen_masters_side_by_side_in_the_order_asked() -> None:
    w = _world()
    branch = w["branch"]
    book(branch, w["anna"], w["cut"], at(DAY, 10))
    book(branch, w["boris"], w["cut"], at(DAY, 10))
    book(branch, w["boris"], w["cut"], at(DAY, 15), status=AppointmentStatus.CANCELLED)
    book(branch, w["vera"], w["cut"], at(DAY, 11))
    book(branch, w["anna"], w["cut"], at(DAY + dt.timedelta(days=1), 10))  # another day
    session(branch, w["anna"], w["yoga"], at(DAY, 16), taken=2)
    dispatcher = ApiClient(member(branch.organization, Role.DISPATCHER))
    staff_ids = [w["boris"].pk, w["anna"].pk]
    response = dispatcher.get(URL, data={"branch_id": branch.pk, "date": DAY, "staff_ids": staff_ids})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["days"] == [DAY.isoformat()] and body["time_zone"] == "Europe/Vilnius"
    boris, anna = body["columns"]
    assert [boris["staff_id"], anna["staff_id"]] == staff_ids
    assert [a["start"] for a in boris["appointments"]] == ["2027-02-01T10:00:00+02:00"]  # the cancelled one hidden
    assert [a["start"] for a in anna["appointments"]] == ["2027-02-01T10:00:00+02:00"]
    assert anna["appointments"][0]["service_name"] == "Cut" and anna["appointments"][0]["status"] == "booked"
    assert [(s["service_name"], s["seats_taken"], s["capacity"]) for s in anna["sessions"]] == [("Yoga", 2, 5)]
    assert [(i["start"], i["end"]) for i in anna["working"]] == [
        ("2027-02-01T09:00:00+02:00", "2027-02-01T13:00:00+02:00"),
        ("2027-02-01T14:00:00+02:00", "2027-02-01T18:00:00+02:00"),
    ]
    with_cancelled = dispatcher.get(
        URL, data={"branch_id": branch.pk, "date": DAY, "staff_ids": [w["boris"].pk], "include_cancelled": True}
    ).json()
    assert [a["status"] for a in with_cancelled["columns"][0]["appointments"]] == ["booked", "cancelled"]


@pytest.mark.django_db
def test_a_week_and_every_master_when_none_is_chosen() -> None:
    w = _world()
    branch = w["branch"]
    for offset in range(8):
        book(branch, w["vera"], w["cut"], at(DAY + dt.timedelta(days=offset), 12))
    body = ApiClient(member(branch.organization)).get(URL, data={"branch_id": branch.pk, "date": DAY, "days": 7}).json()
    assert len(body["days"]) == 7 and body["days"][-1] == "2027-02-07"
    assert {c["staff_id"] for c in body["columns"]} == {w["anna"].pk, w["boris"].pk, w["vera"].pk}
    vera = next(c for c in body["columns"] if c["staff_id"] == w["vera"].pk)
    assert len(vera["appointments"]) == 7 and len(vera["working"]) == 7


@pytest.mark.django_db
def test_a_week_across_the_autumn_change_keeps_local_hours() -> None:
    w = _world()
    branch = w["branch"]
    body = (
        ApiClient(member(branch.organization))
        .get(URL, data={"branch_id": branch.pk, "date": "2027-10-28", "days": 7, "staff_ids": [w["boris"].pk]})
        .json()
    )
    starts = [i["start"] for i in body["columns"][0]["working"]]
    assert starts[0] == "2027-10-28T09:00:00+03:00" and starts[-1] == "2027-11-03T09:00:00+02:00"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"days": 3}, 422),
        ({"date": "0001-01-01"}, 422),
        ({"date": "9999-12-31"}, 422),
        ({"staff_ids": [10**12]}, 404),
        ({"staff_ids": [2**63]}, 422),
        ({"branch_id": 10**12}, 404),
        ({"staff_ids": list(range(1, 52))}, 422),
    ],
)
def test_bad_journal_input_is_a_4xx(query: dict[str, Any], status: int) -> None:
    w = _world()
    data = {"branch_id": w["branch"].pk, "date": DAY, **query}
    response = ApiClient(member(w["branch"].organization)).get(URL, data=data)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"]


@pytest.mark.django_db
def test_a_master_of_another_organization_or_branch_is_not_in_the_journal() -> None:
    w = _world()
    other = branch_of(w["branch"].organization)  # a sister branch of the same organization
    elsewhere = master_at(branch_of(public_org()), [])
    narrowed = member(w["branch"].organization, Role.MASTER)
    narrowed.memberships.update(branch=other)
    client = ApiClient(member(w["branch"].organization))
    for staff_id in (elsewhere.pk, narrowed.pk):
        response = client.get(URL, data={"branch_id": w["branch"].pk, "date": DAY, "staff_ids": [staff_id]})
        assert response.status_code == 404


# --- the socket ----------------------------------------------------------------------------------------------------


def _redis_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/2"


@pytest.fixture(params=["memory", "redis"])
def channel_layer(request: Any, settings: Any) -> Iterator[str]:
    if request.param == "memory":
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    else:
        try:
            redis.Redis.from_url(_redis_url(), socket_connect_timeout=1).ping()
        except redis.RedisError:
            pytest.skip("Redis is not reachable")
        settings.CHANNEL_LAYERS = {"default": redis_layer(_redis_url(), prefix=f"brigada-test-{uuid.uuid4().hex[:8]}")}
    yield request.param


@pytest.fixture
async def _close_thread_connections() -> AsyncIterator[None]:
    # Consumers reach the database from asgiref's worker thread; with CONN_MAX_AGE those connections would stay
    # open and block dropping the test database.
    yield
    await sync_to_async(connections.close_all)()


def _token(user: Any) -> str:
    return token_pair_issue(user=user).access_token


def _change(appointment: Appointment, status: str, *, commit: bool) -> None:
    try:
        with transaction.atomic():
            Appointment.objects.filter(pk=appointment.pk).update(status=status)
            appointment.refresh_from_db()
            publish_appointment_change(appointment, change=status)
            if not commit:
                raise RuntimeError("the change failed")
    except RuntimeError:
        pass


async def _connect(user: Any, branch_id: Any) -> tuple[WebsocketCommunicator, bool, Any]:
    token = await sync_to_async(_token)(user)
    communicator = WebsocketCommunicator(application, f"{WS}?branch_id={branch_id}&token={token}")
    connected, code = await communicator.connect()
    return communicator, connected, code


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_close_thread_connections")
async def test_the_branch_socket_hears_committed_changes_only(channel_layer: str) -> None:
    w = await sync_to_async(_world)()
    branch = w["branch"]
    dispatcher = await sync_to_async(member)(branch.organization, Role.DISPATCHER)
    appointment = await sync_to_async(book)(branch, w["anna"], w["cut"], at(DAY, 10))
    other_branch = await sync_to_async(branch_of)(branch.organization)
    elsewhere = await sync_to_async(book)(other_branch, w["boris"], w["cut"], at(DAY, 10))
    communicator, connected, _ = await _connect(dispatcher, branch.pk)
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
    assert await communicator.receive_json_from(timeout=5) == {"type": "journal.subscribed", "branch_id": branch.pk}
    # when a change rolls back, another branch's commits and ours commits
    await sync_to_async(_change)(appointment, AppointmentStatus.CONFIRMED, commit=False)
    await sync_to_async(_change)(elsewhere, AppointmentStatus.CONFIRMED, commit=True)
    await sync_to_async(_change)(appointment, AppointmentStatus.CANCELLED, commit=True)
    # then only ours, committed, arrives: once, with the state it committed
    event = await communicator.receive_json_from(timeout=5)
    assert event["type"] == "appointment.changed" and event["change"] == "cancelled"
    assert event["appointment"]["id"] == appointment.pk and event["appointment"]["status"] == "cancelled"
    assert event["appointment"]["lines"][0]["staff_id"] == w["anna"].pk
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_close_thread_connections")
async def test_a_strangers_branch_a_role_without_the_right_and_junk_are_refused(channel_layer: str) -> None:
    w = await sync_to_async(_world)()
    branch = w["branch"]
    stranger = await sync_to_async(lambda: member(public_org(), Role.OWNER))()
    master = await sync_to_async(member)(branch.organization, Role.MASTER)
    for user, branch_id, code in (
        (stranger, branch.pk, 4404),
        (master, branch.pk, 4403),
        (stranger, "abc", 4404),
        (stranger, str(2**64), 4404),
        (stranger, "", 4404),
    ):
        communicator, connected, close_code = await _connect(user, branch_id)
        assert (connected, close_code) == (False, code), (branch_id, close_code)
        await communicator.disconnect()
    anonymous = WebsocketCommunicator(application, f"{WS}?branch_id={branch.pk}")
    assert await anonymous.connect() == (False, 4401)
    await anonymous.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_close_thread_connections")
async def test_a_customers_booking_reaches_the_journal_after_it_commits(channel_layer: str) -> None:
    w = await sync_to_async(_world)()
    branch = w["branch"]
    dispatcher = await sync_to_async(member)(branch.organization, Role.DISPATCHER)
    customer = await sync_to_async(UserFactory)()
    communicator, connected, _ = await _connect(dispatcher, branch.pk)
    assert connected
    await communicator.receive_json_from(timeout=5)  # hello
    await communicator.receive_json_from(timeout=5)  # subscribed
    # when a customer books through the booking service
    appointment = await sync_to_async(appointment_create_for_customer)(
        user=customer, branch_id=branch.pk, service_ids=[w["cut"].pk], start=at(DAY, 11), staff_id=w["boris"].pk
    )
    # then the branch's journal hears of it, as it was committed
    event = await communicator.receive_json_from(timeout=5)
    assert (event["change"], event["appointment"]["id"]) == ("created", appointment.pk)
    assert event["appointment"]["staff_id"] == w["boris"].pk and event["appointment"]["status"] == "booked"
    await communicator.disconnect()
