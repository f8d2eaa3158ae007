"""The dispatcher's API: client → site → order → confirm → (the task queue runs the solver) → offers, why-called and
the stored solver run; bad input is a 4xx that changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from backend.staffing.models import CorporateClient, Offer, OfferStatus, Order, SolverRun
from tests.conftest import ApiClient
from tests.staffing.world import declare_free, staffing_world

P = "/api/v1/staffing"


def _run_the_queue() -> None:
    call_command("db_worker", "--batch", "--queue-name", "default", "--no-startup-delay", "--worker-id", "staffing")


def _order_body(site_id: int, day: dt.date) -> dict:
    return {
        "site_id": site_id,
        "title": "Loaders",
        "start_date": day.isoformat(),
        "end_date": day.isoformat(),
        "shift_start": "08:00",
        "shift_end": "20:00",
        "headcount": 2,
        "skills": ["loader"],
        "pay_rate": "400.00",
        "bill_rate": "650.00",
    }


@pytest.mark.django_db(transaction=True)
def test_a_dispatcher_takes_an_order_and_the_queue_plans_and_offers_it(settings) -> None:
    settings.STAFFING_SOLVER_TIME_LIMIT_S = 0.5
    world = staffing_world(8)
    api = ApiClient(world.dispatcher)
    day = (timezone.now() + dt.timedelta(days=3)).date()
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    for w in world.workers:
        declare_free(w, start, start + dt.timedelta(hours=24))

    client = api.post(
        f"{P}/clients",
        {"name": "Stroy", "inn": "7707083893", "kpp": "773601001", "ogrn": "1027700132195"},
        headers={"Idempotency-Key": "c1"},
    )
    assert client.status_code == 201, client.content
    site = api.post(
        f"{P}/sites",
        {
            "client_id": client.json()["id"],
            "name": "Yard",
            "address": "Lenina 1",
            "latitude": "55.751244",
            "longitude": "37.618423",
            "conditions": "outdoor",
            "time_zone": "UTC",
        },
    )
    assert site.status_code == 201, site.content
    order = api.post(f"{P}/orders", _order_body(site.json()["id"], day))
    assert order.status_code == 201, order.content
    order_id = order.json()["id"]
    assert [s["headcount"] for s in order.json()["shifts"]] == [2]

    confirmed = api.post(f"{P}/orders/{order_id}/confirm", headers={"Idempotency-Key": "o1"})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    runs = api.get(f"{P}/orders/{order_id}/solver-runs").json()["items"]
    assert [r["status"] for r in runs] == ["queued"] and not Offer.objects.exists()

    _run_the_queue()

    run = api.get(f"{P}/solver-runs/{runs[0]['id']}").json()
    assert run["status"] == "succeeded" and run["output"]["status"] in ("optimal", "feasible")
    assert run["input"]["policy"]["time_limit_s"] == 0.5 and run["figures"]["workers"] == 8
    card = api.get(f"{P}/orders/{order_id}").json()
    assert card["status"] == "in_progress"
    shift = card["shifts"][0]
    assert shift["call_cap"] >= 2 and shift["offered_count"] == shift["call_cap"] and shift["fill_probability"] > 0
    why = api.get(f"{P}/orders/{order_id}/why").json()["items"]
    called = [w for w in why if not w["is_standby"]]
    assert len(called) == shift["call_cap"] and all(w["status"] == "offered" for w in called)
    assert all(0 < w["show_probability"] < 1 and w["distance_km"] is not None for w in why)

    # the dispatcher excludes the first called worker: a re-plan is queued and withdraws their offer
    first = called[0]
    override = api.post(f"{P}/orders/{order_id}/overrides", {"worker_id": first["worker_id"], "kind": "exclude"})
    assert override.status_code == 200
    busy = api.post(f"{P}/orders/{order_id}/dispatch")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "dispatch_running"
    _run_the_queue()
    assert Offer.objects.get(pk=first["offer_id"]).status == OfferStatus.WITHDRAWN
    assert SolverRun.objects.filter(order_id=order_id).count() == 2


@pytest.mark.django_db
def test_bad_legal_details_are_a_422_and_nothing_is_stored() -> None:
    world = staffing_world(0)
    api = ApiClient(world.dispatcher)
    response = api.post(f"{P}/clients", {"name": "X", "inn": "7707083894", "kpp": "773601001"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_inn"
    assert "inn" in response.json()["error"]["fields"] and not CorporateClient.objects.exists()


@pytest.mark.django_db
def test_dates_out_of_range_are_a_422_not_a_500() -> None:
    world = staffing_world(0)
    api = ApiClient(world.dispatcher)
    body = _order_body(1, dt.date(2026, 1, 1)) | {"start_date": "0001-01-01", "end_date": "9999-12-31"}
    response = api.post(f"{P}/orders", body)
    assert response.status_code == 422 and not Order.objects.exists()
    assert set(response.json()["error"]["fields"]) >= {"start_date", "end_date"}


@pytest.mark.django_db
def test_a_worker_cannot_use_the_dispatcher_routes() -> None:
    world = staffing_world(1)
    api = ApiClient(world.workers[0].user)
    assert api.get(f"{P}/workers", {"organization_id": world.hq.pk}).status_code == 403
    assert (
        api.post(
            f"{P}/clients", {"organization_id": world.hq.pk, "name": "X", "inn": "7707083893", "kpp": "773601001"}
        ).status_code
        == 403
    )
    assert not CorporateClient.objects.exists()


@pytest.mark.django_db
def test_a_client_is_changed_and_a_bad_kpp_leaves_it_as_it_was() -> None:
    world = staffing_world(0)
    api = ApiClient(world.dispatcher)
    created = api.post(f"{P}/clients", {"name": "Stroy", "inn": "7707083893", "kpp": "773601001"}).json()
    renamed = api.patch(f"{P}/clients/{created['id']}", {"name": "Stroy Group", "contact_phone": "+77015550009"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Stroy Group"
    bad = api.patch(f"{P}/clients/{created['id']}", {"name": "Other", "kpp": "77360100"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_kpp"
    assert CorporateClient.objects.get(pk=created["id"]).name == "Stroy Group"
