"""The worker's API: my offers, accept (200, or 409 shift_full with a kind message), decline, confirm, my shifts,
availability; replays of an Idempotency-Key; someone else's offer is a 404."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.staffing.models import Offer, OfferStatus, Shift, WorkerAvailability
from backend.staffing.services.offers import offers_send
from tests.conftest import ApiClient
from tests.staffing.world import order_with_shift, pool_worker, staffing_world

pytestmark = pytest.mark.django_db
P = "/api/v1/staffing"


def _offers(places: int, n: int) -> tuple[Shift, list[Offer]]:
    world = staffing_world(0)
    _, shift = order_with_shift(world.franchise, call_cap=places)
    offers = [
        Offer.objects.create(organization=world.franchise, shift=shift, worker=pool_worker(world.hq), position=i)
        for i in range(n)
    ]
    offers_send(shift=shift, offers=offers, wave=1)
    return shift, offers


def test_a_worker_lists_only_their_own_offers() -> None:
    _, offers = _offers(1, 2)
    items = ApiClient(offers[0].worker.user).get(f"{P}/offers").json()["items"]
    assert [i["id"] for i in items] == [offers[0].pk]
    assert items[0]["status"] == "offered" and items[0]["order_title"] == "Loaders" and items[0]["expires_at"]


def test_accept_then_a_late_accepter_gets_409_shift_full_kindly() -> None:
    shift, offers = _offers(1, 2)
    first = ApiClient(offers[0].worker.user).post(f"{P}/offers/{offers[0].pk}/accept", headers={"Idempotency-Key": "a"})
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    late = ApiClient(offers[1].worker.user).post(f"{P}/offers/{offers[1].pk}/accept")
    assert late.status_code == 409
    error = late.json()["error"]
    assert error["code"] == "shift_full" and "standby" in error["message"]
    assert ApiClient(offers[1].worker.user).get(f"{P}/offers").json()["items"][0]["status"] == "standby"
    # the same key again: the stored answer, not a second effect
    again = ApiClient(offers[0].worker.user).post(f"{P}/offers/{offers[0].pk}/accept", headers={"Idempotency-Key": "a"})
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    shift.refresh_from_db()
    assert shift.accepted_count == 1


def test_someone_elses_offer_is_a_404_and_changes_nothing() -> None:
    _, offers = _offers(2, 2)
    response = ApiClient(offers[1].worker.user).post(f"{P}/offers/{offers[0].pk}/accept")
    assert response.status_code == 404 and Offer.objects.get(pk=offers[0].pk).status == OfferStatus.OFFERED


def test_decline_and_confirm_and_my_shifts() -> None:
    _, offers = _offers(2, 2)
    me, other = ApiClient(offers[0].worker.user), ApiClient(offers[1].worker.user)
    assert me.post(f"{P}/offers/{offers[0].pk}/accept").status_code == 200
    confirmed = me.post(f"{P}/offers/{offers[0].pk}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["confirmed_at"]
    declined = other.post(f"{P}/offers/{offers[1].pk}/decline", {"reason": "ill"})
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert [s["id"] for s in me.get(f"{P}/shifts").json()["items"]] == [offers[0].pk]
    assert other.get(f"{P}/shifts").json()["items"] == []


def test_availability_from_the_phone() -> None:
    world = staffing_world(1)
    api = ApiClient(world.workers[0].user)
    start = (timezone.now() + dt.timedelta(days=1)).replace(microsecond=0)
    body = {"windows": [{"starts_at": start.isoformat(), "ends_at": (start + dt.timedelta(hours=8)).isoformat()}]}
    declared = api.post(f"{P}/availability", body)
    assert declared.status_code == 200 and len(declared.json()["items"]) == 1
    bad = api.post(
        f"{P}/availability",
        {"windows": [{"starts_at": "0001-01-01T00:00:00+05:00", "ends_at": "0001-01-01T08:00:00+05:00"}]},
    )
    assert bad.status_code == 422 and WorkerAvailability.objects.count() == 1
    row = declared.json()["items"][0]["id"]
    assert api.post(f"{P}/availability/{row}/delete").status_code == 204
    assert not WorkerAvailability.objects.exists()


def test_someone_not_in_a_pool_has_no_offers_and_no_profile() -> None:
    world = staffing_world(0)
    api = ApiClient(world.dispatcher)
    assert api.get(f"{P}/offers").json()["items"] == []
    assert api.get(f"{P}/me").status_code == 404


def _statements(run: Any) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        run()
    return [q["sql"] for q in captured.captured_queries]


def test_a_late_accept_on_a_full_shift_is_answered_without_locking_or_writing_the_shift() -> None:
    # In a storm most accepts arrive after the last place went: they are refused from the rows they read, without
    # queueing on the worker's and the shift's locks (the cap itself is kept by the conditional UPDATE:
    # tests/staffing/test_accept_race.py).
    shift, offers = _offers(1, 2)
    assert ApiClient(offers[0].worker.user).post(f"{P}/offers/{offers[0].pk}/accept").status_code == 200
    late = ApiClient(offers[1].worker.user)
    answers: list[Any] = []
    sql = _statements(
        lambda: answers.append(late.post(f"{P}/offers/{offers[1].pk}/accept", headers={"Idempotency-Key": "late"}))
    )
    assert answers[0].status_code == 409 and answers[0].json()["error"]["code"] == "shift_full"
    assert answers[0].json()["error"]["fields"]["current"]["status"] == "standby"
    assert not [s for s in sql if "FOR UPDATE" in s or s.startswith('UPDATE "staffing_shift"')], sql
    shift.refresh_from_db()
    assert shift.accepted_count == 1


def test_a_write_with_an_idempotency_key_reads_the_bearer_token_once() -> None:
    _, offers = _offers(2, 1)
    worker = ApiClient(offers[0].worker.user)
    answers: list[Any] = []
    sql = _statements(
        lambda: answers.append(worker.post(f"{P}/offers/{offers[0].pk}/accept", headers={"Idempotency-Key": "k"}))
    )
    assert answers[0].status_code == 200
    assert len([s for s in sql if 'FROM "accounts_authtoken"' in s]) == 1, sql
