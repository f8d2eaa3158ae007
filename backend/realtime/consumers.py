"""Per-user event stream at /ws/v1/events/."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from .groups import user_group


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """Pushes the authenticated user's events; clients only listen (mutations go through the API or bot)."""

    group: str | None = None
    expiry: asyncio.TimerHandle | None = None

    # Close code for "your credentials are gone": the client refreshes its token and reconnects.
    CLOSE_UNAUTHORIZED = 4401

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not getattr(user, "is_authenticated", False):
            await self.close(code=self.CLOSE_UNAUTHORIZED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept(subprotocol="bearer" if self.scope.get("auth_via_subprotocol") else None)
        await self.send_json({"type": "hello", "user_id": user.pk})
        expires_at = self.scope.get("auth_expires_at")
        if expires_at is not None:
            delay = max(0.0, (expires_at - timezone.now()).total_seconds())
            self.expiry = asyncio.get_running_loop().call_later(
                delay, lambda: asyncio.ensure_future(self._end_session("token_expired"))
            )

    async def disconnect(self, code: int) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _end_session(self, reason: str) -> None:
        await self.send_json({"type": "session.ended", "reason": reason})
        await self.close(code=self.CLOSE_UNAUTHORIZED)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def user_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event.get("type") == "session.revoked":
            # Logout, refresh-token reuse or an operator's "log out everywhere": sockets of that session go too.
            if event.get("family") in (None, self.scope.get("auth_family")):
                await self._end_session("session_revoked")
            return
        await self.send_json(event)
