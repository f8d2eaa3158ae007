"""Reading the event log in commit-safe order: the feed that delta sync is built on (decision 0022).

An event id is taken from a sequence when the row is inserted, not when its transaction commits. On PostgreSQL
transaction A can take id 100, B id 101, B commit first: a reader that saw 101 and remembered "after 101" would
never see 100. The feed therefore orders events by ``(xid, id)``, where ``xid`` is the id of the inserting
transaction (``pg_current_xact_id()``, set by the database), and reads only events whose ``xid`` is below the
*horizon*: the oldest transaction of this database still running (from ``pg_current_snapshot()``, see
``_PG_HORIZON``). Every transaction below it has ended, so the set of events below the horizon is final: nothing can
later appear before a position the feed has handed out. A long transaction holds the horizon back (its events and
later ones wait), it never causes a skip. The reader's own uncommitted writes are not served either (a sync inside a
write transaction sees them only once that has committed; requests that read the feed are not wrapped in one).

SQLite has one writer at a time, holding the write lock from its first write to its commit, so ids are assigned in
commit order: the position there is ``(0, id)`` and the horizon is the largest committed id.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db import connection

from .models import Event

MAX_ID = 2**63 - 1


@dataclass(frozen=True, order=True)
class FeedPosition:
    """A place in the feed: everything at or before it has been read."""

    xid: int
    id: int


START = FeedPosition(0, 0)


# The oldest transaction that may still write here: the smallest id the snapshot lists as running, else the first
# id not yet assigned. Transaction ids are cluster-wide, so the snapshot also lists transactions of *other*
# databases on the server (which cannot write this table); an id positively known to belong to a session connected
# to another database is left out, so another application's long transaction does not hold this feed back. A
# session that cannot be identified (a prepared transaction, a stats row hidden from this role) stays in: the feed
# may wait longer, never skip. pg_stat_activity shows 32-bit ids: they are compared on their low 32 bits.
_PG_HORIZON = """
WITH snap AS (SELECT pg_current_snapshot() AS s),
foreign_xids AS (
    SELECT backend_xid::text::bigint AS low FROM pg_stat_activity
    WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database()
)
SELECT LEAST(
    (SELECT pg_snapshot_xmax(s)::text::bigint FROM snap),
    (SELECT min(r::text::bigint) FROM snap, pg_snapshot_xip(snap.s) AS r
     WHERE (r::text::bigint & 4294967295) NOT IN (SELECT low FROM foreign_xids))
)
"""


def feed_horizon() -> FeedPosition:
    """The position up to which the feed is final now: no event at or before it can still commit."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_HORIZON)
            (oldest,) = cursor.fetchone()
            return FeedPosition(int(oldest) - 1, MAX_ID)
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM core_event")
        (last,) = cursor.fetchone()
        return FeedPosition(0, int(last))


@dataclass(frozen=True)
class FeedPage:
    events: list[Event]
    position: FeedPosition  # where the next read continues
    complete: bool  # True when the feed was read up to the horizon


def feed_read(*, after: FeedPosition, entity_types: Collection[str], limit: int) -> FeedPage:
    """Up to ``limit`` events of ``entity_types`` after ``after`` and not beyond the horizon, in feed order."""
    horizon = feed_horizon()
    if connection.vendor == "postgresql":
        # Events written before the xid column existed have none: they predate every cursor the feed issues.
        sql = (
            "SELECT id FROM core_event WHERE xid IS NOT NULL AND (xid, id) > (%s, %s) AND (xid, id) <= (%s, %s) "
            "AND entity_type = ANY(%s) ORDER BY xid, id LIMIT %s"
        )
        params: list[Any] = [after.xid, after.id, horizon.xid, horizon.id, list(entity_types), limit]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = [row[0] for row in cursor.fetchall()]
        by_id = Event.objects.in_bulk(ids)
        events = [by_id[i] for i in ids]
        positions = [FeedPosition(int(e.xid or 0), e.pk) for e in events]
    else:
        events = list(
            Event.objects.filter(id__gt=after.id, id__lte=horizon.id, entity_type__in=list(entity_types)).order_by(
                "id"
            )[:limit]
        )
        positions = [FeedPosition(0, e.pk) for e in events]
    if len(events) < limit:
        return FeedPage(events=events, position=max(after, horizon), complete=True)
    return FeedPage(events=events, position=positions[-1], complete=False)
