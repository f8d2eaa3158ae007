"""A trace of what a request relied on and what it wrote: tenancy grants, and the entities its events name.

The Idempotency-Key layer stores an answer and may replay it days later. The answer is only as secret as what it
concerns, so before a replay the caller must still pass the checks that produced it and still see the objects it
names. Rather than teach every route to declare its tenant and its objects, two chokepoints note them here while a
trace is open: the one tenancy selector that grants access (``organization_access_check``) notes each
``(organization, permission)``, and the event log (``backend.core.events``, through which every service records
each row it writes) notes each entity as ``(model label, pk)``. A context variable keeps traces of concurrent
requests apart (threads and asyncio tasks alike); the object it holds is shared with copied contexts, so what a
thread that ``sync_to_async`` runs notes still lands in the request's trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

Grant = tuple[int, str]


@dataclass
class AccessTrace:
    """What one request relied on (``grants``, in order, without repeats) and wrote (``entities``)."""

    grants: list[Grant] = field(default_factory=list)
    # model label -> primary keys (as text, the event log's form), in order; a dict keeps them without repeats
    _entities: dict[str, dict[str, None]] = field(default_factory=dict)

    def entities(self) -> dict[str, list[str]]:
        """``{model label: [pk, ...]}`` of every entity an event recorded inside the trace."""
        return {label: list(pks) for label, pks in self._entities.items()}


_trace: ContextVar[AccessTrace | None] = ContextVar("brigada_access_trace", default=None)


@contextmanager
def access_traced() -> Iterator[AccessTrace]:
    """Collect every grant made and every entity written inside the block."""
    trace = AccessTrace()
    token = _trace.set(trace)
    try:
        yield trace
    finally:
        _trace.reset(token)


def access_granted(organization_id: int, perm: str) -> None:
    """Note a grant in the open trace, if any (a no-op outside one)."""
    trace = _trace.get()
    if trace is not None:
        grant = (int(organization_id), str(perm))
        if grant not in trace.grants:
            trace.grants.append(grant)


def entity_written(label: str, pk: str) -> None:
    """Note that the request wrote the row ``pk`` of model ``label`` (a no-op outside a trace)."""
    trace = _trace.get()
    if trace is not None:
        trace._entities.setdefault(label, {})[str(pk)] = None
