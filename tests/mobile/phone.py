"""A phone's local copy, built only from the pages of ``GET /api/v1/sync``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.conftest import ApiClient

SYNC = "/api/v1/sync"


@dataclass
class Phone:
    api: ApiClient
    cursor: str | None = None
    copy: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    seen: set[tuple[str, int]] = field(default_factory=set)  # every item any page mentioned, tombstones included
    pages: int = 0

    def sync(self, limit: int = 3) -> None:
        """Pull pages until the server has nothing more ready; a snapshot replaces the local copy."""
        first_snapshot = self.cursor is None
        if first_snapshot:
            self.copy = {}
        while True:
            params: dict[str, Any] = {"limit": limit}
            if self.cursor is not None:
                params["since"] = self.cursor
            response = self.api.get(SYNC, params)
            assert response.status_code == 200, response.content
            page = response.json()
            self.pages += 1
            for change in page["changes"]:
                key = (change["collection"], change["id"])
                self.seen.add(key)
                if change["op"] == "upsert":
                    self.copy[key] = change["data"]
                else:
                    self.copy.pop(key, None)
            self.cursor = page["cursor"]
            if not page["has_more"]:
                return

    def ids(self, collection: str) -> set[int]:
        return {pk for name, pk in self.copy if name == collection}


def server_view(api: ApiClient) -> dict[tuple[str, int], dict[str, Any]]:
    """What a brand-new phone gets: a full snapshot, paged."""
    fresh = Phone(api)
    fresh.sync(limit=2)
    return fresh.copy
