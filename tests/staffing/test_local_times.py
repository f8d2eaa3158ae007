"""Every time a worker reads is the wall-clock time of the site they travel to, not UTC: the call-up, the
confirmation request and the bot's list of shifts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.notifications.models import OutboxMessage
from backend.staffing.local_time import shift_span
from backend.staffing.models import Offer, OfferStatus
from backend.staffing.services import confirmations
from backend.staffing.services.offers import offer_accept, offers_send
from bots.handlers import workers_actions
from tests.staffing.world import order_with_shift, pool_worker, site, staffing_world

pytestmark = pytest.mark.django_db


def _almaty_shift(world):  # type: ignore[no-untyped-def]
    yard = site(world.franchise)
    yard.time_zone = "Asia/Almaty"  # UTC+5 all year
    yard.save(update_fields=["time_zone"])
    day = (timezone.now() + dt.timedelta(days=3)).date()
    return order_with_shift(world.franchise, call_cap=1, day=day, site_=yard)[1]


def test_a_call_up_shows_the_shift_in_the_sites_zone() -> None:
    # given a shift 08:00-20:00 UTC at a site in Almaty
    world = staffing_world(0)
    shift = _almaty_shift(world)
    me = pool_worker(world.hq)
    offer = Offer.objects.create(organization=world.franchise, shift=shift, worker=me, status=OfferStatus.STANDBY)
    # when the call-up is sent
    offers_send(shift=shift, offers=[offer], wave=1)
    # then the worker reads 13:00-01:00, the clock on the warehouse wall, and no "UTC"
    message = OutboxMessage.objects.get(user=me.user, payload__kind="staffing.offer")
    assert f"{shift.starts_at:%d.%m} 13:00-01:00" in message.body
    assert "08:00" not in message.body and "UTC" not in message.body
    assert shift_span(shift) == f"{shift.starts_at:%d.%m} 13:00-01:00"


def test_the_confirmation_request_and_the_bots_shift_list_use_the_sites_zone() -> None:
    world = staffing_world(0)
    shift = _almaty_shift(world)
    me = pool_worker(world.hq)
    offer = Offer.objects.create(organization=world.franchise, shift=shift, worker=me, status=OfferStatus.STANDBY)
    offers_send(shift=shift, offers=[offer], wave=1)
    offer_accept(user=me.user, offer_id=offer.pk)
    # when the confirmation sweep runs a day before the shift
    confirmations.confirmations_request(now=shift.starts_at - dt.timedelta(hours=20))
    request = OutboxMessage.objects.get(user=me.user, payload__kind="staffing.confirm_request")
    assert "13:00" in request.body and "UTC" not in request.body
    # and the bot's "my shifts" line says the same
    reply = workers_actions.my_shifts(user=me.user)
    text = reply.messages[0][0]
    assert "13:00-01:00" in text and "UTC" not in text
