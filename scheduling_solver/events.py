"""What happens to a plan after it goes out, one event at a time, and the JSON form of each event.

The staffing app sends these to :func:`scheduling_solver.replan.replan_one` as offers are answered:

* :class:`Decline`: the worker said no to this shift.
* :class:`Timeout`: the offer expired unanswered.
* :class:`NoShow`: the worker accepted (or was called) but did not come.
* :class:`Accept`: the worker accepted; the call becomes fixed and no repair may take it back.
* :class:`Available`: a worker declares availability for the day: either a worker the day does not know
  yet (the full record, with no accepted shifts), or a known worker with more availability windows (the
  known record with the new windows: rank, history, skills, location and daily limit must match; its
  ``fixed`` and ``excluded`` are the plan's own state and are taken from the plan, not the event).

Decline, timeout and no-show all take the worker off that shift's call list and exclude them from it
for the rest of the day, exactly as the batch :func:`scheduling_solver.replan.replan` treats declines and
no-shows; the worker stays eligible for other shifts.

JSON: ``{"type": "decline", "worker": "w7", "shift": "s3"}`` (likewise ``timeout``, ``no_show``,
``accept``) and ``{"type": "available", "worker": {...a worker object as in the instance...}}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scheduling_solver.schemas import (
    Instance,
    SchemaError,
    Worker,
    _describe,
    _Errors,
    _parse_worker,
    _string,
    _unknown_keys,
    instance_to_json,
)

# Event types in the JSON form, in the order the documentation lists them.
EVENT_TYPES = ("decline", "timeout", "no_show", "accept", "available")


@dataclass(frozen=True, slots=True)
class Decline:
    """``worker_id`` declined the call for ``shift_id``."""

    worker_id: str
    shift_id: str


@dataclass(frozen=True, slots=True)
class Timeout:
    """The call of ``worker_id`` for ``shift_id`` expired without an answer."""

    worker_id: str
    shift_id: str


@dataclass(frozen=True, slots=True)
class NoShow:
    """``worker_id`` was called for ``shift_id`` (usually had accepted) and did not come."""

    worker_id: str
    shift_id: str


@dataclass(frozen=True, slots=True)
class Accept:
    """``worker_id`` accepted the call for ``shift_id``."""

    worker_id: str
    shift_id: str


@dataclass(frozen=True, slots=True)
class Available:
    """``worker`` is available for the day: a new worker, or a known one with more windows."""

    worker: Worker


Event = Decline | Timeout | NoShow | Accept | Available
# Events that take a worker off a shift's call list.
Removal = Decline | Timeout | NoShow

_PAIR_TYPES: dict[str, type[Decline] | type[Timeout] | type[NoShow] | type[Accept]] = {
    "decline": Decline,
    "timeout": Timeout,
    "no_show": NoShow,
    "accept": Accept,
}


def event_type(event: Event) -> str:
    """The JSON ``type`` of ``event``."""
    if isinstance(event, Available):
        return "available"
    for name, cls in _PAIR_TYPES.items():
        if isinstance(event, cls):
            return name
    raise TypeError(f"not an event: {event!r}")


def parse_event(data: Any) -> Event:
    """Parse one event document; raise :class:`SchemaError` naming the JSON path of every problem."""
    errs = _Errors()
    if not isinstance(data, dict):
        raise SchemaError([("$", f"expected an event object, got {_describe(data)}")])
    kind = data.get("type")
    if kind not in EVENT_TYPES:
        raise SchemaError([("$.type", f"expected one of {', '.join(EVENT_TYPES)}, got {_describe(kind)}")])
    if kind == "available":
        _unknown_keys(errs, data, {"type", "worker"}, "$")
        if "worker" not in data:
            errs.add("$.worker", "is required")
            raise SchemaError(errs.items)
        worker = _parse_worker(errs, data["worker"], "$.worker")
        if errs.items or worker is None:
            raise SchemaError(errs.items or [("$.worker", "expected a worker object")])
        return Available(worker)
    _unknown_keys(errs, data, {"type", "worker", "shift"}, "$")
    worker_id = _string(errs, data, "worker", "$")
    shift_id = _string(errs, data, "shift", "$")
    if errs.items:
        raise SchemaError(errs.items)
    return _PAIR_TYPES[kind](worker_id, shift_id)


def event_to_json(event: Event) -> dict[str, Any]:
    """The JSON document for ``event`` (inverse of :func:`parse_event`)."""
    kind = event_type(event)
    if isinstance(event, Available):
        # Reuse the instance serialiser so a worker reads the same in both documents.
        worker = instance_to_json(Instance((event.worker,), ()))["workers"][0]
        return {"type": kind, "worker": worker}
    return {"type": kind, "worker": event.worker_id, "shift": event.shift_id}
