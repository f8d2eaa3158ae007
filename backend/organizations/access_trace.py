"""A trace of the tenancy decisions a request relied on: which organizations, with which rights.

The Idempotency-Key layer stores an answer and may replay it days later. The answer is only as secret as the
organizations it concerns, so before a replay the caller must still pass the checks that produced it. Rather than
teach every route to declare its tenant, the one tenancy selector that grants access (``organization_access_check``)
notes each grant here while a trace is open. A context variable keeps traces of concurrent requests apart (threads
and asyncio tasks alike); the list it holds is shared with copied contexts, so grants made in a thread that
``sync_to_async`` runs still land in the request's trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Grant = tuple[int, str]

_trace: ContextVar[list[Grant] | None] = ContextVar("brigada_access_trace", default=None)


@contextmanager
def access_traced() -> Iterator[list[Grant]]:
    """Collect, in order and without repeats, every ``(organization_id, permission)`` granted inside the block."""
    grants: list[Grant] = []
    token = _trace.set(grants)
    try:
        yield grants
    finally:
        _trace.reset(token)


def access_granted(organization_id: int, perm: str) -> None:
    """Note a grant in the open trace, if any (a no-op outside one)."""
    grants = _trace.get()
    if grants is not None:
        grant = (int(organization_id), str(perm))
        if grant not in grants:
            grants.append(grant)
