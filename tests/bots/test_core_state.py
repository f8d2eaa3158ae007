"""The bot's database state: flow versions guard concurrent writers, old flows and update ids are purged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from bots import state
from bots.models import FlowState, ProcessedUpdate

pytestmark = pytest.mark.django_db


def test_flow_state_round_trips_and_versions_grow(db: Any) -> None:
    assert state.flow_get(1, "book") is None

    first = state.flow_set(1, "book", {"branch": 3}, step="service")
    second = state.flow_set(1, "book", {"branch": 3, "service": 9}, step="day")
    state.flow_set(1, "review", {"await": "comment"})

    snap = state.flow_get(1, "book")
    assert (first, second) == (1, 2)
    assert snap == state.FlowSnapshot("book", "day", {"branch": 3, "service": 9}, 2)
    assert state.flow_get(1, "review") is not None and state.flow_get(2, "book") is None


def test_a_writer_that_read_an_old_version_loses(db: Any) -> None:
    state.flow_set(1, "book", {"step": 1})
    read_by_a = read_by_b = state.flow_get(1, "book")
    assert read_by_a is not None and read_by_b is not None

    state.flow_set(1, "book", {"by": "a"}, expected_version=read_by_a.version)
    with pytest.raises(state.FlowConflict):
        state.flow_set(1, "book", {"by": "b"}, expected_version=read_by_b.version)

    assert state.flow_get(1, "book").data == {"by": "a"}  # type: ignore[union-attr]


def test_old_flows_are_absent_and_purged_recent_ones_stay(db: Any) -> None:
    state.flow_set(1, "book", {})
    state.flow_set(2, "book", {})
    FlowState.objects.filter(telegram_user_id=1).update(updated_at=timezone.now() - state.FLOW_TTL - timedelta(1))

    assert state.flow_get(1, "book") is None
    assert state.flow_states_purge() == 1
    assert list(FlowState.objects.values_list("telegram_user_id", flat=True)) == [2]


def test_update_ids_are_claimed_once_and_forgotten_after_the_retention(db: Any) -> None:
    assert state.update_claim(bot_id=1, update_id=10) is True
    assert state.update_claim(bot_id=1, update_id=10) is False
    assert state.update_claim(bot_id=2, update_id=10) is True  # another bot's ids are its own
    ProcessedUpdate.objects.filter(bot_id=1).update(processed_at=timezone.now() - timedelta(days=8))

    assert state.processed_updates_purge() == 1
    assert ProcessedUpdate.objects.count() == 1


def test_the_purges_run_with_housekeeping(db: Any, settings: Any) -> None:
    from backend.core.services import housekeeping_run

    report = housekeeping_run()

    assert {"processed_updates_purge", "flow_states_purge"} <= set(report)
