"""The journal's socket at /ws/v1/booking/journal/?branch_id=: a branch's appointment changes, live."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from backend.core.exceptions import ApplicationError, NotFound
from backend.realtime.consumers import EventsConsumer

from .selectors import journal_branch
from .services.journal import journal_group

MAX_ID = 2**63 - 1


def _branch_id(scope: dict[str, Any]) -> int | None:
    query = parse_qs((scope.get("query_string") or b"").decode("utf-8", errors="replace"))
    raw = (query.get("branch_id") or [""])[0]
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_ID else None


def _authorize(user: Any, branch_id: int | None) -> int:
    if branch_id is None:
        raise NotFound("branch")
    return int(journal_branch(user=user, branch_id=branch_id).pk)


class JournalConsumer(EventsConsumer):
    """Joins the branch's journal group when the caller may read that journal (the journal's own rule: 404 outside
    the tenancy closes with 4404, a role without the right with 4403). It is also the user's event socket, so a
    revoked session or an expired token ends it like ``EventsConsumer``."""

    CLOSE_NOT_FOUND = 4404
    CLOSE_FORBIDDEN = 4403
    branch_group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not getattr(user, "is_authenticated", False):
            await self.close(code=self.CLOSE_UNAUTHORIZED)
            return
        try:
            branch_id = await database_sync_to_async(_authorize)(user, _branch_id(self.scope))
        except ApplicationError as refusal:
            await self.close(code=self.CLOSE_NOT_FOUND if refusal.status == 404 else self.CLOSE_FORBIDDEN)
            return
        self.branch_group = journal_group(branch_id)
        await self.channel_layer.group_add(self.branch_group, self.channel_name)
        await super().connect()
        await self.send_json({"type": "journal.subscribed", "branch_id": branch_id})

    async def disconnect(self, code: int) -> None:
        if self.branch_group:
            await self.channel_layer.group_discard(self.branch_group, self.channel_name)
        await super().disconnect(code)

    async def journal_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
