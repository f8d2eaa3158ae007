"""The worker side of the bot below Telegram: each button and command action against the real staffing services
and database. The end-to-end conversations through PTB and the fake Bot API are in test_worker_e2e.py; these pin
the security rules on every id the callback data carries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from backend.core.models import Event
from backend.staffing.models import Attendance, Offer, OfferStatus, Shift
from backend.staffing.services.offers import offer_accept, offers_send
from bots.handlers import workers_actions as actions
from tests.staffing.world import SITE_POINT, order_with_shift, pool_worker, staffing_world

pytestmark = pytest.mark.django_db

AT_SITE = (float(SITE_POINT[0]) + 0.001, float(SITE_POINT[1]))  # about 111 m north of the site
FAR = (float(SITE_POINT[0]) + 0.02, float(SITE_POINT[1]))


def _call_up(*, places: int = 1, offered: int = 2, standby: int = 0):
    world = staffing_world(0)
    _, shift = order_with_shift(world.franchise, call_cap=places)
    offers = [
        Offer.objects.create(
            organization=world.franchise,
            shift=shift,
            worker=pool_worker(world.hq, km_north=1 + i, telegram=True),
            position=i + 1,
            is_standby=i >= offered,
            status=OfferStatus.STANDBY,
        )
        for i in range(offered + standby)
    ]
    offers_send(shift=shift, offers=offers[:offered], wave=1)
    return world, shift, offers


def _statuses(shift: Shift) -> list[str]:
    return list(Offer.objects.filter(shift=shift).order_by("pk").values_list("status", flat=True))


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def test_accept_takes_the_place_and_says_so() -> None:
    _, shift, offers = _call_up(places=1, offered=2)
    reply = actions.offer_answer(user=offers[0].worker.user, action="accept", offer_id=offers[0].pk)
    assert reply.answer == "The place is yours!" and reply.status.startswith("✅ You accepted: Loaders")
    assert reply.markup is None and not reply.keep_markup  # the buttons go
    assert _statuses(shift) == [OfferStatus.ACCEPTED, OfferStatus.STANDBY]


def test_the_loser_of_the_last_place_is_told_kindly_and_stays_on_standby() -> None:
    _, shift, offers = _call_up(places=1, offered=2)
    offer_accept(user=offers[0].worker.user, offer_id=offers[0].pk)
    # The loser's Accept was already on its way when the place went (their offer is on standby but was offered).
    reply = actions.offer_answer(user=offers[1].worker.user, action="accept", offer_id=offers[1].pk)
    assert reply.alert and "All places on this shift were taken a moment ago" in (reply.answer or "")
    assert reply.status == "All places were taken a moment ago. You are on standby."
    assert _statuses(shift) == [OfferStatus.ACCEPTED, OfferStatus.STANDBY]
    shift.refresh_from_db()
    assert shift.accepted_count == 1


def test_forged_offer_id_cannot_accept_someone_elses_offer_and_reads_like_a_stale_button() -> None:
    _, shift, offers = _call_up(places=2, offered=2)
    thief, victim = offers[0].worker.user, offers[1]
    events = Event.objects.count()

    forged = actions.offer_answer(user=thief, action="accept", offer_id=victim.pk)
    forged_decline = actions.offer_answer(user=thief, action="decline", offer_id=victim.pk)
    made_up = actions.offer_answer(user=thief, action="accept", offer_id=10**12)

    Offer.objects.filter(pk=offers[0].pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    expired = actions.offer_answer(user=thief, action="accept", offer_id=offers[0].pk)

    assert forged.answer == forged_decline.answer == made_up.answer == expired.answer == actions.not_available()
    assert not forged.alert and forged.markup is None
    assert _statuses(shift) == [OfferStatus.OFFERED, OfferStatus.OFFERED]
    shift.refresh_from_db()
    assert shift.accepted_count == 0 and Event.objects.count() == events


def test_a_withdrawn_offer_answers_not_available() -> None:
    _, _shift, offers = _call_up(places=1, offered=1)
    Offer.objects.filter(pk=offers[0].pk).update(status=OfferStatus.WITHDRAWN)
    for action in ("accept", "decline"):
        reply = actions.offer_answer(user=offers[0].worker.user, action=action, offer_id=offers[0].pk)
        assert reply.answer == actions.not_available()


def test_decline_offers_the_place_to_the_next_on_standby() -> None:
    _, shift, offers = _call_up(places=1, offered=1, standby=1)
    reply = actions.offer_answer(user=offers[0].worker.user, action="decline", offer_id=offers[0].pk)
    assert reply.status == "You declined this offer."
    assert _statuses(shift) == [OfferStatus.DECLINED, OfferStatus.OFFERED]


def test_the_day_before_yes_and_no_and_a_forged_confirmation() -> None:
    _, shift, offers = _call_up(places=2, offered=2)
    for offer in offers:
        offer_accept(user=offer.worker.user, offer_id=offer.pk)
    events = Event.objects.count()
    forged = actions.confirmation_reply(user=offers[0].worker.user, offer_id=offers[1].pk, come=False)
    assert forged.answer == actions.not_available() and Event.objects.count() == events

    yes = actions.confirmation_reply(user=offers[0].worker.user, offer_id=offers[0].pk, come=True)
    no = actions.confirmation_reply(user=offers[1].worker.user, offer_id=offers[1].pk, come=False)

    assert yes.status.startswith("✅ Confirmed: Loaders") and no.status.startswith("You cannot come")
    assert _statuses(shift) == [OfferStatus.CONFIRMED, OfferStatus.DECLINED]


def test_open_offers_and_my_shifts_list_only_the_callers_own() -> None:
    _, _shift, offers = _call_up(places=2, offered=2)
    offer_accept(user=offers[1].worker.user, offer_id=offers[1].pk)

    mine = actions.open_offers(user=offers[0].worker.user)
    ((text, markup),) = mine.messages
    assert text.startswith("Work offer: Loaders")
    assert [b["callback_data"] for b in markup["inline_keyboard"][0]] == [
        f"offer:accept:{offers[0].pk}",
        f"offer:decline:{offers[0].pk}",
    ]
    ((shifts_text, shifts_markup),) = actions.my_shifts(user=offers[1].worker.user).messages
    assert "Loaders" in shifts_text and "accepted" in shifts_text
    assert shifts_markup["inline_keyboard"][0][0]["callback_data"] == f"shift:confirm:{offers[1].pk}:yes"
    assert actions.my_shifts(user=offers[0].worker.user).messages[0][0] == "You have no upcoming shifts."


def _on_the_day():
    world, shift, offers = _call_up(places=1, offered=1)
    offer_accept(user=offers[0].worker.user, offer_id=offers[0].pk)
    start = timezone.now() - dt.timedelta(minutes=5)
    Shift.objects.filter(pk=shift.pk).update(starts_at=start, ends_at=start + dt.timedelta(hours=8))
    return world, shift, offers[0]


def test_check_in_by_location_reuses_the_site_radius() -> None:
    _, _shift, offer = _on_the_day()
    user = offer.worker.user

    far = actions.check_in(user=user, latitude=FAR[0], longitude=FAR[1])
    quiet = actions.check_in(user=user, latitude=FAR[0], longitude=FAR[1], quiet=True)
    assert "from the site; check in within 300 m" in far.messages[0][0]
    assert quiet.messages == [] and not Attendance.objects.exists()

    done = actions.check_in(user=user, latitude=AT_SITE[0], longitude=AT_SITE[1])
    assert done.messages[0][0].startswith("You are checked in: Loaders")
    offer.refresh_from_db()
    assert offer.status == OfferStatus.CHECKED_IN
    attendance = Attendance.objects.get(offer=offer)
    assert attendance.check_in_latitude == Decimal(str(round(AT_SITE[0], 6)))

    out = actions.check_out(user=user, latitude=AT_SITE[0], longitude=AT_SITE[1])
    assert out.messages[0][0].startswith("You checked out:")


def test_someone_not_in_a_pool_gets_a_plain_answer_everywhere() -> None:
    from tests.conftest import member
    from tests.staffing.world import agency

    stranger = member(agency("Elsewhere"), telegram_user_id=555)
    assert actions.offer_answer(user=stranger, action="accept", offer_id=1).answer == actions.not_available()
    assert actions.check_in(user=stranger, latitude=1.0, longitude=1.0).messages[0][0] == (
        "You are not in a worker pool."
    )
    assert actions.open_offers(user=stranger).messages[0][0].startswith("No open offers")
    assert actions.availability(user=stranger).messages[0][0] == "You are not in a worker pool."


def test_earnings_and_rating_with_reasons() -> None:
    _, _shift, offer = _on_the_day()
    user = offer.worker.user
    actions.check_in(user=user, latitude=AT_SITE[0], longitude=AT_SITE[1])
    rating = actions.rating(user=user).messages[0][0]
    assert rating.startswith("Reliability ") and "Why it changed:" in rating and "Came to Loaders" in rating
    assert actions.earnings(user=user).messages[0][0].startswith("No worked shifts from")


def test_availability_switches_a_day_and_shows_the_days_again() -> None:
    world = staffing_world(1)
    user = world.workers[0].user
    ((_text, markup),) = actions.availability(user=user).messages
    rows = markup["inline_keyboard"]
    assert len(rows) == 7 and all(r[0]["text"].startswith("✖") for r in rows)
    tomorrow_data = rows[1][0]["callback_data"]
    assert tomorrow_data.startswith("wa:set:") and tomorrow_data.endswith(":1")

    day = dt.datetime.strptime(tomorrow_data.split(":")[2], "%Y%m%d").date()
    reply = actions.availability_switch(user=user, day=day, free=True)
    assert reply.answer == "Saved." and reply.markup["inline_keyboard"][1][0]["text"].startswith("✅")

    past = actions.availability_switch(user=user, day=day - dt.timedelta(days=5), free=True)
    assert past.answer == actions.not_available()
