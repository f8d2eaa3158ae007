"""``GET /home``: one call gives each role its first screen; blocks are null without their role; the organization
is the named one (404 outside the caller's) or the default; the dispatcher's horizon is bounded."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from backend.mobile.services.home import home_read
from backend.organizations.models import Role
from backend.staffing.models import Offer, OfferStatus, OrderStatus
from backend.staffing.services import offers as staffing
from tests.booking.appointments_world import World, local, world_build
from tests.booking.test_appointments import book
from tests.conftest import ApiClient, member
from tests.staffing.world import agency, order_with_shift, pool_worker, site, staffing_world

pytestmark = pytest.mark.django_db
HOME = "/api/v1/home"


@pytest.fixture
def w(db: Any) -> World:
    return world_build()


def test_a_customer_sees_their_next_visits_and_no_staff_blocks(w: World) -> None:
    visit = book(w, local(2, 10))
    data = ApiClient(w.customer).get(HOME).json()
    assert [v["id"] for v in data["customer"]["next_visits"]] == [visit.pk]
    assert data["customer"]["waitlist_offers"] == []
    assert (data["organization_id"], data["roles"]) == (None, [])
    assert data["worker"] is data["master"] is data["dispatcher"] is data["manager"] is None


def test_a_masters_day_and_a_managers_numbers_for_the_day_of_the_visit(w: World) -> None:
    visit = book(w, local(2, 10))
    book(w, local(3, 10))  # another day: not in either block
    morning = local(2, 8)
    master = home_read(user=w.master, now=morning)
    assert master.master is not None and [a.pk for a in master.master.visits] == [visit.pk]
    assert master.manager is None and master.dispatcher is None and master.roles == [Role.MASTER]
    manager = home_read(user=w.manager, now=morning)
    assert manager.manager is not None and manager.master is None
    assert (manager.manager.appointments, manager.manager.by_status) == (1, {"booked": 1})
    assert manager.manager.expected_revenue == {visit.currency: Decimal("5000.00")}
    assert manager.manager.day == morning.date()


def test_a_worker_sees_open_offers_the_next_shift_and_confirmations_due() -> None:
    world = staffing_world(0)
    me = pool_worker(world.hq)
    yard = site(world.franchise)
    days = [(timezone.now() + dt.timedelta(days=n)).date() for n in (2, 4)]
    _, soon = order_with_shift(world.franchise, call_cap=1, day=days[0], site_=yard)
    _, later = order_with_shift(world.franchise, call_cap=1, day=days[1], site_=yard)
    offers = [Offer.objects.create(organization=world.franchise, shift=s, worker=me) for s in (soon, later)]
    for offer in offers:
        staffing.offers_send(shift=offer.shift, offers=[offer], wave=1)
    staffing.offer_accept(user=me.user, offer_id=offers[0].pk)
    Offer.objects.filter(pk=offers[0].pk).update(confirm_requested_at=timezone.now())  # asked the day before
    data = ApiClient(me.user).get(HOME).json()
    worker = data["worker"]
    assert [o["id"] for o in worker["open_offers"]] == [offers[1].pk]
    assert worker["next_shift"]["id"] == offers[0].pk and worker["next_shift"]["status"] == OfferStatus.ACCEPTED
    assert [o["id"] for o in worker["confirmations_due"]] == [offers[0].pk]
    assert worker["month_totals"] == [] and Decimal(worker["month_hours"]) == 0
    assert data["roles"] == [Role.WORKER] and data["organization_id"] == world.hq.pk


def test_a_dispatcher_sees_short_shifts_within_the_horizon_and_never_another_agencys() -> None:
    world = staffing_world(0)
    day = (timezone.now() + dt.timedelta(days=2)).date()
    yard = site(world.franchise)
    _, short = order_with_shift(world.franchise, headcount=3, day=day, status=OrderStatus.CONFIRMED, site_=yard)
    _, draft = order_with_shift(world.franchise, headcount=3, day=day, site_=yard)  # a draft: nobody called yet
    other = agency("Rival")
    _, foreign = order_with_shift(other, headcount=3, day=day, status=OrderStatus.CONFIRMED)
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)  # the shifts start at 08:00 UTC
    home = home_read(user=world.dispatcher, now=midnight, at_risk_hours=24)
    assert home.dispatcher is not None and [s.pk for s in home.dispatcher.at_risk] == [short.pk]
    assert home_read(user=world.dispatcher, now=midnight, at_risk_hours=4).dispatcher.at_risk == []  # type: ignore[union-attr]
    assert foreign.pk not in {s.pk for s in home.dispatcher.at_risk} and draft.pk not in {
        s.pk for s in home.dispatcher.at_risk
    }


def test_the_named_organization_is_used_and_one_outside_the_callers_is_a_404(w: World) -> None:
    other = world_build("Salon B")
    both = member(w.org, Role.MANAGER)
    api = ApiClient(both)
    assert api.get(HOME).json()["organization_id"] == w.org.pk  # the first membership
    response = api.get(HOME, {"organization_id": other.org.pk})
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("hours", [0, 169, -1])
def test_the_dispatchers_horizon_is_bounded(w: World, hours: int) -> None:
    response = ApiClient(w.manager).get(HOME, {"at_risk_hours": hours})
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"


def test_home_needs_a_signed_in_caller() -> None:
    assert ApiClient().get(HOME).status_code == 401
