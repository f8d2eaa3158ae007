"""The business clock: what "now" means for a service (ADR 0028).

Services take ``now=`` where a caller may need to say when something happens; when they are not told, they ask
:func:`clock_now`. Outside a :func:`clock_at` block it is ``django.utils.timezone.now()``. The demo simulator runs
a day of history inside ``clock_at(that day's instant)``, so a service it calls (or a task the queue runs for it in
the same thread) sees the simulated instant without being patched.

Only business time follows the clock. Bookkeeping stamps (``created_at`` defaults, ``updated_at``) stay on the
wall clock: they order writes for sync and for the incremental warehouse export, which must never go backwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.utils import timezone

_frozen: ContextVar[dt.datetime | None] = ContextVar("brigada_clock_frozen", default=None)


def clock_now() -> dt.datetime:
    """The current business instant (aware, UTC): the frozen one inside :func:`clock_at`, else the wall clock."""
    frozen = _frozen.get()
    return frozen if frozen is not None else timezone.now()


@contextmanager
def clock_at(instant: dt.datetime) -> Iterator[dt.datetime]:
    """Run the block with the business clock at ``instant`` (an aware datetime). Nested blocks restore the outer."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("clock_at needs an aware datetime")
    token = _frozen.set(instant.astimezone(dt.UTC))
    try:
        yield instant
    finally:
        _frozen.reset(token)
