"""Telegram's limits at the fake Bot API: a 429 storm, 20 a minute per group, 30/s and 1/s per chat across threads.

Every assertion on time is on the server's arrival times of the requests (``TimedFakeBotApi``), never on how long
the test took.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, defaultdict

import pytest
from django.db import connection, connections

from backend.notifications.backends import TELEGRAM_CHAT_INTERVAL, TELEGRAM_GROUP_INTERVAL
from backend.notifications.dispatch import outbox_deliver_due
from backend.notifications.models import Channel, OutboxMessage, OutboxStatus
from backend.notifications.services import message_enqueue

from .telegram_fake import TimedFakeBotApi, deliver_until_settled, max_in_window
from .telegram_fake import telegram_api as telegram_api

# Server-side arrival times are taken after the client's slot moment; a few milliseconds of scheduling and
# loopback HTTP separate the two. The pacing margin (decision 0021) is there to absorb this.


def enqueue(key: str, chat: int | str, text: str | None = None) -> OutboxMessage:
    message, _ = message_enqueue(
        channel=Channel.TELEGRAM, recipient=str(chat), body=text or f"text {key}", dedupe_key=key
    )
    return message


@pytest.mark.django_db
def test_a_429_storm_is_waited_out_and_every_message_arrives_once(telegram_api: TimedFakeBotApi) -> None:
    # given 24 messages to 12 private chats, and a Bot API that answers the next 3 sends "429, retry after 1 s"
    messages = [enqueue(f"storm:{i}", 1000 + i % 12) for i in range(24)]
    telegram_api.fail_429(retry_after=1, times=3)
    # when delivery runs until nothing is pending
    deliver_until_settled()
    # then every message was accepted exactly once, and none was sent twice
    accepted = Counter(a.text for a in telegram_api.sends(ok=True))
    assert accepted == Counter(m.body for m in messages)
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}
    # a 429 is not the message's fault: no attempt was spent on it
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}
    # and the backend waited: after each 429 nothing reached the server for retry_after (a 429 to a private chat
    # holds the whole bot back), and the refused message itself came again only after it
    sends = telegram_api.sends()
    refused = [a for a in sends if a.http_status == 429]
    assert len(refused) == 3
    for storm in refused:
        later = [a for a in sends if a.at > storm.at]
        assert later and later[0].at - storm.at >= 1.0
        again = next(a for a in later if a.text == storm.text)
        assert again.at - storm.at >= 1.0
    # and one chat never got two messages within a second
    for chat, moments in _by_chat(telegram_api).items():
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(moments)), chat


@pytest.mark.django_db
def test_a_group_gets_at_most_twenty_a_minute(telegram_api: TimedFakeBotApi) -> None:
    # given three messages to a group and one to a private chat
    for i in range(3):
        enqueue(f"group:{i}", -100777)
    enqueue("private", 555)
    # when delivery runs
    deliver_until_settled()
    # then the group's messages are spaced for 20 a minute (3 s), and the private chat did not wait for them
    group = _by_chat(telegram_api)[-100777]
    assert len(group) == 3
    assert all(b - a >= 3.0 for a, b in itertools.pairwise(group))
    assert TELEGRAM_GROUP_INTERVAL >= 3.0
    private = _by_chat(telegram_api)[555]
    assert private[0] < group[1]


def _by_chat(fake: TimedFakeBotApi) -> dict[int, list[float]]:
    out: dict[int, list[float]] = defaultdict(list)
    for arrival in fake.sends(ok=True):
        out[int(arrival.chat_id or 0)].append(arrival.at)
    return out


WORKERS = 4


@pytest.mark.django_db(transaction=True)
def test_thirty_a_second_and_one_a_second_per_chat_hold_across_workers(telegram_api: TimedFakeBotApi) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("several workers sharing the rate slots need PostgreSQL's row locks")
    # given 100 messages: 80 to their own chats, 20 to 4 busy chats (5 each)
    for i in range(80):
        enqueue(f"wide:{i}", 2000 + i)
    for i in range(20):
        enqueue(f"busy:{i}", 3000 + i % 4)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            deliver_until_settled(worker=name)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    # when four delivery workers run at once (threads, each with its own database connection)
    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    # then every message was accepted once
    accepted = Counter(a.text for a in telegram_api.sends(ok=True))
    assert len(accepted) == 100 and set(accepted.values()) == {1}
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 100
    # and the server never saw more than 30 sends in any second, nor two to one chat within a second
    moments = [a.at for a in telegram_api.sends()]
    gaps = [b - a for times in _by_chat(telegram_api).values() for a, b in itertools.pairwise(times)]
    print(
        f"\n{len(moments)} sends by {WORKERS} workers in {moments[-1] - moments[0]:.2f} s (server clock): "
        f"at most {max_in_window(moments, 1.0)} in any 1 s window, smallest gap in one chat {min(gaps):.3f} s"
    )
    assert max_in_window(moments, 1.0) <= 30
    for chat, times in _by_chat(telegram_api).items():
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(times)), (chat, times)
    assert TELEGRAM_CHAT_INTERVAL >= 1.0


@pytest.mark.django_db
def test_max_in_window_counts_a_sliding_window() -> None:
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.2], 1.0) == 4  # [0.5, 1.5)
    assert max_in_window([0.0, 1.0, 2.0], 1.0) == 1
    assert max_in_window([], 1.0) == 0
    assert outbox_deliver_due(worker="w1").sent == 0
