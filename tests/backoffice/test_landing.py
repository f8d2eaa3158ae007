"""The back office's landing page shows today's numbers of the staff user's own organizations."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client as DjangoClient
from django.urls import reverse

from backend.booking.models import AppointmentStatus
from backend.booking.services.appointments import appointment_create_for_customer, appointment_status_set
from backend.core.clock import clock_at
from backend.organizations.models import Role
from backend.staffing.models import Offer, OfferStatus
from tests.booking.appointments_world import NOW, local, world_build
from tests.conftest import member
from tests.staffing.world import order_with_shift, staffing_world

pytestmark = pytest.mark.django_db


def figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert match, html[:2000]
    return match.group(1).strip()


def landing(user: Any, at: dt.datetime) -> str:
    web = DjangoClient()
    web.force_login(user)
    with clock_at(at):
        response = web.get(reverse("admin:index"))
    assert response.status_code == 200
    return response.content.decode()


def test_the_landing_page_shows_today_in_the_users_own_organizations_only() -> None:
    mine, theirs = world_build("Salon A"), world_build("Salon B")
    visits = {}
    for w in (mine, theirs):
        visits[w.org.pk] = appointment_create_for_customer(
            user=w.customer, branch_id=w.branch.pk, service_ids=[w.haircut.pk], start=local(2, 10), now=NOW
        )
    appointment_create_for_customer(
        user=mine.customer, branch_id=mine.branch.pk, service_ids=[mine.colouring.pk], start=local(2, 15), now=NOW
    )
    manager = member(mine.org, Role.MANAGER, is_staff=True)
    done = visits[mine.org.pk]
    for status, at in ((AppointmentStatus.ARRIVED, local(2, 10)), (AppointmentStatus.DONE, local(2, 11))):
        appointment_status_set(user=manager, appointment_id=done.pk, status=status, now=at)

    html = landing(manager, local(2, 12))

    assert figure(html, "bookings") == "2"  # two visits today in Salon A; Salon B's is not counted
    done.refresh_from_db()
    price = f"{done.price:,.0f}".replace(",", "")
    assert re.sub(r"\D", "", figure(html, "revenue")) == price
    assert re.sub(r"\D", "", figure(html, "average-check")) == price
    # 60 + 90 booked minutes over the organization's three masters' 8 hours each (two branches)
    assert figure(html, "load") == f"{round(100 * 150 / (3 * 480))}%"
    assert figure(html, "orders") == "0"  # a salon manager sees no staffing
    # another day: nothing booked
    assert figure(landing(manager, local(5, 12)), "bookings") == "0"


def test_a_dispatcher_sees_todays_orders_and_fill_rate() -> None:
    world = staffing_world(3)
    today = dt.date(2027, 3, 2)
    _order, shift = order_with_shift(world.franchise, headcount=4, day=today)
    _other, _shift = order_with_shift(
        world.franchise, headcount=2, day=today + dt.timedelta(days=1), site_=shift.order.site
    )
    for worker, status in zip(
        world.workers, (OfferStatus.ACCEPTED, OfferStatus.DECLINED, OfferStatus.CONFIRMED), strict=True
    ):
        Offer.objects.create(organization=world.franchise, shift=shift, worker=worker, status=status, wave=1)
    dispatcher = member(world.franchise, Role.DISPATCHER, is_staff=True)

    html = landing(dispatcher, dt.datetime(2027, 3, 2, 9, tzinfo=dt.UTC))

    assert figure(html, "orders") == "1"
    assert figure(html, "fill-rate").startswith("50% (2/4)")
    assert figure(html, "bookings") == "0"
