"""The sized demo world and the simulator, on the tiny size: structure, idempotency, the day line against the
database, and that the hidden traits really shape what the services stored."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from backend.booking.models import Appointment, AppointmentStatus, Review
from backend.catalog.models import Resource, Service
from backend.core.clock import clock_at, clock_now
from backend.core.models import Event
from backend.crm.models import Client, Vehicle
from backend.demo.simulator.booking import LEAD_DAYS
from backend.demo.simulator.engine import Simulation
from backend.demo.simulator.traits import customer_traits
from backend.demo.world import CAR_SERVICE, HQ, SALON, SIZES
from backend.organizations.models import Branch, Organization
from backend.staffing.models import CorporateClient, Offer, OfferStatus, Order, Shift, Site, Worker, WorkerStatus

pytestmark = pytest.mark.django_db

TINY = SIZES["tiny"]


@pytest.fixture(autouse=True)
def _debug_on(settings: Any) -> None:
    settings.DEBUG = True


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def test_the_tiny_world_has_every_business_at_its_size_and_a_second_run_changes_nothing() -> None:
    first = run("seed_demo", "--size", "tiny", "--history-days", "0")
    events = Event.objects.count()

    again = run("seed_demo", "--size", "tiny", "--history-days", "0")

    assert "Nothing changed" in again and "Nothing changed" not in first
    assert Event.objects.count() == events
    hq = Organization.objects.get(name=HQ)
    assert Organization.objects.filter(parent=hq).count() == 2  # two franchises on one shared pool
    # the size's workers and the named demo worker whose token demo_info prints
    assert Worker.objects.filter(organization=hq, status=WorkerStatus.ACTIVE).count() == TINY.workers + 1
    assert CorporateClient.objects.count() == TINY.corporate_clients
    assert Site.objects.count() == TINY.sites
    salon = Organization.objects.get(name=SALON)
    assert Branch.objects.filter(organization=salon).count() == 3
    assert Service.objects.filter(organization=salon).count() == TINY.services
    assert Client.objects.filter(organization=salon).count() == TINY.salon_clients
    cars = Organization.objects.get(name=CAR_SERVICE)
    assert Resource.objects.filter(branch__organization=cars).count() == TINY.bays
    assert Vehicle.objects.filter(organization=cars).count() == TINY.car_clients  # every car client has a car


def test_seed_refuses_an_unknown_size() -> None:
    with pytest.raises(CommandError):
        run("seed_demo", "--size", "huge")


def test_the_clock_seam_is_the_wall_clock_outside_and_the_given_instant_inside() -> None:
    at = dt.datetime(2025, 5, 1, 9, tzinfo=dt.UTC)
    with clock_at(at):
        assert clock_now() == at
    assert clock_now() > at + dt.timedelta(days=300)


# Committed for real: the simulator drains the task queue with django-tasks' own `db_worker`, which closes its database
# connection when done (on PostgreSQL that would end a test's open transaction).
@pytest.mark.django_db(transaction=True)
def test_a_simulated_week_of_the_tiny_world() -> None:
    # One run, several checks: simulating is the slow part of this module.
    run("seed_demo", "--size", "tiny", "--history-days", "0")
    sim = Simulation.load(seed=3, orders_per_day=2.0)
    start = sim.epoch
    out = run("simulate", "--days", "8", "--start", start.isoformat(), "--seed", "3", "--orders-per-day", "2")
    simulated = (sim, start, out.strip().splitlines(), out)

    check_a_line_a_day_that_matches_the_database(simulated)
    check_the_days_went_through_the_services(simulated)
    check_clients_come_only_while_their_hidden_traits_say_they_are_active(simulated)


def check_a_line_a_day_that_matches_the_database(simulated: Any) -> None:
    _sim, start, lines, _out = simulated
    day_lines = [line for line in lines if line[:4].isdigit()]
    assert len(day_lines) == 8
    day = start + dt.timedelta(days=5)
    line = next(line for line in day_lines if line.startswith(day.isoformat()))
    salon = Organization.objects.get(name=SALON)
    cars = Organization.objects.get(name=CAR_SERVICE)
    zone, car_zone = ZoneInfo(salon.time_zone), ZoneInfo(cars.time_zone)
    visits = Appointment.objects.none()
    for org, z in ((salon, zone), (cars, car_zone)):
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=z)
        visits = visits | Appointment.objects.filter(
            organization=org, starts_at__gte=midnight, starts_at__lt=midnight + dt.timedelta(days=1)
        )
    done = visits.filter(status=AppointmentStatus.DONE)
    assert f"bookings {visits.count()} (done {done.count()}," in line
    kzt = done.filter(currency="KZT").aggregate(s=Sum("price"))["s"]
    if kzt:
        assert f"{kzt:,.0f} KZT" in line
    agencies = [o.pk for o in Organization.objects.filter(kind=Organization.objects.get(name=HQ).kind)]
    shifts = Shift.objects.filter(organization_id__in=agencies, date=day)
    headcount = shifts.aggregate(h=Sum("headcount"))["h"] or 0
    shows = sum(
        min(s.headcount, s.offers.filter(status__in=(OfferStatus.CHECKED_IN, OfferStatus.COMPLETED)).count())
        for s in shifts
    )
    assert f"({shows}/{headcount})" in line
    assert Order.objects.filter(organization_id__in=agencies).exists()


def check_the_days_went_through_the_services(simulated: Any) -> None:
    _sim, start, _lines, _out = simulated
    salon = Organization.objects.get(name=SALON)
    visits = Appointment.objects.filter(organization=salon)
    assert visits.filter(status=AppointmentStatus.DONE).exists()
    # every visit was written through the booking service: a create event each
    created = set(
        Event.objects.filter(entity_type="booking.appointment", action="create").values_list("entity_id", flat=True)
    )
    assert {str(pk) for pk in visits.values_list("pk", flat=True)} <= created
    # business time: visits lie in the simulated days, reviews are dated on them, not on the wall clock
    first = dt.datetime.combine(start, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(days=1)
    assert visits.filter(starts_at__lt=first).count() == 0
    for review in Review.objects.all():
        assert review.created_at >= review.appointment.ends_at
        assert review.created_at < review.appointment.ends_at + dt.timedelta(days=1)
    # the agency: orders confirmed on the simulated days, workers called, some came
    assert Order.objects.filter(confirmed_at__date__gte=start).exists()
    assert Offer.objects.filter(status__in=(OfferStatus.COMPLETED, OfferStatus.CHECKED_IN)).exists()


def check_clients_come_only_while_their_hidden_traits_say_they_are_active(simulated: Any) -> None:
    sim, start, _lines, _out = simulated
    end = start + dt.timedelta(days=8)
    salon = next(b for b in sim.businesses if b.organization.name == SALON)
    checked_gone = checked_late = 0
    for client_id, _traits in salon.clients:
        t = customer_traits(
            seed=3, client_id=client_id, epoch=salon.epoch, span_days=salon.span_days, cadence_mean=salon.cadence_mean
        )
        visits = list(Appointment.objects.filter(client_id=client_id).values_list("starts_at", flat=True))
        if t.joins > end:
            checked_late += 1
            assert visits == []  # not yet a client: never came
        if t.leaves is not None and t.returns is None and t.leaves < end:
            checked_gone += 1
            # gone for good: nothing booked after they drifted away (a visit booked before may still follow)
            limit = dt.datetime.combine(t.leaves + dt.timedelta(days=LEAD_DAYS), dt.time(0), tzinfo=dt.UTC)
            assert all(v < limit for v in visits), (client_id, t, visits)
    assert checked_late and checked_gone


def test_demo_info_prints_the_addresses_and_a_working_token_for_every_role() -> None:
    from backend.accounts.tokens import access_token_user
    from backend.demo.services import LIVE_BOARD_PATH, PEOPLE

    run("seed_demo", "--size", "tiny", "--history-days", "0")

    out = run("demo_info", "--port", "8123")

    assert "http://127.0.0.1:8123/api/v1/docs" in out and "http://127.0.0.1:8123/admin/" in out
    assert LIVE_BOARD_PATH in out and "TELEGRAM_BOT_TOKEN" in out
    tokens = [
        line.split("Authorization: Bearer ")[1].strip()
        for line in out.splitlines()
        if "Authorization: Bearer " in line and "<" not in line
    ]
    users = [access_token_user(t) for t in tokens]
    assert all(u is not None for u in users)
    roles = {p.role for p in PEOPLE} | {"customer"}
    assert len(tokens) == len(roles)
    # the printed worker is an active pool worker (their token sees call-ups), and the notebooks' way is make's
    from backend.organizations.models import Role
    from backend.staffing.models import Worker, WorkerStatus

    named = next(p for p in PEOPLE if p.role == Role.WORKER)
    assert Worker.objects.filter(user__phone=named.phone, status=WorkerStatus.ACTIVE).exists()
    assert "make notebooks" in out


def test_demo_info_refuses_without_the_world() -> None:
    with pytest.raises(CommandError, match="seed_demo"):
        run("demo_info")
