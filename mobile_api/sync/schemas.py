"""Delta sync schemas: a page of changes with the cursor to store."""

from __future__ import annotations

from typing import Any, Literal

from ninja import Field, Schema

from mobile_api.types import Text


class SyncQuery(Schema):
    since: Text | None = Field(
        None, max_length=4096, description="The cursor of the previous page; leave out for a full snapshot."
    )
    limit: int = Field(200, ge=1, le=500, description="Changes (snapshot) or events (delta) per page.")


class SyncChangeOut(Schema):
    collection: Literal["profile", "appointments", "offers", "shifts", "earnings", "clients"]
    id: int
    op: Literal["upsert", "delete"]
    data: dict[str, Any] | None = Field(
        None, description="The item as its own read route shapes it (upsert); null for a delete tombstone."
    )


class SyncPageOut(Schema):
    snapshot: bool = Field(description="True while paging through a full snapshot: replace the local copy with it.")
    changes: list[SyncChangeOut]
    cursor: str = Field(description="Store it and send it as `since` next time (opaque, signed).")
    has_more: bool = Field(description="More pages are ready now: call again with `cursor` at once.")
