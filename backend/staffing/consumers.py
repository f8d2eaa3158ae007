"""The live order board at ws/v1/staffing/board/?organization_id=<id>: shift counts of one organization, pushed
after every committed change (see ``services/board.py``). Listen-only; authorized by membership with the staffing
right (dispatcher, manager, owner of that organization or of its HQ). Anyone else is refused before the handshake
completes: 4401 without credentials, 4403 for an organization the caller may not watch (a stranger's included, so
the code does not confirm that it exists)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from backend.core.exceptions import ApplicationError
from backend.organizations.permissions import Perm
from backend.organizations.selectors import default_organization_id

from .services.board import board_access, board_group, board_snapshot


def _requested_organization(scope: dict[str, Any]) -> int | None:
    query = parse_qs((scope.get("query_string") or b"").decode("utf-8", errors="replace"))
    raw = (query.get("organization_id") or [""])[0]
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def _join(user: Any, requested: int | None) -> tuple[int, list[dict[str, Any]]] | None:
    organization_id = requested if requested is not None else default_organization_id(user, Perm.STAFFING_MANAGE)
    if organization_id is None:
        return None
    try:
        allowed = board_access(user=user, organization_id=organization_id)
    except ApplicationError:
        return None
    return allowed, board_snapshot(user=user, organization_id=allowed)


class BoardConsumer(AsyncJsonWebsocketConsumer):
    """Sends ``board.snapshot`` on connect, then ``board.shift`` with the changed shifts' counts."""

    CLOSE_UNAUTHORIZED = 4401
    CLOSE_FORBIDDEN = 4403
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not getattr(user, "is_authenticated", False):
            await self.close(code=self.CLOSE_UNAUTHORIZED)
            return
        joined = await database_sync_to_async(_join)(user, _requested_organization(self.scope))
        if joined is None:
            await self.close(code=self.CLOSE_FORBIDDEN)
            return
        organization_id, shifts = joined
        self.group = board_group(organization_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept(subprotocol="bearer" if self.scope.get("auth_via_subprotocol") else None)
        await self.send_json({"type": "board.snapshot", "organization_id": organization_id, "shifts": shifts})

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def board_shift(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "board.shift", "shifts": message["shifts"]})
