"""The shift-day API end to end over HTTP: the worker's check-in/out, earnings and rating with reasons; the
foreman's marks and scores; the board; an order's money; payroll and invoice exports (with their event); bad input
gets a 4xx code and changes nothing; writes replay under an Idempotency-Key."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone

from backend.core.models import Event, EventAction
from backend.staffing.models import Attendance, Offer, OfferStatus, ReliabilityChange, Shift, Worker
from tests.conftest import ApiClient
from tests.staffing.test_attendance import AT_SITE, FAR, accepted_offer, consistent_world, shift_starting
from tests.staffing.world import World

pytestmark = pytest.mark.django_db

API = "/api/v1/staffing"


@pytest.fixture
def day() -> tuple[World, Shift, list[Offer]]:
    world = consistent_world(3)
    shift = shift_starting(world, timezone.now() - dt.timedelta(minutes=15), hours=8)
    return world, shift, [accepted_offer(shift, w) for w in world.workers]


def _point(where: tuple[Decimal, Decimal]) -> dict[str, float]:
    return {"latitude": float(where[0]), "longitude": float(where[1])}


def _rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def test_a_worker_checks_in_and_out_and_sees_earnings_and_rating(day) -> None:
    world, shift, _offers = day
    phone = ApiClient(world.workers[0].user)

    checked_in = phone.post(f"{API}/me/check-in", json=_point(AT_SITE), headers={"Idempotency-Key": "in-1"})
    replay = phone.post(f"{API}/me/check-in", json=_point(AT_SITE), headers={"Idempotency-Key": "in-1"})
    checked_out = phone.post(f"{API}/me/check-out", json=_point(AT_SITE))

    assert checked_in.status_code == 200, checked_in.content
    assert checked_in.json()["offer_status"] == "checked_in"
    assert replay.status_code == 200 and replay.json() == checked_in.json()
    assert Attendance.objects.count() == 1
    assert checked_out.status_code == 200 and checked_out.json()["offer_status"] == "completed"
    hours = Decimal(checked_out.json()["hours"])
    assert hours == Decimal("0.00")  # out right after in: no quarter hour worked yet

    earnings = phone.get(f"{API}/me/earnings").json()
    assert Decimal(earnings["hours"]) == hours
    assert earnings["totals"] == [{"currency": "RUB", "amount": str((hours * 400).quantize(Decimal("0.01")))}]
    assert earnings["items"][0]["shift_id"] == shift.pk and earnings["items"][0]["order_title"] == "Loaders"

    rating = phone.get(f"{API}/me/rating").json()
    assert rating["shows"] == 1 and rating["changes"][0]["reason"] == "show"
    assert rating["changes"][0]["reason_label"] and "Loaders" in rating["changes"][0]["reason_text"]


def test_a_check_in_far_from_the_site_is_a_422_and_changes_nothing(day) -> None:
    world, _shift, offers = day
    phone = ApiClient(world.workers[0].user)
    events = Event.objects.count()

    far = phone.post(f"{API}/me/check-in", json=_point(FAR), headers={"Idempotency-Key": "far"})
    bad = phone.post(f"{API}/me/check-in", json={"latitude": 91, "longitude": 0})
    nobody = ApiClient(world.dispatcher).post(f"{API}/me/check-in", json=_point(AT_SITE))
    out = phone.post(f"{API}/me/check-out", json=_point(AT_SITE))

    assert far.status_code == 422 and far.json()["error"]["code"] == "too_far_from_site"
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    assert nobody.status_code == 404 and nobody.json()["error"]["code"] == "not_a_worker"
    assert out.status_code == 409 and out.json()["error"]["code"] == "not_checked_in"
    assert Attendance.objects.count() == 0 and Event.objects.count() == events
    offers[0].refresh_from_db()
    assert offers[0].status == OfferStatus.CONFIRMED
    # The key of a refused request is free again: the corrected request runs.
    near = phone.post(f"{API}/me/check-in", json=_point(AT_SITE), headers={"Idempotency-Key": "far"})
    assert near.status_code == 200


def test_the_foreman_marks_a_no_show_and_the_worker_reads_why(day) -> None:
    world, shift, offers = day
    foreman = ApiClient(world.dispatcher)
    before = Worker.objects.get(pk=world.workers[1].pk)

    marked = foreman.post(f"{API}/offers/{offers[1].pk}/attendance", json={"outcome": "no_show"})
    twice = foreman.post(f"{API}/offers/{offers[1].pk}/attendance", json={"outcome": "no_show"})
    roster = foreman.get(f"{API}/shifts/{shift.pk}/attendance").json()
    board = foreman.get(f"{API}/board", {"organization_id": world.franchise.pk}).json()
    rating = ApiClient(world.workers[1].user).get(f"{API}/me/rating").json()

    assert marked.status_code == 200 and marked.json()["no_show"] is True
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "attendance_already_marked"
    assert rating["reliability"] < before.reliability and rating["rank"] < before.rank
    assert rating["changes"][0]["reason"] == "no_show" and rating["changes"][0]["rank_after"] == rating["rank"]
    statuses = {row["offer_id"]: row["offer_status"] for row in roster["items"]}
    assert statuses[offers[1].pk] == "no_show" and statuses[offers[0].pk] == "confirmed"
    [row] = board["items"]
    assert (row["planned"], row["accepted"], row["confirmed"], row["no_show"]) == (5, 2, 2, 1)


def test_marks_refuse_bad_input_and_outsiders_without_changing_anything(day) -> None:
    world, _shift, offers = day
    foreman = ApiClient(world.dispatcher)
    snapshot = (Attendance.objects.count(), ReliabilityChange.objects.count(), Event.objects.count())

    answers = [
        foreman.post(f"{API}/offers/{offers[0].pk}/attendance", json={"outcome": "late"}),
        foreman.post(f"{API}/offers/{offers[0].pk}/attendance", json={"outcome": "present"}),
        foreman.post(f"{API}/offers/{offers[0].pk}/attendance", json={"outcome": "present", "hours": "25"}),
        foreman.post(f"{API}/offers/{offers[0].pk}/quality", json={"quality_score": 0}),
        foreman.post(f"{API}/offers/{offers[0].pk}/quality", json={"quality_score": 7}),
        ApiClient(world.workers[0].user).post(f"{API}/offers/{offers[0].pk}/attendance", json={"outcome": "no_show"}),
        foreman.post(f"{API}/offers/{2**62}/attendance", json={"outcome": "no_show"}),
    ]

    assert [a.status_code for a in answers] == [422, 422, 422, 422, 409, 403, 404]
    assert answers[4].json()["error"]["code"] == "not_present"
    assert (Attendance.objects.count(), ReliabilityChange.objects.count(), Event.objects.count()) == snapshot


def test_money_and_the_payroll_and_invoice_exports(day) -> None:
    world, shift, offers = day
    foreman = ApiClient(world.dispatcher)
    foreman.post(f"{API}/offers/{offers[0].pk}/attendance", json={"outcome": "present", "hours": "8"})
    foreman.post(f"{API}/offers/{offers[1].pk}/attendance", json={"outcome": "present", "hours": "7.5"})
    foreman.post(f"{API}/offers/{offers[2].pk}/attendance", json={"outcome": "no_show"})
    period = {"organization_id": world.franchise.pk, "date_from": str(shift.date), "date_to": str(shift.date)}

    figures = foreman.get(f"{API}/orders/{shift.order_id}/money").json()
    payroll = foreman.get(f"{API}/exports/payroll", period)
    invoice = foreman.get(f"{API}/exports/invoice", {**period, "client_id": shift.order.client_id})
    backwards = foreman.get(f"{API}/exports/payroll", {**period, "date_from": "2100-01-01"})

    # 15.5 h x 400.00 = 6200.00 paid; x 650.00 = 10075.00 billed; margin 3875.00.
    assert (figures["hours"], figures["pay_total"], figures["bill_total"], figures["margin"]) == (
        "15.50",
        "6200.00",
        "10075.00",
        "3875.00",
    )
    assert figures["currency"] == "RUB" and figures["workers"] == 2 and figures["margin_share"] == "0.3846"
    assert payroll.status_code == 200 and "attachment" in payroll["Content-Disposition"]
    lines = _rows(payroll.content)
    assert sorted(line["amount"] for line in lines) == ["3000.00", "3200.00"]
    assert {line["worker_id"] for line in lines} == {str(world.workers[0].pk), str(world.workers[1].pk)}
    [bill] = _rows(invoice.content)
    assert (bill["workers"], bill["hours"], bill["amount"], bill["inn"]) == ("2", "15.50", "10075.00", "7707083893")
    assert backwards.status_code == 422 and backwards.json()["error"]["code"] == "invalid_dates"
    exports = Event.objects.filter(action=EventAction.EXPORT, entity_type="staffing.attendance")
    assert sorted(e.after["filters"]["kind"] for e in exports) == ["invoice", "payroll"]
    assert all(e.actor_id == world.dispatcher.pk for e in exports)
