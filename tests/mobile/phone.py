"""A phone's local copy, built only from the pages of ``GET /api/v1/sync``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from backend.core.event_feed import feed_horizon
from backend.core.models import Event
from tests.conftest import ApiClient

SYNC = "/api/v1/sync"


@dataclass
class Phone:
    api: ApiClient
    cursor: str | None = None
    copy: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    seen: set[tuple[str, int]] = field(default_factory=set)  # every item any page mentioned, tombstones included
    pages: int = 0
    #: Wait for the feed to reach every committed event before pulling (off where a test holds a transaction
    #: open on purpose to see the feed wait behind it).
    settle: bool = True

    def sync(self, limit: int = 3) -> None:
        """Pull pages until the server has nothing more ready; a snapshot replaces the local copy."""
        if self.settle:
            feed_settled()
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


def feed_settled(tries: int = 100) -> None:
    """On PostgreSQL, wait (up to 5 s) until the feed's horizon is past every committed event.

    The feed serves an event once every transaction that might have written before it has ended (decision 0022);
    a transaction it cannot attribute to another database (the other xdist worker's, ending between the snapshot
    and the read of pg_stat_activity) holds it back for a moment: it waits, never skips. A test that just
    committed a change and syncs at once would then see nothing yet, as a phone would until its next call. SQLite
    serves every committed event at once.
    """
    if connection.vendor != "postgresql":
        return
    last = Event.objects.filter(xid__isnull=False).order_by("-xid").values_list("xid", flat=True).first()
    for _ in range(tries):
        if last is None or feed_horizon().xid >= last:
            return
        time.sleep(0.05)


def server_view(api: ApiClient) -> dict[tuple[str, int], dict[str, Any]]:
    """What a brand-new phone gets: a full snapshot, paged."""
    fresh = Phone(api)
    fresh.sync(limit=2)
    return fresh.copy
