"""A real call-up from the staffing service to a worker who blocked the bot: it reaches them by SMS, once; the
standby notice that follows does not (it does not matter enough to pay for an SMS)."""

from __future__ import annotations

import pytest

from backend.notifications.backends import outbox_memory
from backend.notifications.dispatch import outbox_deliver_due
from backend.notifications.models import Channel, OutboxMessage, OutboxStatus
from backend.staffing.models import Offer, OfferStatus
from backend.staffing.services.offers import offer_accept, offers_send
from tests.staffing.world import order_with_shift, pool_worker, staffing_world

from .telegram_fake import TimedFakeBotApi, deliver_until_settled
from .telegram_fake import telegram_api as telegram_api

pytestmark = pytest.mark.django_db


def test_a_call_up_to_a_worker_who_blocked_the_bot_goes_by_sms_and_the_standby_notice_does_not(
    telegram_api: TimedFakeBotApi,
) -> None:
    # given a shift with one place offered to two Telegram-linked workers, the second of whom blocked the bot
    world = staffing_world(0)
    _, shift = order_with_shift(world.franchise, call_cap=1)
    workers = [pool_worker(world.hq, km_north=1 + i, telegram=True) for i in range(2)]
    offers = [
        Offer.objects.create(
            organization=world.franchise, shift=shift, worker=w, position=i + 1, status=OfferStatus.STANDBY
        )
        for i, w in enumerate(workers)
    ]
    blocked = workers[1].user
    telegram_api.fail_blocked(chat_id=blocked.telegram_user_id, times=5)
    # when the call-ups are sent and delivered
    offers_send(shift=shift, offers=offers, wave=1)
    deliver_until_settled()
    # then the call-ups were written as messages that matter; the blocked worker got theirs by SMS, once
    call_ups = OutboxMessage.objects.filter(channel=Channel.TELEGRAM, payload__kind="staffing.offer")
    assert call_ups.count() == 2 and all(m.sms_fallback for m in call_ups)
    [sms] = OutboxMessage.objects.filter(channel=Channel.SMS)
    assert sms.recipient == blocked.phone and sms.status == OutboxStatus.SENT
    assert sms.fallback_for == call_ups.get(user=blocked)
    # in the SMS wording (the Telegram one asks to "answer with the buttons below", which an SMS has none of)
    telegram_text = call_ups.get(user=blocked).body
    assert "buttons" in telegram_text and "buttons" not in sms.body
    assert sms.body == call_ups.get(user=blocked).payload["sms_body"]
    # when the other worker takes the place and the blocked one is moved to standby
    offer_accept(user=workers[0].user, offer_id=offers[0].pk)
    deliver_until_settled()
    outbox_deliver_due(worker="w2")
    # then the standby notice is not worth an SMS: it just failed, and no second SMS went out
    notice = OutboxMessage.objects.get(payload__kind="staffing.shift_full")
    assert (notice.sms_fallback, notice.status) == (False, OutboxStatus.FAILED)
    assert [r.recipient for r in outbox_memory] == [blocked.phone]
    # and Telegram was called once for the blocked worker (the notice was stopped before the wire)
    assert len(telegram_api.calls_to("sendMessage", chat_id=blocked.telegram_user_id)) == 1
