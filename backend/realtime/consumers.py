"""Per-user event stream at /ws/v1/events/."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .groups import user_group


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """Pushes the authenticated user's events; clients only listen (mutations go through the API or bot)."""

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not getattr(user, "is_authenticated", False):
            await self.close(code=4401)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept(subprotocol="bearer" if self.scope.get("auth_via_subprotocol") else None)
        await self.send_json({"type": "hello", "user_id": user.pk})

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def user_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
