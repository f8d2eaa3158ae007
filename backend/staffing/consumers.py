"""The live order board at ws/v1/staffing/board/?organization_id=<id>: shift counts of one organization, pushed
after every committed change (see ``services/board.py``). Listen-only; authorized by membership with the staffing
right (dispatcher, manager, owner of that organization or of its HQ). Anyone else is refused before the handshake
completes: 4401 without credentials, 4403 for an organization the caller may not watch (a stranger's included, so
the code does not confirm that it exists). An open board closes with 4401 when its session is revoked or its
access token expires."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from backend.core.exceptions import ApplicationError
from backend.organizations.permissions import Perm
from backend.organizations.selectors import default_organization_id
from backend.realtime.consumers import EventsConsumer

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


class BoardConsumer(EventsConsumer):
    """Sends ``hello`` (the user's event socket), then ``board.snapshot``, then ``board.shift`` with the changed
    shifts' counts. It is also the caller's event socket, so a revoked session (logout, refresh-token reuse, an
    operator's "log out everywhere") or an expired access token ends it with 4401 like ``EventsConsumer``."""

    CLOSE_FORBIDDEN = 4403
    board_group_name: str | None = None

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
        self.board_group_name = board_group(organization_id)
        await self.channel_layer.group_add(self.board_group_name, self.channel_name)
        await super().connect()
        await self.send_json({"type": "board.snapshot", "organization_id": organization_id, "shifts": shifts})

    async def disconnect(self, code: int) -> None:
        if self.board_group_name:
            await self.channel_layer.group_discard(self.board_group_name, self.channel_name)
        await super().disconnect(code)

    async def board_shift(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "board.shift", "shifts": message["shifts"]})
