"""The journal publishes through ``backend.realtime.services`` (after commit), not the channel layer directly."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from backend.booking.services import journal
from backend.booking.services.journal import journal_group, publish_appointment_change
from backend.realtime.services import realtime_group_publish
from tests.booking.appointments_world import World, local, world_build
from tests.booking.test_appointments import book

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def layer(settings: Any) -> Any:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return get_channel_layer()


def _listen(layer: Any, group: str) -> str:
    name: str = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, name)
    return name


def _pending(layer: Any, name: str) -> list[dict[str, Any]]:
    """What has reached channel ``name`` so far (waits a moment, then gives up)."""

    async def drain() -> list[dict[str, Any]]:
        got = []
        while True:
            try:
                got.append(await asyncio.wait_for(layer.receive(name), timeout=0.2))
            except TimeoutError:
                return got

    return async_to_sync(drain)()


def test_a_group_publish_is_sent_after_commit_and_never_on_rollback(layer: Any) -> None:
    name = _listen(layer, "some.group")
    with pytest.raises(RuntimeError), transaction.atomic():
        realtime_group_publish("some.group", {"n": 1}, message_type="journal.event")
        raise RuntimeError("roll back")
    assert _pending(layer, name) == []
    with transaction.atomic():
        realtime_group_publish("some.group", {"n": 2}, message_type="journal.event")
        assert _pending(layer, name) == []  # not before commit
    assert async_to_sync(layer.receive)(name) == {"type": "journal.event", "event": {"n": 2}}


def test_the_journal_uses_the_realtime_service(layer: Any) -> None:
    # the journal module has no channel-layer code of its own
    assert not hasattr(journal, "get_channel_layer") and not hasattr(journal, "async_to_sync")
    w: World = world_build()
    name = _listen(layer, journal_group(w.branch.pk))
    appointment = book(w, local(2, 10))
    message = async_to_sync(layer.receive)(name)
    assert message["type"] == "journal.event"
    assert message["event"]["appointment"]["id"] == appointment.pk
    with transaction.atomic():
        publish_appointment_change(appointment, change="status")
    assert async_to_sync(layer.receive)(name)["event"]["change"] == "status"
