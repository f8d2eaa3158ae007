"""What the Telegram bot needs from the staffing services: call-ups and day-before questions carry inline buttons
(for a worker who linked Telegram, never in an SMS), the yes/no answer to the day-before question, availability
by whole days in the pool's time zone, and the month's earnings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backend.core.exceptions import ApplicationError
from backend.core.models import Event, EventAction
from backend.notifications.models import Channel, OutboxMessage
from backend.staffing.models import Attendance, Offer, OfferStatus, Shift, WorkerAvailability
from backend.staffing.services.availability_days import (
    DayState,
    availability_day_set,
    availability_days,
)
from backend.staffing.services.buttons import CALLBACK_DATA_MAX_BYTES, confirm_keyboard, offer_keyboard
from backend.staffing.services.confirmations import confirmation_answer, confirmations_request
from backend.staffing.services.money import worker_earnings_month
from backend.staffing.services.offers import offer_accept, offers_send
from tests.staffing.world import order_with_shift, pool_worker, site, staffing_world

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")


def _shift_with_offers(*, places: int, offered: int, standby: int = 0, telegram: bool = True):
    world = staffing_world(0)
    _, shift = order_with_shift(world.franchise, call_cap=places)
    offers = [
        Offer.objects.create(
            organization=world.franchise,
            shift=shift,
            worker=pool_worker(world.hq, km_north=1 + i, telegram=telegram),
            position=i + 1,
            is_standby=i >= offered,
            status=OfferStatus.STANDBY,
        )
        for i in range(offered + standby)
    ]
    offers_send(shift=shift, offers=offers[:offered], wave=1)
    return world, shift, offers


def _buttons(message: OutboxMessage) -> list[str]:
    return [b["callback_data"] for row in message.payload["reply_markup"]["inline_keyboard"] for b in row]


# --- buttons on the messages -----------------------------------------------------------------------------------


def test_a_call_up_by_telegram_carries_accept_and_decline_buttons_and_an_sms_none() -> None:
    _, _, by_telegram = _shift_with_offers(places=1, offered=1)
    _, _, by_sms = _shift_with_offers(places=1, offered=1, telegram=False)
    tg = OutboxMessage.objects.get(payload__offer_id=by_telegram[0].pk, payload__kind="staffing.offer")
    sms = OutboxMessage.objects.get(payload__offer_id=by_sms[0].pk, payload__kind="staffing.offer")
    assert tg.channel == Channel.TELEGRAM
    assert _buttons(tg) == [f"offer:accept:{by_telegram[0].pk}", f"offer:decline:{by_telegram[0].pk}"]
    assert "buttons below" in tg.body
    assert "Accept in the app" in tg.payload["sms_body"]  # the wording without buttons, for an SMS fallback
    assert sms.channel == Channel.SMS and "reply_markup" not in sms.payload and "in the app" in sms.body


def test_button_labels_speak_the_workers_language_and_data_fits_telegrams_limit() -> None:
    from django.utils import translation

    with translation.override("en"):
        english = offer_keyboard(10**18)
    assert [b["text"] for b in english["inline_keyboard"][0]] == ["Accept", "Decline"]
    for markup in (english, confirm_keyboard(10**18)):
        for row in markup["inline_keyboard"]:
            assert all(len(b["callback_data"].encode()) <= CALLBACK_DATA_MAX_BYTES for b in row)


def test_the_day_before_question_by_telegram_carries_yes_and_no_buttons() -> None:
    _, shift, offers = _shift_with_offers(places=2, offered=2)
    for offer in offers:
        offer_accept(user=offer.worker.user, offer_id=offer.pk)
    asked = confirmations_request(now=shift.starts_at - dt.timedelta(hours=20))
    assert asked == 2
    message = OutboxMessage.objects.get(payload__offer_id=offers[0].pk, payload__kind="staffing.confirm_request")
    assert _buttons(message) == [f"shift:confirm:{offers[0].pk}:yes", f"shift:confirm:{offers[0].pk}:no"]
    assert message.payload["sms_body"].startswith("Please confirm your shift Loaders")


# --- the answer to the day-before question ---------------------------------------------------------------------


def test_yes_confirms_the_place_and_no_gives_it_to_the_next_on_standby() -> None:
    _, shift, offers = _shift_with_offers(places=2, offered=2, standby=1)
    for offer in offers[:2]:
        offer_accept(user=offer.worker.user, offer_id=offer.pk)
    now = shift.starts_at - dt.timedelta(hours=20)
    confirmations_request(now=now)

    yes = confirmation_answer(user=offers[0].worker.user, offer_id=offers[0].pk, come=True, now=now)
    no = confirmation_answer(user=offers[1].worker.user, offer_id=offers[1].pk, come=False, now=now)
    again = confirmation_answer(user=offers[1].worker.user, offer_id=offers[1].pk, come=False, now=now)

    shift.refresh_from_db()
    offers[2].refresh_from_db()
    assert (yes.status, no.status, again.status) == (OfferStatus.CONFIRMED, OfferStatus.DECLINED, OfferStatus.DECLINED)
    assert (shift.accepted_count, shift.confirmed_count) == (1, 1)
    assert offers[2].status == OfferStatus.OFFERED  # the standby worker is offered the freed place at once


def test_no_to_an_open_call_up_or_to_someone_elses_place_is_refused_and_changes_nothing() -> None:
    _, shift, offers = _shift_with_offers(places=2, offered=2)
    offer_accept(user=offers[0].worker.user, offer_id=offers[0].pk)
    events = Event.objects.count()

    with pytest.raises(ApplicationError) as open_one:
        confirmation_answer(user=offers[1].worker.user, offer_id=offers[1].pk, come=False)
    with pytest.raises(ApplicationError) as foreign:
        confirmation_answer(user=offers[1].worker.user, offer_id=offers[0].pk, come=False)

    assert open_one.value.code == "offer_not_accepted"
    assert foreign.value.status == 404
    shift.refresh_from_db()
    assert shift.accepted_count == 1 and Event.objects.count() == events
    assert list(Offer.objects.filter(shift=shift).order_by("pk").values_list("status", flat=True)) == [
        OfferStatus.ACCEPTED,
        OfferStatus.OFFERED,
    ]


def test_no_after_the_release_says_the_confirmation_is_closed() -> None:
    _, _shift, offers = _shift_with_offers(places=1, offered=1)
    offer_accept(user=offers[0].worker.user, offer_id=offers[0].pk)
    Offer.objects.filter(pk=offers[0].pk).update(status=OfferStatus.RELEASED)
    with pytest.raises(ApplicationError) as closed:
        confirmation_answer(user=offers[0].worker.user, offer_id=offers[0].pk, come=False)
    assert closed.value.code == "confirmation_closed"


# --- availability by days --------------------------------------------------------------------------------------


def _worker():
    world = staffing_world(1)
    return world.workers[0]


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=MSK)


def test_a_free_day_is_one_window_over_the_local_day_and_busy_days_cut_windows_apart() -> None:
    worker = _worker()
    now = timezone.now()
    today, tomorrow, after = (now.astimezone(MSK).date() + dt.timedelta(days=i) for i in range(3))

    for day in (today, tomorrow, after):
        availability_day_set(user=worker.user, day=day, free=True, now=now)
    windows = list(WorkerAvailability.objects.filter(worker=worker).values_list("starts_at", "ends_at"))
    assert windows == [(now, _local_midnight(after + dt.timedelta(days=1)))]  # merged: from now to the third night

    state = availability_day_set(user=worker.user, day=tomorrow, free=False, now=now)

    assert state.state == DayState.BUSY
    windows = sorted(WorkerAvailability.objects.filter(worker=worker).values_list("starts_at", "ends_at"))
    assert windows == [
        (now, _local_midnight(tomorrow)),
        (_local_midnight(after), _local_midnight(after + dt.timedelta(days=1))),
    ]
    days = availability_days(user=worker.user, days=4, now=now)
    assert [(d.day, d.state) for d in days] == [
        (today, DayState.FREE),
        (tomorrow, DayState.BUSY),
        (after, DayState.FREE),
        (after + dt.timedelta(days=1), DayState.BUSY),
    ]
    assert Event.objects.filter(entity_type="staffing.workeravailability", action=EventAction.DELETE).exists()


def test_a_day_partly_covered_says_partly_with_its_window() -> None:
    from backend.staffing.services.pool import availability_declare

    worker = _worker()
    now = timezone.now()
    tomorrow = now.astimezone(MSK).date() + dt.timedelta(days=1)
    ten = dt.datetime.combine(tomorrow, dt.time(10), tzinfo=MSK)
    availability_declare(user=worker.user, windows=[(ten, ten + dt.timedelta(hours=4))])

    day = availability_days(user=worker.user, days=2, now=now)[1]

    assert day.day == tomorrow and day.state == DayState.PARTLY
    assert [(s.hour, e.hour) for s, e in day.windows] == [(10, 14)]


def test_a_day_in_the_past_or_beyond_the_horizon_is_refused_and_changes_nothing() -> None:
    worker = _worker()
    now = timezone.now()
    for day in (now.date() - dt.timedelta(days=2), now.date() + dt.timedelta(days=200)):
        with pytest.raises(ApplicationError) as refused:
            availability_day_set(user=worker.user, day=day, free=True, now=now)
        assert refused.value.code == "invalid_availability" and refused.value.status == 422
    assert not WorkerAvailability.objects.filter(worker=worker).exists()


def test_someone_outside_any_pool_has_no_days() -> None:
    from tests.conftest import member
    from tests.staffing.world import agency

    stranger = member(agency("Other"))
    with pytest.raises(ApplicationError) as refused:
        availability_days(user=stranger)
    assert refused.value.status == 404


# --- earnings of the month -------------------------------------------------------------------------------------


def test_the_months_earnings_count_this_months_worked_shifts_in_the_pool_time_zone() -> None:
    world = staffing_world(1)
    worker = world.workers[0]
    now = dt.datetime(2030, 3, 20, 12, tzinfo=dt.UTC)
    where = site(world.franchise)
    for day, hours in ((dt.date(2030, 2, 27), "8.00"), (dt.date(2030, 3, 2), "10.00"), (dt.date(2030, 3, 9), "6.50")):
        _, shift = order_with_shift(world.franchise, day=day, call_cap=1, site_=where)
        offer = Offer.objects.create(
            organization=world.franchise, shift=shift, worker=worker, status=OfferStatus.COMPLETED, wave=1
        )
        Shift.objects.filter(pk=shift.pk).update(accepted_count=1)
        Attendance.objects.create(
            organization=world.franchise,
            offer=offer,
            shift=shift,
            worker=worker,
            hours=Decimal(hours),
            pay_amount=Decimal(hours) * Decimal("400"),
            bill_amount=Decimal(hours) * Decimal("650"),
        )

    first, today, earnings = worker_earnings_month(user=worker.user, now=now)

    assert (first, today) == (dt.date(2030, 3, 1), dt.date(2030, 3, 20))
    assert earnings.hours == Decimal("16.50") and earnings.totals == {"RUB": Decimal("6600.00")}
    assert [line.date for line in earnings.lines] == [dt.date(2030, 3, 2), dt.date(2030, 3, 9)]


# --- the worker's short lists ----------------------------------------------------------------------------------


def test_open_offers_leave_out_expired_answered_and_other_workers_offers() -> None:
    from backend.staffing.selectors import open_offers_of_worker, upcoming_shifts_of_worker

    _, shift, offers = _shift_with_offers(places=3, offered=3)
    me = offers[0].worker.user
    assert [o.pk for o in open_offers_of_worker(user=me)] == [offers[0].pk]
    Offer.objects.filter(pk=offers[0].pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert list(open_offers_of_worker(user=me)) == []

    offer_accept(user=offers[1].worker.user, offer_id=offers[1].pk)
    assert [o.pk for o in upcoming_shifts_of_worker(user=offers[1].worker.user)] == [offers[1].pk]
    assert list(upcoming_shifts_of_worker(user=offers[1].worker.user, now=shift.ends_at)) == []
    assert list(upcoming_shifts_of_worker(user=offers[2].worker.user)) == []
