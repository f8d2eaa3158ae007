"""The live order board: a snapshot on connect, each shift's counts pushed after commit (never for a rollback), only
to members with the staffing right in that organization (or its HQ); the same rows from the snapshot service.

Runs on the in-memory channel layer, and on Redis too when REDIS_URL is set (the PostgreSQL leg)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections, transaction
from django.utils import timezone

from backend.accounts.models import AuthToken
from backend.accounts.tokens import token_pair_issue, token_revoke
from backend.config.asgi import application
from backend.config.channel_layers import redis_layer
from backend.core.exceptions import NotFound, PermissionDenied
from backend.organizations.models import Role
from backend.staffing.models import Offer, OfferStatus, Shift
from backend.staffing.services.attendance import attendance_mark
from backend.staffing.services.board import board_snapshot, publish_board
from backend.staffing.services.offers import offer_accept, offer_decline
from tests.conftest import member
from tests.staffing.test_attendance import accepted_offer, consistent_world, shift_starting
from tests.staffing.world import World, staffing_world

PATH = "/ws/v1/staffing/board/"


@pytest.fixture(params=["memory", "redis"])
def channel_layer(request: Any, settings: Any) -> Iterator[str]:
    if request.param == "redis":
        url = os.environ.get("REDIS_URL")
        if not url:
            pytest.skip("REDIS_URL is not set (the PostgreSQL leg sets it)")
        settings.CHANNEL_LAYERS = {"default": redis_layer(url, prefix=f"brigada-test-{uuid.uuid4().hex[:8]}")}
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield request.param


@pytest.fixture(autouse=True)
async def _close_thread_connections() -> AsyncIterator[None]:
    """Consumers reach the database from asgiref's worker thread: close its connections after each test."""
    yield
    await sync_to_async(connections.close_all)()


def _scene() -> tuple[World, Shift, list[Offer]]:
    world = consistent_world(3)
    shift = shift_starting(world, timezone.now() - dt.timedelta(minutes=30))
    return world, shift, [accepted_offer(shift, w) for w in world.workers]


def _token(user: Any) -> str:
    return token_pair_issue(user=user).access_token


def _mark(user: Any, offer_id: int, *, commit: bool) -> None:
    try:
        with transaction.atomic():
            attendance_mark(user=user, offer_id=offer_id, outcome="no_show")
            if not commit:
                raise RuntimeError("the change failed")
    except RuntimeError:
        pass


@pytest.mark.django_db(transaction=True)
async def test_the_board_sends_a_snapshot_then_counts_after_commit_only(channel_layer: str) -> None:
    world, shift, offers = await sync_to_async(_scene)()
    token = await sync_to_async(_token)(world.dispatcher)
    board = WebsocketCommunicator(application, f"{PATH}?organization_id={world.franchise.pk}&token={token}")
    connected, _ = await board.connect()
    assert connected
    assert (await board.receive_json_from(timeout=5))["type"] == "hello"
    snapshot = await board.receive_json_from(timeout=5)
    assert snapshot["type"] == "board.snapshot" and snapshot["organization_id"] == world.franchise.pk
    [row] = snapshot["shifts"]
    assert (row["shift_id"], row["planned"], row["accepted"], row["confirmed"], row["no_show"]) == (
        shift.pk,
        5,
        3,
        3,
        0,
    )

    await sync_to_async(_mark)(world.dispatcher, offers[0].pk, commit=False)
    await sync_to_async(_mark)(world.dispatcher, offers[1].pk, commit=True)

    pushed = await board.receive_json_from(timeout=5)
    assert pushed["type"] == "board.shift"
    [row] = pushed["shifts"]
    assert (row["shift_id"], row["accepted"], row["confirmed"], row["checked_in"], row["no_show"]) == (
        shift.pk,
        2,
        2,
        0,
        1,
    )
    assert await board.receive_nothing(timeout=0.3)
    await board.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_hq_watches_its_franchise_and_a_stranger_or_a_worker_is_refused(channel_layer: str) -> None:
    world, shift, _ = await sync_to_async(_scene)()

    def people() -> dict[str, str]:
        other = staffing_world(0)
        return {
            "hq": _token(world.hq_dispatcher),
            "stranger": _token(other.dispatcher),
            "worker": _token(world.workers[0].user),
            "analyst": _token(member(world.franchise, Role.ANALYST)),
        }

    tokens = await sync_to_async(people)()
    hq = WebsocketCommunicator(application, f"{PATH}?organization_id={world.franchise.pk}&token={tokens['hq']}")
    assert (await hq.connect())[0]
    assert (await hq.receive_json_from(timeout=5))["type"] == "hello"
    assert (await hq.receive_json_from(timeout=5))["shifts"][0]["shift_id"] == shift.pk
    await hq.disconnect()
    for who in ("stranger", "worker", "analyst"):
        socket = WebsocketCommunicator(application, f"{PATH}?organization_id={world.franchise.pk}&token={tokens[who]}")
        assert await socket.connect() == (False, 4403), who
        await socket.disconnect()
    anonymous = WebsocketCommunicator(application, f"{PATH}?organization_id={world.franchise.pk}")
    assert await anonymous.connect() == (False, 4401)
    await anonymous.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_bearer_subprotocol_is_echoed_and_the_default_organization_is_the_callers(channel_layer: str) -> None:
    world, _shift, _ = await sync_to_async(_scene)()
    token = await sync_to_async(_token)(world.dispatcher)
    board = WebsocketCommunicator(application, PATH, subprotocols=["bearer", token])
    connected, subprotocol = await board.connect()
    assert connected and subprotocol == "bearer"
    assert (await board.receive_json_from(timeout=5))["type"] == "hello"
    assert (await board.receive_json_from(timeout=5))["organization_id"] == world.franchise.pk
    await board.disconnect()


