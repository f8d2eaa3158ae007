"""Row-lock order and the retry of lock conflicts for every staffing write.

One order of locks on every path, so two staffing writes cannot wait on each other in a circle:

1. the ``Worker`` row (a worker's answers and their suspension: the overlapping-shift check reads the worker's
   other places, so it must run under this lock or two accepts of overlapping shifts both pass it);
2. ``Shift`` rows, by ascending id when more than one;
3. ``Offer`` rows (then ``Attendance``).

Should PostgreSQL still report a deadlock (40P01) or a serialization failure (40001), as it may under an exclusion
or unique constraint (FIELD-NOTES), :func:`conflict_retry` runs the service again a couple of times after a short
pause, then answers 409 ``concurrent_change``; never a 500.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from backend.core.exceptions import Conflict
from backend.staffing.exceptions import StaffingErrorCode
from backend.staffing.models import Worker

P = ParamSpec("P")
R = TypeVar("R")

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
ATTEMPTS = 3


def lock_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a deadlock or a serialization failure reported by the database."""
    return isinstance(exc, DatabaseError) and getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES


def conflict_retry(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` (a service that opens its own ``transaction.atomic``) again after a deadlock or a
    serialization failure, up to ``ATTEMPTS`` times, then raise 409 ``concurrent_change``.

    Inside an outer transaction (the Idempotency-Key middleware's) nothing can be retried: the failed statement
    aborted the outer transaction too, so the conflict is turned into the 409 at once and the outer block rolls
    back."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        attempts = 1 if transaction.get_connection().in_atomic_block else ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                return func(*args, **kwargs)
            except DatabaseError as exc:
                if not lock_conflict(exc):
                    raise
                if attempt == attempts:
                    raise Conflict(
                        _("A concurrent change won. Try again."), code=StaffingErrorCode.CONCURRENT_CHANGE
                    ) from exc
                time.sleep(0.01 * attempt + random.uniform(0, 0.02))
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


def worker_lock(worker_id: int) -> Worker:
    """Lock and return the worker row: the first lock of every path that acts for one worker."""
    return Worker.objects.select_for_update(of=("self",)).select_related("user").get(pk=worker_id)
