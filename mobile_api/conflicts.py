"""A 409 tells a replaying phone what changed: the refusal's code plus the object's current state.

A write queued offline meets a world that moved on (the offer expired, the place went, the visit was cancelled by
the salon). The domain's refusal already names what happened (its machine code); this adds, under
``error.fields.current``, the object as the caller's read route would show it now, so the app can update its copy
and tell the user without another round trip. The state is read after the refused change rolled back, through the
same selector and shape as the read route (so it shows nothing the caller could not read anyway).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest

from backend.core.exceptions import ApplicationError

CURRENT = "current"


def conflict_shows_current(read: Callable[[Any, Any], dict[str, Any]], *, id_param: str) -> Callable[..., Any]:
    """Decorate a write route (below its ``@router`` line): on a 409, attach ``read(user, id)`` as ``current``."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                return view(request, *args, **kwargs)
            except ApplicationError as exc:
                if exc.status == 409 and CURRENT not in exc.fields:
                    # Gone from the caller's sight meanwhile (or unreadable now): the refusal alone.
                    with contextlib.suppress(ApplicationError, DatabaseError):
                        exc.fields = {**exc.fields, CURRENT: read(request.auth, kwargs[id_param])}  # type: ignore[attr-defined]
                raise

        # ninja reads the view's parameters from its signature; the route module's postponed annotations must be
        # resolved in that module, not in this one.
        wrapper.__signature__ = inspect.signature(view, eval_str=True)  # type: ignore[attr-defined]
        return wrapper

    return decorate