@pytest.mark.django_db
def test_the_snapshot_service_is_scoped_and_publishing_outside_a_transaction_is_harmless() -> None:
    world, shift, _ = _scene()
    other = staffing_world(0)

    rows = board_snapshot(user=world.hq_dispatcher, organization_id=world.franchise.pk)

    assert [r["shift_id"] for r in rows] == [shift.pk]
    assert rows[0]["order_title"] == shift.order.title and rows[0]["offered"] == 3
    with pytest.raises(NotFound):
        board_snapshot(user=other.dispatcher, organization_id=world.franchise.pk)
    with pytest.raises(PermissionDenied):
        board_snapshot(user=world.workers[0].user, organization_id=world.hq.pk)
    # Outside the window: a shift three weeks ahead is not on today's board.
    later = shift_starting(world, timezone.now() + dt.timedelta(days=21), site_=shift.order.site)
    rows = board_snapshot(user=world.dispatcher, organization_id=world.franchise.pk)
    assert later.pk not in {r["shift_id"] for r in rows}
    publish_board([shift.pk, later.pk])  # autocommit: sent at once, no listener, no error


@pytest.mark.django_db(transaction=True)
async def test_the_worker_hears_of_a_no_show_and_its_reason_at_once(channel_layer: str) -> None:
    world, _shift, offers = await sync_to_async(_scene)()
    token = await sync_to_async(lambda: _token(world.workers[1].user))()
    phone = WebsocketCommunicator(application, f"/ws/v1/events/?token={token}")
    assert (await phone.connect())[0]
    assert (await phone.receive_json_from(timeout=5))["type"] == "hello"

    await sync_to_async(_mark)(world.dispatcher, offers[1].pk, commit=True)

    event = await phone.receive_json_from(timeout=5)
    assert event["type"] == "staffing.rating" and event["reason"] == "no_show"
    assert event["rank"] < event["rank_before"] and "after accepting it" in event["reason_text"]
    await phone.disconnect()


async def _open_board(world: World, token: str) -> WebsocketCommunicator:
    board = WebsocketCommunicator(application, f"{PATH}?organization_id={world.franchise.pk}&token={token}")
    assert (await board.connect())[0]
    assert (await board.receive_json_from(timeout=5))["type"] == "hello"
    assert (await board.receive_json_from(timeout=5))["type"] == "board.snapshot"
    return board


@pytest.mark.django_db(transaction=True)
async def test_a_logged_out_dispatchers_board_closes(channel_layer: str) -> None:
    world, _shift, _ = await sync_to_async(_scene)()
    pair = await sync_to_async(token_pair_issue)(user=world.dispatcher)
    board = await _open_board(world, pair.access_token)

    await sync_to_async(token_revoke)(raw=pair.refresh_token)

    assert await board.receive_json_from(timeout=5) == {"type": "session.ended", "reason": "session_revoked"}
    assert (await board.receive_output(timeout=5))["code"] == 4401


@pytest.mark.django_db(transaction=True)
async def test_the_board_closes_when_its_access_token_expires(channel_layer: str) -> None:
    world, _shift, _ = await sync_to_async(_scene)()
    pair = await sync_to_async(token_pair_issue)(user=world.dispatcher)
    soon = timezone.now() + dt.timedelta(seconds=0.5)
    await sync_to_async(AuthToken.objects.filter(kind="access", user=world.dispatcher).update)(expires_at=soon)
    board = await _open_board(world, pair.access_token)

    assert await board.receive_json_from(timeout=5) == {"type": "session.ended", "reason": "token_expired"}
    assert (await board.receive_output(timeout=5))["code"] == 4401


def _offered_scene() -> tuple[World, Shift, list[Offer]]:
    world = consistent_world(3)
    shift = shift_starting(world, timezone.now() + dt.timedelta(days=2))
    now = timezone.now()
    offers = [
        Offer.objects.create(
            organization_id=shift.organization_id,
            shift=shift,
            worker=w,
            wave=1,
            status=OfferStatus.OFFERED,
            offered_at=now,
            expires_at=now + dt.timedelta(hours=2),
        )
        for w in world.workers
    ]
    Shift.objects.filter(pk=shift.pk).update(offered_count=len(offers))
    return world, shift, offers


@pytest.mark.django_db(transaction=True)
async def test_the_board_moves_on_accept_and_on_decline(channel_layer: str) -> None:
    world, shift, offers = await sync_to_async(_offered_scene)()
    board = await _open_board(world, await sync_to_async(_token)(world.dispatcher))
    worker = await sync_to_async(lambda: world.workers[0].user)()

    await sync_to_async(offer_accept)(user=worker, offer_id=offers[0].pk)
    [row] = (await board.receive_json_from(timeout=5))["shifts"]
    assert (row["shift_id"], row["offered"], row["accepted"]) == (shift.pk, 3, 1)

    await sync_to_async(offer_decline)(user=worker, offer_id=offers[0].pk)
    [row] = (await board.receive_json_from(timeout=5))["shifts"]
    assert (row["shift_id"], row["accepted"]) == (shift.pk, 0)
    snapshot = await sync_to_async(board_snapshot)(user=world.dispatcher, organization_id=world.franchise.pk)
    assert [(r["shift_id"], r["accepted"]) for r in snapshot] == [(shift.pk, 0)]
    await board.disconnect()
