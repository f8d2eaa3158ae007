"""Clients with checked legal details, sites, orders that become shifts in the site's zone, and the HQ's hand-off
of an order to a franchise."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from backend.core.exceptions import ApplicationError
from backend.staffing.models import CorporateClient, Order, OrderStatus, Shift, Site
from backend.staffing.selectors import clients_for, orders_for
from backend.staffing.services.orders import client_create, order_cancel, order_create, order_hand_off, site_create
from tests.staffing.world import dispatch_world, staffing_world

pytestmark = pytest.mark.django_db
LEGAL = {"inn": "7707083893", "kpp": "773601001", "ogrn": "1027700132195"}


def _refused(call):
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value


def test_a_client_with_a_bad_inn_is_refused_and_nothing_is_stored() -> None:
    world = staffing_world(0)
    error = _refused(
        lambda: client_create(
            user=world.dispatcher, organization_id=world.franchise.pk, name="X", **{**LEGAL, "inn": "7707083894"}
        )
    )
    assert (error.status, error.code, list(error.fields)) == (422, "invalid_inn", ["inn"])
    assert not CorporateClient.objects.exists()


def test_the_same_legal_entity_twice_is_a_conflict() -> None:
    world = staffing_world(0)
    client_create(user=world.dispatcher, organization_id=world.franchise.pk, name="A", **LEGAL)
    error = _refused(
        lambda: client_create(user=world.dispatcher, organization_id=world.franchise.pk, name="B", **LEGAL)
    )
    assert error.code == "client_exists" and CorporateClient.objects.count() == 1


def _site(world, zone: str = "Europe/Moscow") -> Site:
    client = client_create(user=world.dispatcher, organization_id=world.franchise.pk, name="A", **LEGAL)
    return site_create(
        user=world.dispatcher,
        client_id=client.pk,
        name="Yard",
        address="Lenina 1",
        latitude=Decimal("55.75"),
        longitude=Decimal("37.61"),
        conditions="outdoor",
        time_zone=zone,
    )


def test_a_night_order_becomes_one_shift_per_day_in_the_site_zone() -> None:
    world = staffing_world(0)
    site = _site(world)
    first = (timezone.now() + dt.timedelta(days=5)).date()
    order = order_create(
        user=world.dispatcher,
        site_id=site.pk,
        title="Night",
        start_date=first,
        end_date=first + dt.timedelta(days=2),
        shift_start=dt.time(20),
        shift_end=dt.time(8),
        headcount=4,
        pay_rate=Decimal("500"),
        bill_rate=Decimal("800"),
        skills=["loader"],
    )
    shifts = list(Shift.objects.filter(order=order).order_by("date"))
    assert [s.date for s in shifts] == [first + dt.timedelta(days=i) for i in range(3)]
    # Moscow is UTC+3: 20:00 local is 17:00 UTC, and the shift ends at 05:00 UTC next morning.
    assert shifts[0].starts_at == dt.datetime.combine(first, dt.time(17), tzinfo=dt.UTC)
    assert shifts[0].ends_at == dt.datetime.combine(first + dt.timedelta(days=1), dt.time(5), tzinfo=dt.UTC)
    assert all(s.headcount == 4 and s.organization_id == world.franchise.pk for s in shifts)
    assert order.status == OrderStatus.DRAFT and order.client_id == site.client_id


def test_bad_order_input_changes_nothing() -> None:
    world = staffing_world(0)
    site = _site(world)
    day = (timezone.now() + dt.timedelta(days=5)).date()
    error = _refused(
        lambda: order_create(
            user=world.dispatcher,
            site_id=site.pk,
            title="X",
            start_date=day,
            end_date=day,
            shift_start=dt.time(8),
            shift_end=dt.time(20),
            headcount=3,
            pay_rate=Decimal("500"),
            bill_rate=Decimal("400"),
        )
    )
    assert error.code == "invalid_rates"
    error = _refused(
        lambda: order_create(
            user=world.dispatcher,
            site_id=site.pk,
            title="X",
            start_date=day,
            end_date=day - dt.timedelta(days=1),
            shift_start=dt.time(8),
            shift_end=dt.time(20),
            headcount=3,
            pay_rate=Decimal("1"),
            bill_rate=Decimal("2"),
        )
    )
    assert error.code == "invalid_dates"
    assert not Order.objects.exists() and not Shift.objects.exists()


def test_a_franchise_sees_only_its_own_clients_and_orders() -> None:
    world = dispatch_world(n_workers=0)
    sibling_dispatcher = world.dispatcher.__class__.objects.get(pk=world.hq_dispatcher.pk)  # HQ sees franchises
    assert list(clients_for(user=sibling_dispatcher)) == [world.extra["client"]]
    from tests.conftest import member
    from tests.staffing.world import agency

    other = agency("Agency South", parent=world.hq)
    stranger = member(other, "dispatcher")
    assert not clients_for(user=stranger).exists() and not orders_for(user=stranger).exists()
    error = _refused(
        lambda: site_create(
            user=stranger,
            client_id=world.extra["client"].pk,
            name="x",
            address="y",
            latitude=Decimal(1),
            longitude=Decimal(1),
            conditions="outdoor",
        )
    )
    assert error.status == 404


def test_the_hq_hands_an_order_to_a_franchise_with_a_copy_of_client_and_site() -> None:
    world = staffing_world(0)
    client = client_create(user=world.hq_dispatcher, organization_id=world.hq.pk, name="Big", **LEGAL)
    site = site_create(
        user=world.hq_dispatcher,
        client_id=client.pk,
        name="Yard",
        address="Lenina 1",
        latitude=Decimal("55.75"),
        longitude=Decimal("37.61"),
        conditions="warm_warehouse",
    )
    day = (timezone.now() + dt.timedelta(days=5)).date()
    order = order_create(
        user=world.hq_dispatcher,
        site_id=site.pk,
        title="Loaders",
        start_date=day,
        end_date=day,
        shift_start=dt.time(8),
        shift_end=dt.time(20),
        headcount=2,
        pay_rate=Decimal("400"),
        bill_rate=Decimal("600"),
    )
    handed = order_hand_off(user=world.hq_dispatcher, order_id=order.pk, franchise_id=world.franchise.pk)
    assert (handed.organization_id, handed.handed_from_id) == (world.franchise.pk, world.hq.pk)
    assert handed.client.organization_id == world.franchise.pk and handed.client.inn == client.inn
    assert handed.site.organization_id == world.franchise.pk and handed.site.conditions == "warm_warehouse"
    assert Shift.objects.get(order=order).organization_id == world.franchise.pk
    assert list(orders_for(user=world.dispatcher)) == [handed]
    # the franchise still does not see the HQ's own client
    assert list(clients_for(user=world.dispatcher)) == [handed.client]
    # a franchise cannot hand orders around
    error = _refused(lambda: order_hand_off(user=world.dispatcher, order_id=order.pk, franchise_id=world.franchise.pk))
    assert error.status == 404


def test_cancelling_withdraws_live_offers() -> None:
    from backend.staffing.models import Offer, OfferStatus, SolverRun
    from backend.staffing.services.dispatch import dispatch_run_execute
    from backend.staffing.services.orders import order_confirm

    world = dispatch_world(n_workers=6, headcount=2)
    order = order_confirm(user=world.dispatcher, order_id=world.extra["order"].pk)
    dispatch_run_execute(run_id=SolverRun.objects.get(order=order).pk)
    live = Offer.objects.exclude(status=OfferStatus.WITHDRAWN).count()
    assert live > 0
    cancelled = order_cancel(user=world.dispatcher, order_id=order.pk, reason="client moved the date")
    assert cancelled.status == OrderStatus.CANCELLED
    assert not Offer.objects.exclude(status=OfferStatus.WITHDRAWN).exists()
    assert Shift.objects.get(order=order).status == "cancelled"
    error = _refused(lambda: order_cancel(user=world.dispatcher, order_id=order.pk))
    assert error.code == "order_closed"
