"""Offers: first-come acceptance capped at the planned call count, the kind refusal of a late accepter who stays on
standby, declines and time-outs that call the next worker from standby, and how workers hear about it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from backend.core.exceptions import ApplicationError
from backend.core.models import Event
from backend.notifications.models import Channel, OutboxMessage
from backend.staffing.models import Offer, OfferStatus, Shift
from backend.staffing.services.offers import offer_accept, offer_decline, offers_expire
from tests.staffing.world import order_with_shift, pool_worker, staffing_world

pytestmark = pytest.mark.django_db


def _offered_shift(*, places: int, offered: int, standby: int = 0, telegram: bool = False) -> tuple[Shift, list[Offer]]:
    """A shift with ``places`` planned calls, ``offered`` offers out (wave 1) and ``standby`` in line."""
    from backend.staffing.services.offers import offers_send

    world = staffing_world(0)
    _, shift = order_with_shift(world.franchise, call_cap=places)
    offers = []
    for i in range(offered + standby):
        worker = pool_worker(world.hq, km_north=1 + i, telegram=telegram)
        offers.append(
            Offer.objects.create(
                organization=world.franchise,
                shift=shift,
                worker=worker,
                position=i + 1,
                is_standby=i >= offered,
                status=OfferStatus.STANDBY,
            )
        )
    offers_send(shift=shift, offers=offers[:offered], wave=1)
    return shift, offers


def _refused(call: Any) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value


def test_accept_takes_a_place_and_is_a_no_op_the_second_time() -> None:
    shift, offers = _offered_shift(places=2, offered=3)
    accepted = offer_accept(user=offers[0].worker.user, offer_id=offers[0].pk)
    again = offer_accept(user=offers[0].worker.user, offer_id=offers[0].pk)
    shift.refresh_from_db()
    assert accepted.status == again.status == OfferStatus.ACCEPTED and shift.accepted_count == 1


def test_the_last_place_moves_the_waiting_offers_to_standby_and_a_late_accepter_is_told_kindly() -> None:
    shift, offers = _offered_shift(places=2, offered=4)
    offer_accept(user=offers[0].worker.user, offer_id=offers[0].pk)
    offer_accept(user=offers[1].worker.user, offer_id=offers[1].pk)
    late = offers[2]
    events_before = Event.objects.count()
    error = _refused(lambda: offer_accept(user=late.worker.user, offer_id=late.pk))
    assert (error.status, error.code) == (409, "shift_full")
    assert "standby" in error.message and "first" in error.message
    late.refresh_from_db()
    shift.refresh_from_db()
    assert late.status == OfferStatus.STANDBY and late.offered_at is not None
    assert shift.accepted_count == 2 and Event.objects.count() == events_before


def test_a_decline_offers_the_place_to_the_next_on_standby() -> None:
    _shift, offers = _offered_shift(places=2, offered=2, standby=2)
    offer_decline(user=offers[0].worker.user, offer_id=offers[0].pk, reason="ill")
    statuses = [Offer.objects.get(pk=o.pk).status for o in offers]
    assert statuses == [OfferStatus.DECLINED, OfferStatus.OFFERED, OfferStatus.OFFERED, OfferStatus.STANDBY]
    nxt = Offer.objects.get(pk=offers[2].pk)
    assert nxt.wave == 2 and nxt.expires_at is not None
    assert OutboxMessage.objects.filter(payload__offer_id=nxt.pk, payload__kind="staffing.offer").count() == 1


def test_a_standby_who_waited_comes_before_the_plan_standby_when_a_place_frees_up() -> None:
    _shift, offers = _offered_shift(places=1, offered=2, standby=1)
    offer_accept(user=offers[0].worker.user, offer_id=offers[0].pk)  # full: offers[1] goes to standby
    offer_decline(user=offers[0].worker.user, offer_id=offers[0].pk)  # gives the place back
    assert Offer.objects.get(pk=offers[1].pk).status == OfferStatus.OFFERED
    assert Offer.objects.get(pk=offers[2].pk).status == OfferStatus.STANDBY


def test_a_standby_who_was_offered_before_may_take_a_freed_place() -> None:
    shift, offers = _offered_shift(places=1, offered=2)
    offer_accept(user=offers[0].worker.user, offer_id=offers[0].pk)
    shift.call_cap = 2  # a re-plan raised the planned calls
    shift.save()
    taken = offer_accept(user=offers[1].worker.user, offer_id=offers[1].pk)
    assert taken.status == OfferStatus.ACCEPTED


def test_time_out_expires_the_offer_and_calls_standby() -> None:
    shift, offers = _offered_shift(places=1, offered=1, standby=1)
    later = timezone.now() + dt.timedelta(hours=2)
    assert offers_expire(shift_id=shift.pk, now=later) == 1
    assert Offer.objects.get(pk=offers[0].pk).status == OfferStatus.EXPIRED
    assert Offer.objects.get(pk=offers[1].pk).status == OfferStatus.OFFERED
    error = _refused(lambda: offer_accept(user=offers[0].worker.user, offer_id=offers[0].pk))
    assert error.code == "offer_not_open"
    assert offers_expire(shift_id=shift.pk, now=later) == 0  # idempotent


def test_an_answer_after_the_deadline_but_before_the_sweep_is_refused() -> None:
    shift, offers = _offered_shift(places=1, offered=1)
    error = _refused(
        lambda: offer_accept(
            user=offers[0].worker.user, offer_id=offers[0].pk, now=timezone.now() + dt.timedelta(hours=2)
        )
    )
    assert error.code == "offer_expired" and Shift.objects.get(pk=shift.pk).accepted_count == 0


def test_an_offer_of_someone_else_is_not_found() -> None:
    _shift, offers = _offered_shift(places=1, offered=2)
    error = _refused(lambda: offer_accept(user=offers[1].worker.user, offer_id=offers[0].pk))
    assert (error.status, error.code) == (404, "not_found")
    assert Offer.objects.get(pk=offers[0].pk).status == OfferStatus.OFFERED


def test_no_two_places_at_the_same_time() -> None:
    shift, offers = _offered_shift(places=2, offered=1)
    worker = offers[0].worker
    _, other = order_with_shift(shift.organization, day=shift.date, call_cap=1, site_=shift.order.site)
    other_offer = Offer.objects.create(
        organization=shift.organization, shift=other, worker=worker, status=OfferStatus.ACCEPTED
    )
    Shift.objects.filter(pk=other.pk).update(accepted_count=1)
    error = _refused(lambda: offer_accept(user=worker.user, offer_id=offers[0].pk))
    assert error.code == "overlapping_shift" and other_offer.status == OfferStatus.ACCEPTED


def test_offers_go_by_telegram_when_linked_and_sms_otherwise() -> None:
    _, by_telegram = _offered_shift(places=1, offered=1, telegram=True)
    _, by_sms = _offered_shift(places=1, offered=1)
    tg = OutboxMessage.objects.get(payload__offer_id=by_telegram[0].pk)
    sms = OutboxMessage.objects.get(payload__offer_id=by_sms[0].pk)
    assert (tg.channel, tg.recipient) == (Channel.TELEGRAM, str(by_telegram[0].worker.user.telegram_user_id))
    assert (sms.channel, sms.recipient) == (Channel.SMS, by_sms[0].worker.user.phone)


def test_the_websocket_event_goes_out_only_after_commit(django_capture_on_commit_callbacks: Any) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from backend.realtime.groups import user_group

    world = staffing_world(0)
    _, shift = order_with_shift(world.franchise, call_cap=1)
    worker = pool_worker(world.hq)
    offer = Offer.objects.create(organization=world.franchise, shift=shift, worker=worker, position=1)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(worker.user_id), channel)
    from backend.staffing.services.offers import offers_send

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        offers_send(shift=shift, offers=[offer], wave=1)
    assert callbacks  # nothing was pushed inside the transaction ...
    for callback in callbacks:
        callback()  # ... and the commit sends it
    received = async_to_sync(layer.receive)(channel)
    assert received["event"]["type"] == "staffing.offer" and received["event"]["offer_id"] == offer.pk


def test_sending_queues_the_expiry_sweep_for_the_answer_deadline(settings: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    settings.STAFFING_OFFER_TTL_MINUTES = 45
    before = timezone.now()
    shift, offers = _offered_shift(places=1, offered=1)
    offer = Offer.objects.get(pk=offers[0].pk)
    assert dt.timedelta(minutes=44) < offer.expires_at - before <= dt.timedelta(minutes=46)
    task = DBTaskResult.objects.get(task_path__endswith="offers_expire_task")
    assert task.args_kwargs["kwargs"] == {"shift_id": shift.pk} and task.run_after == offer.expires_at


def test_workers_moved_to_standby_when_the_shift_fills_get_a_message_too() -> None:
    _shift, offers = _offered_shift(places=1, offered=3, telegram=True)
    offer_accept(user=offers[0].worker.user, offer_id=offers[0].pk)

    told = OutboxMessage.objects.filter(payload__kind="staffing.shift_full")
    assert sorted(m.payload["offer_id"] for m in told) == sorted(o.pk for o in offers[1:])
    assert {m.channel for m in told} == {Channel.TELEGRAM}
    assert all("standby" in m.body for m in told)
    # One message per offer: the outbox's dedupe key names the offer (and its wave).
    assert set(told.values_list("dedupe_key", flat=True)) == {f"staffing.offer:{o.pk}:shift_full:1" for o in offers[1:]}
