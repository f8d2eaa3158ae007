"""End to end over HTTP and WebSockets against a live daphne, through the client generated from the published
OpenAPI document: a customer, a worker and a dispatcher do their main jobs, and the sockets they (or the staff
watching) hold receive the events those jobs cause. Every 2xx body is checked against the document by the
generated client; the suite fails when the server answers outside its own contract.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
import websocket

from tests.contract.conftest import Live

pytestmark = pytest.mark.django_db(transaction=True)


class Socket:
    """A WebSocket client as a phone app holds one: bearer token in the subprotocol, JSON messages."""

    def __init__(self, live: Live, path: str, token: str) -> None:
        self.ws = websocket.create_connection(
            f"{live.ws_url}{path}", subprotocols=["bearer", token], timeout=10, suppress_origin=True
        )
        self.seen: list[dict[str, Any]] = []

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> dict[str, Any]:
        for message in self.seen:
            if predicate(message):
                return message
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                message = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            self.seen.append(message)
            if predicate(message):
                return message
        raise AssertionError(f"no matching event within {timeout} s; got {self.seen}")

    def close(self) -> None:
        self.ws.close()


def _type(name: str, **fields: Any) -> Any:
    return lambda m: m.get("type") == name and all(m.get(k) == v for k, v in fields.items())


def test_a_customer_logs_in_by_code_books_reschedules_and_cancels(live: Live) -> None:
    salon = live.world["salon"]
    manager = live.login(salon["manager_phone"])
    journal = Socket(live, f"/ws/v1/booking/journal/?branch_id={salon['branch_id']}", manager.token)
    journal.wait_for(_type("journal.subscribed", branch_id=salon["branch_id"]))

    customer = live.login("+77017770001")
    me = customer.system_me()
    assert me["phone"] == "+77017770001"
    events = Socket(live, "/ws/v1/events/", customer.token)
    events.wait_for(_type("hello", user_id=me["id"]))
    assert customer.devices_device_register(body={"platform": "android", "token": "contract-fcm-1"})["active"]

    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    slots = customer.booking_slots(branch_id=salon["branch_id"], service_id=salon["service_id"], date=tomorrow)
    assert len(slots) >= 2
    first, later = slots[0], slots[-1]
    visit = customer.booking_appointment_create(
        body={"branch_id": salon["branch_id"], "service_id": salon["service_id"], "start": first["start"]},
        idempotency_key="contract-book-1",
    )
    assert visit["status"] == "booked" and visit["customer_id"] == me["id"]
    # The phone retries the same write (a dropped answer): the same visit, not a second one.
    again = customer.booking_appointment_create(
        body={"branch_id": salon["branch_id"], "service_id": salon["service_id"], "start": first["start"]},
        idempotency_key="contract-book-1",
    )
    assert again["id"] == visit["id"]
    journal.wait_for(lambda m: m.get("change") == "created" and m["appointment"]["id"] == visit["id"])

    moved = customer.booking_appointment_reschedule(visit["id"], body={"start": later["start"]})
    assert dt.datetime.fromisoformat(moved["start"]) == dt.datetime.fromisoformat(later["start"])
    journal.wait_for(lambda m: m.get("change") == "rescheduled" and m["appointment"]["id"] == visit["id"])

    cancelled = customer.booking_appointment_cancel(visit["id"], body={"reason": "plans changed"})
    assert cancelled["status"] == "cancelled"
    journal.wait_for(lambda m: m.get("change") == "cancelled" and m["appointment"]["id"] == visit["id"])
    mine = customer.booking_appointment_mine(upcoming=True)
    assert visit["id"] not in [a["id"] for a in mine["items"]]

    # Errors keep the envelope over the wire: another customer cannot see the visit.
    stranger = live.login("+77017770002")
    with pytest.raises(live.api.ApiError) as refused:
        stranger.booking_appointment_detail(visit["id"])
    assert (refused.value.status, refused.value.code) == (404, "not_found")
    for sock in (journal, events):
        sock.close()


def test_a_dispatcher_orders_a_worker_accepts_and_checks_in(live: Live) -> None:
    staffing = live.world["staffing"]
    dispatcher = live.login(staffing["dispatcher_phone"])
    board = Socket(live, f"/ws/v1/staffing/board/?organization_id={staffing['organization_id']}", dispatcher.token)
    board.wait_for(_type("board.snapshot", organization_id=staffing["organization_id"]))
    workers = [live.login(phone) for phone in staffing["worker_phones"]]
    sockets = [Socket(live, "/ws/v1/events/", w.token) for w in workers]
    for sock in sockets:
        sock.wait_for(_type("hello"))

    # A shift that starts in 30 minutes (site in UTC), so it can be checked in to right away.
    starts = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    order = dispatcher.staffing_order_create(
        body={
            "site_id": staffing["site_id"],
            "title": "Loaders",
            "start_date": starts.date().isoformat(),
            "end_date": starts.date().isoformat(),
            "shift_start": starts.time().isoformat(timespec="minutes"),
            "shift_end": (starts + dt.timedelta(hours=4)).time().isoformat(timespec="minutes"),
            "headcount": 1,
            "pay_rate": "400",
            "bill_rate": "650",
            "skills": [],
        }
    )
    assert order["status"] == "draft" and len(order["shifts"]) == 1
    shift_id = order["shifts"][0]["id"]
    confirmed = dispatcher.staffing_order_confirm(order["id"])
    assert confirmed["status"] == "confirmed"

    # The solver runs on the task worker and its plan becomes offers; the worker's phone polls (or, with a shared
    # channel layer, is told).
    deadline = time.monotonic() + 30
    offers: list[tuple[Any, dict[str, Any]]] = []
    while not offers and time.monotonic() < deadline:
        offers = [
            (w, o)
            for w in workers
            for o in w.staffing_offer_list(status="offered")["items"]
            if o["shift_id"] == shift_id
        ]
        time.sleep(0.3)
    assert offers, "no offer reached a worker within 30 s"
    worker, offer = offers[0]
    sock = sockets[workers.index(worker)]
    if live.redis:  # published by the task worker: arrives only through a channel layer both processes share
        sock.wait_for(lambda m: m.get("type", "").startswith("staffing.") and m.get("offer_id") == offer["id"])

    accepted = worker.staffing_offer_accept(offer["id"], idempotency_key=f"accept-{offer['id']}")
    # A shift this close needs no day-before confirmation: accepting it confirms it.
    assert accepted["status"] in ("accepted", "confirmed")
    sock.wait_for(_type("staffing.accepted", offer_id=offer["id"], shift_id=shift_id))
    board.wait_for(
        lambda m: (
            m.get("type") == "board.shift"
            and any(s["shift_id"] == shift_id and s["accepted"] == 1 for s in m["shifts"])
        )
    )

    latitude, longitude = staffing["site_point"]
    checked = worker.staffing_check_in(body={"latitude": latitude, "longitude": longitude})
    assert checked["offer_id"] == offer["id"]
    board.wait_for(
        lambda m: (
            m.get("type") == "board.shift"
            and any(s["shift_id"] == shift_id and s["checked_in"] == 1 for s in m["shifts"])
        )
    )
    rows = [
        r
        for r in dispatcher.staffing_board_snapshot(organization_id=staffing["organization_id"])["items"]
        if r["shift_id"] == shift_id
    ]
    assert rows and (rows[0]["accepted"], rows[0]["checked_in"]) == (1, 1)

    # Another franchise's dispatcher is not this one: a worker cannot read the board.
    with pytest.raises(live.api.ApiError) as refused:
        worker.staffing_board_snapshot(organization_id=staffing["organization_id"])
    assert refused.value.status in (403, 404)
    for s in (board, *sockets):
        s.close()
