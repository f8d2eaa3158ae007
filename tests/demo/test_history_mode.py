"""History mode (ADR 0028): the older days of a seeded history go through the bulk past-visit service with the
same people and the same decisions, the last days through the live services; the day lines still match the
database, the hidden traits still shape who comes, and the bookings made in history for the live days are live."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db.models import Count

from backend.booking.models import Appointment, AppointmentStatus, Occupancy
from backend.core.models import Event
from backend.demo.simulator.engine import Simulation
from backend.demo.world import SALON
from backend.organizations.models import Organization
from backend.staffing.models import Offer, OfferStatus, Order, ReliabilityChange, Shift, WorkerAvailability
from tests.demo.test_world import (
    check_a_line_a_day_that_matches_the_database,
    check_clients_come_only_while_their_hidden_traits_say_they_are_active,
    run,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug_on(settings: Any) -> None:
    settings.DEBUG = True


# Committed for real: the simulator drains the task queue with django-tasks' own `db_worker`, which closes its database
# connection when done (on PostgreSQL that would end a test's open transaction).
@pytest.mark.django_db(transaction=True)
def test_history_days_then_live_days_of_the_tiny_world() -> None:
    run("seed_demo", "--size", "tiny", "--history-days", "0")
    sim = Simulation.load(seed=3, orders_per_day=2.0)
    start = sim.epoch
    live_from = start + dt.timedelta(days=5)
    lines = [line.text() for line in sim.run(start=start, days=8, live_from=live_from)]
    simulated = (sim, start, lines, "\n".join(lines))

    check_a_line_a_day_that_matches_the_database(simulated)
    check_clients_come_only_while_their_hidden_traits_say_they_are_active(simulated)
    salon = Organization.objects.get(name=SALON)
    zone = sim.businesses[0].zone
    edge = dt.datetime.combine(live_from, dt.time(0), tzinfo=zone)
    past = Appointment.objects.filter(organization=salon, starts_at__lt=edge)
    statuses = set(past.values_list("status", flat=True))
    assert AppointmentStatus.DONE in statuses and statuses <= {"done", "no_show", "cancelled"}
    history_events = Event.objects.filter(entity_type="booking.appointment", action="create", note="history")
    assert {str(pk) for pk in past.values_list("pk", flat=True)} <= set(
        history_events.values_list("entity_id", flat=True)
    )
    # the visits booked in history for the live days were booked through the live service and then lived
    later = Appointment.objects.filter(organization=salon, starts_at__gte=edge)
    assert later.exists() and not later.filter(
        pk__in=[int(e) for e in history_events.values_list("entity_id", flat=True)]
    )
    # nobody's time held twice, history or not
    for field in ("staff_id", "client_id"):
        held = Occupancy.objects.filter(organization=salon, is_active=True).exclude(**{field: None})
        spans: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
        for key, s, e in held.values_list(field, "starts_at", "ends_at"):
            spans.setdefault(key, []).append((s, e))
        for key, rows in spans.items():
            rows.sort()
            assert all(rows[k + 1][0] >= rows[k][1] for k in range(len(rows) - 1)), (field, key)
    assert past.values("client_id").annotate(n=Count("id")).exists()
    # the agency's history: orders placed before the live days were lived in memory and written when their shifts
    # were over (shifts_record_past): final call-up statuses, attendance and its reliability effects, no queue
    edge_utc = dt.datetime.combine(live_from, dt.time(0), tzinfo=dt.UTC)
    placed = Order.objects.filter(confirmed_at__lt=edge_utc)
    assert placed.exists() and not placed.filter(solver_runs__status="queued").exists()
    history_offers = Offer.objects.filter(shift__order__in=placed)
    assert set(history_offers.values_list("status", flat=True)) <= {
        "standby",
        "declined",
        "expired",
        "withdrawn",
        "released",
        "completed",
        "no_show",
    }
    assert history_offers.filter(status=OfferStatus.COMPLETED).exists()
    assert history_offers.count() == Event.objects.filter(entity_type="staffing.offer", note="history").count()
    assert ReliabilityChange.objects.filter(shift__order__in=placed, reason="show").exists()
    # the live days found the rota history kept in memory, and dispatched through the queue as before
    assert WorkerAvailability.objects.filter(ends_at__gt=edge_utc).exists()
    assert Shift.objects.filter(order__confirmed_at__gte=edge_utc, offers__isnull=False).exists()
