"""Typed instance and solution schemas, parsed from JSON with errors that name the JSON path.

The JSON contract is shared with the staffing app's adapter, so parsing is strict: unknown keys, wrong
types and out-of-range values are reported with a path such as ``$.workers[3].location`` instead of
surfacing later as a solver crash.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from scheduling_solver import probability

STATUSES = ("optimal", "feasible", "infeasible")
# Service-level policies of a shift: ``spread`` prices every empty place alike (the first solver's
# behaviour); ``full_first`` also charges ``Policy.shortfall_penalty`` whenever the shift falls short.
SERVICE_POLICIES = ("spread", "full_first")


class SchemaError(ValueError):
    """Raised when a document does not match the schema; ``errors`` holds ``(json_path, message)`` pairs."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors = list(errors)
        first_path, first_message = self.errors[0]
        more = len(self.errors) - 1
        suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
        super().__init__(f"{first_path}: {first_message}{suffix}")


@dataclass(frozen=True, slots=True)
class Worker:
    """A ranked worker with a (possibly time-decayed) show-up record."""

    id: str
    rank: float
    shows: float
    no_shows: float
    skills: tuple[str, ...]
    location: tuple[float, float]
    available: tuple[tuple[datetime, datetime], ...]
    max_shifts_per_day: int = 1
    fixed: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Shift:
    """A client order: ``headcount`` people with all of ``skills`` at ``location`` from start to end.

    Service level (all optional; the defaults reproduce the first solver exactly):
    ``priority`` (>= 0, default 1.0) multiplies the shift's shortfall cost, both the per-place
    ``cost_unfilled`` and the ``full_first`` penalty (never the idle cost). ``policy``: ``spread``
    (default) or ``full_first``, which adds ``Policy.shortfall_penalty`` x P(X < headcount), X the number
    of called workers who come: the expected value of a fixed penalty charged whenever the shift is not
    fully staffed, so "fully staffed" means X >= headcount, the event ``fill_probability`` measures, and the
    validator recomputes it exactly from the Poisson-binomial distribution. ``min_fill`` (0 <= min_fill
    <= headcount, default 0) is a hard lower bound on the expected attendance (the sum of the called
    workers' show probabilities); a plan below it is invalid and a day that cannot reach it is answered
    ``infeasible``.
    """

    id: str
    start: datetime
    end: datetime
    headcount: int
    skills: tuple[str, ...]
    location: tuple[float, float]
    priority: float = 1.0
    policy: str = "spread"
    min_fill: float = 0.0

    @property
    def day(self) -> date:
        """The calendar day that ``max_shifts_per_day`` counts against: the local date the shift starts."""
        return self.start.date()


@dataclass(frozen=True, slots=True)
class Policy:
    """Costs, limits and solver knobs. Every field has a default so callers may send ``{}``.

    ``prior``: Beta prior (shows, no-shows) pseudo-counts for the show probability.
    ``cost_unfilled``: cost of each requested place left empty. ``cost_idle``: cost of each worker who
    comes but is not needed. ``max_travel_km``: great-circle distance limit worker to shift.
    ``min_rest_minutes``: least gap between two shifts of one worker. ``max_call_ratio``: at most
    ``ceil(ratio * headcount)`` called per shift. ``rank_weight``: cost per call of a rank-0 worker,
    falling linearly to 0 at rank 100 (rank is a 0-100 rating).
    ``distance_weight``: cost per call per km. ``time_limit_s``: wall budget for ``solve``.
    ``seed``: makes the solve reproducible. ``standby_size``: length of each shift's standby list.
    ``shortfall_penalty``: cost of a ``full_first`` shift not being fully staffed (charged as the
    penalty times P(attendance < headcount)); ignored by ``spread`` shifts.
    """

    prior: tuple[float, float] = (4.0, 1.0)
    cost_unfilled: float = 6.0
    cost_idle: float = 1.0
    max_travel_km: float = 25.0
    min_rest_minutes: float = 60.0
    max_call_ratio: float = 2.5
    rank_weight: float = 0.01
    distance_weight: float = 0.001
    time_limit_s: float = 10.0
    seed: int = 0
    standby_size: int = 5
    shortfall_penalty: float = 20.0


@dataclass(frozen=True)
class Instance:
    """One city day: workers, shifts and the policy to plan them with."""

    workers: tuple[Worker, ...]
    shifts: tuple[Shift, ...]
    policy: Policy = field(default_factory=Policy)

    def show_probability(self, worker: Worker) -> float:
        """The worker's show probability under this instance's prior."""
        return probability.show_probability(worker.shows, worker.no_shows, self.policy.prior)

    def call_cap(self, shift: Shift) -> int:
        """Most workers that may be called for ``shift``."""
        # The small epsilon keeps 2.5 * 4 = 10.000000000000002 from rounding up to 11.
        return math.ceil(self.policy.max_call_ratio * shift.headcount - 1e-9)

    def service_terms(self, shift: Shift) -> tuple[float, float]:
        """(cost per expected empty place, cost of not being fully staffed) of ``shift``, both scaled by
        its priority; the second is 0 for ``spread`` shifts."""
        penalty = self.policy.shortfall_penalty if shift.policy == "full_first" else 0.0
        return shift.priority * self.policy.cost_unfilled, shift.priority * penalty

    def with_policy(self, **changes: Any) -> Instance:
        """A copy with some policy fields replaced (used by the benchmark sweep)."""
        return Instance(self.workers, self.shifts, replace(self.policy, **changes))


@dataclass(frozen=True, slots=True)
class ShiftPlan:
    """Who to call for one shift, who to keep on standby, and the exact consequences."""

    called: tuple[str, ...]
    standby: tuple[str, ...]
    expected_attendance: float
    fill_probability: float
    expected_cost: float


@dataclass(frozen=True, slots=True)
class Totals:
    """Day-level sums; ``objective`` adds the rank and distance terms to ``expected_cost``."""

    called: int
    expected_cost: float
    mean_fill_probability: float
    objective: float = 0.0


@dataclass(frozen=True, slots=True)
class Phase:
    """What one solver phase did: its wall time and how much of the objective it removed.

    ``name`` is one of ``greedy`` (marginal-gain construction from the fixed and ``min_fill`` calls),
    ``exact`` (the subset model of tiny days), ``selection`` (CP-SAT choice of the ``full_first`` shifts
    to staff fully), ``polish`` (CP-SAT from the plan as a hint) and ``local_search``.
    ``objective_removed`` is the drop in ``Totals.objective`` across the phase (never negative: a phase
    whose plan is worse is not adopted), so the phases' figures add up to the plan's objective below
    the starting plan's. Informational only: the validator does not check it, and old solutions without
    phases stay valid.
    """

    name: str
    wall_s: float
    objective_removed: float


@dataclass(frozen=True)
class Solution:
    """A plan for every shift, or ``infeasible`` with ``reasons`` naming the contradiction.

    ``phases`` (optional, default empty) accounts for the solver's phases in the order they ran.
    """

    status: str
    wall_s: float
    shifts: dict[str, ShiftPlan]
    totals: Totals
    reasons: tuple[str, ...] = ()
    phases: tuple[Phase, ...] = ()


# ----------------------------------------------------------------------------------------------------------
# Parsing helpers. Each takes the JSON path of the value so every error says exactly where it is.


class _Errors:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def _is_number(value: Any) -> bool:
    # bool is an int subclass; ``true`` is never a sensible count or coordinate.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(
    errs: _Errors,
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    default: float | None = None,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    p = f"{path}.{key}"
    if key not in obj:
        if default is None:
            errs.add(p, "is required")
            return 0.0
        return default
    value = obj[key]
    if not _is_number(value):
        errs.add(p, f"expected a finite number, got {_describe(value)}")
        return default if default is not None else 0.0
    v = float(value)
    if low is not None and (v <= low if low_open else v < low):
        errs.add(p, f"must be {'>' if low_open else '>='} {low:g}, got {v:g}")
    if high is not None and v > high:
        errs.add(p, f"must be <= {high:g}, got {v:g}")
    return v


def _integer(
    errs: _Errors, obj: Mapping[str, Any], key: str, path: str, *, default: int | None = None, low: int = 0
) -> int:
    p = f"{path}.{key}"
    if key not in obj:
        if default is None:
            errs.add(p, "is required")
            return low
        return default
    value = obj[key]
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
        errs.add(p, f"expected an integer, got {_describe(value)}")
        return default if default is not None else low
    v = int(value)
    if v < low:
        errs.add(p, f"must be >= {low}, got {v}")
    return v


def _string(errs: _Errors, obj: Mapping[str, Any], key: str, path: str) -> str:
    p = f"{path}.{key}"
    value = obj.get(key)
    if key not in obj:
        errs.add(p, "is required")
        return ""
    if not isinstance(value, str) or not value:
        errs.add(p, f"expected a non-empty string, got {_describe(value)}")
        return ""
    return value


def _string_list(errs: _Errors, obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    p = f"{path}.{key}"
    if key not in obj:
        return ()
    value = obj[key]
    if not isinstance(value, list):
        errs.add(p, f"expected a list of strings, got {_describe(value)}")
        return ()
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            errs.add(f"{p}[{i}]", f"expected a non-empty string, got {_describe(item)}")
        else:
            out.append(item)
    return tuple(out)


def _location(errs: _Errors, obj: Mapping[str, Any], path: str) -> tuple[float, float]:
    p = f"{path}.location"
    if "location" not in obj:
        errs.add(p, "is required")
        return (0.0, 0.0)
    value = obj["location"]
    if not isinstance(value, list) or len(value) != 2 or not all(_is_number(v) for v in value):
        errs.add(p, f"expected [latitude, longitude], got {_describe(value)}")
        return (0.0, 0.0)
    lat, lon = float(value[0]), float(value[1])
    if not -90.0 <= lat <= 90.0:
        errs.add(f"{p}[0]", f"latitude must be within [-90, 90], got {lat:g}")
    if not -180.0 <= lon <= 180.0:
        errs.add(f"{p}[1]", f"longitude must be within [-180, 180], got {lon:g}")
    return (lat, lon)


def _datetime(errs: _Errors, value: Any, path: str) -> datetime | None:
    if not isinstance(value, str):
        errs.add(path, f"expected an ISO 8601 date-time string, got {_describe(value)}")
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errs.add(path, f"not an ISO 8601 date-time: {value!r}")
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        # Naive times would be read in the solver's zone, not the branch's: refuse them.
        errs.add(path, f"date-time must carry a UTC offset: {value!r}")
        return None
    return parsed


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _unknown_keys(errs: _Errors, obj: Mapping[str, Any], allowed: set[str], path: str) -> None:
    # Typos such as "headcout" would otherwise silently fall back to a default.
    for key in obj:
        if key not in allowed:
            errs.add(f"{path}.{key}", "unknown field")


_WORKER_KEYS = {
    "id",
    "rank",
    "shows",
    "no_shows",
    "skills",
    "location",
    "available",
    "max_shifts_per_day",
    "fixed",
    "excluded",
}
_SHIFT_KEYS = {"id", "start", "end", "headcount", "skills", "location", "priority", "policy", "min_fill"}
_POLICY_KEYS = set(Policy.__dataclass_fields__)


def _parse_policy(errs: _Errors, obj: Any, path: str) -> Policy:
    if obj is None:
        return Policy()
    if not isinstance(obj, dict):
        errs.add(path, f"expected an object, got {_describe(obj)}")
        return Policy()
    _unknown_keys(errs, obj, _POLICY_KEYS, path)
    d = Policy()
    prior = d.prior
    if "prior" in obj:
        value = obj["prior"]
        if not isinstance(value, list) or len(value) != 2 or not all(_is_number(v) and v > 0 for v in value):
            errs.add(f"{path}.prior", f"expected two positive numbers [a, b], got {_describe(value)}")
        else:
            prior = (float(value[0]), float(value[1]))
    return Policy(
        prior=prior,
        cost_unfilled=_number(errs, obj, "cost_unfilled", path, default=d.cost_unfilled, low=0.0),
        cost_idle=_number(errs, obj, "cost_idle", path, default=d.cost_idle, low=0.0),
        max_travel_km=_number(errs, obj, "max_travel_km", path, default=d.max_travel_km, low=0.0),
        min_rest_minutes=_number(errs, obj, "min_rest_minutes", path, default=d.min_rest_minutes, low=0.0),
        max_call_ratio=_number(errs, obj, "max_call_ratio", path, default=d.max_call_ratio, low=1.0),
        rank_weight=_number(errs, obj, "rank_weight", path, default=d.rank_weight, low=0.0),
        distance_weight=_number(errs, obj, "distance_weight", path, default=d.distance_weight, low=0.0),
        time_limit_s=_number(errs, obj, "time_limit_s", path, default=d.time_limit_s, low=0.0, low_open=True),
        seed=_integer(errs, obj, "seed", path, default=d.seed, low=0),
        standby_size=_integer(errs, obj, "standby_size", path, default=d.standby_size, low=0),
        shortfall_penalty=_number(errs, obj, "shortfall_penalty", path, default=d.shortfall_penalty, low=0.0),
    )


def _parse_worker(errs: _Errors, obj: Any, path: str) -> Worker | None:
    if not isinstance(obj, dict):
        errs.add(path, f"expected an object, got {_describe(obj)}")
        return None
    _unknown_keys(errs, obj, _WORKER_KEYS, path)
    windows: list[tuple[datetime, datetime]] = []
    avail = obj.get("available", [])
    if not isinstance(avail, list):
        errs.add(f"{path}.available", f"expected a list of [start, end] pairs, got {_describe(avail)}")
        avail = []
    for i, pair in enumerate(avail):
        wp = f"{path}.available[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            errs.add(wp, f"expected [start, end], got {_describe(pair)}")
            continue
        start = _datetime(errs, pair[0], f"{wp}[0]")
        end = _datetime(errs, pair[1], f"{wp}[1]")
        if start is not None and end is not None:
            if end <= start:
                errs.add(wp, "window must end after it starts")
            else:
                windows.append((start, end))
    return Worker(
        id=_string(errs, obj, "id", path),
        rank=_number(errs, obj, "rank", path, low=0.0, high=100.0),
        shows=_number(errs, obj, "shows", path, default=0.0, low=0.0),
        no_shows=_number(errs, obj, "no_shows", path, default=0.0, low=0.0),
        skills=_string_list(errs, obj, "skills", path),
        location=_location(errs, obj, path),
        available=tuple(windows),
        max_shifts_per_day=_integer(errs, obj, "max_shifts_per_day", path, default=1, low=1),
        fixed=_string_list(errs, obj, "fixed", path),
        excluded=_string_list(errs, obj, "excluded", path),
    )


def _parse_shift(errs: _Errors, obj: Any, path: str) -> Shift | None:
    if not isinstance(obj, dict):
        errs.add(path, f"expected an object, got {_describe(obj)}")
        return None
    _unknown_keys(errs, obj, _SHIFT_KEYS, path)
    start = _datetime(errs, obj.get("start"), f"{path}.start") if "start" in obj else None
    end = _datetime(errs, obj.get("end"), f"{path}.end") if "end" in obj else None
    if "start" not in obj:
        errs.add(f"{path}.start", "is required")
    if "end" not in obj:
        errs.add(f"{path}.end", "is required")
    if start is not None and end is not None and end <= start:
        errs.add(f"{path}.end", "shift must end after it starts")
    placeholder = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
    headcount = _integer(errs, obj, "headcount", path, low=1)
    service = obj.get("policy", "spread")
    if service not in SERVICE_POLICIES:
        errs.add(f"{path}.policy", f"expected one of {', '.join(SERVICE_POLICIES)}, got {_describe(service)}")
        service = "spread"
    return Shift(
        id=_string(errs, obj, "id", path),
        start=start or placeholder,
        end=end or placeholder,
        headcount=headcount,
        skills=_string_list(errs, obj, "skills", path),
        location=_location(errs, obj, path),
        priority=_number(errs, obj, "priority", path, default=1.0, low=0.0),
        policy=str(service),
        min_fill=_number(errs, obj, "min_fill", path, default=0.0, low=0.0, high=float(max(headcount, 1))),
    )


def parse_instance(data: Any) -> Instance:
    """Parse and check an instance document; raise :class:`SchemaError` listing every problem by path."""
    errs = _Errors()
    if not isinstance(data, dict):
        raise SchemaError([("$", f"expected an object with workers, shifts and policy, got {_describe(data)}")])
    _unknown_keys(errs, data, {"workers", "shifts", "policy"}, "$")
    raw_workers = data.get("workers")
    raw_shifts = data.get("shifts")
    if not isinstance(raw_workers, list):
        errs.add("$.workers", f"expected a list, got {_describe(raw_workers)}")
        raw_workers = []
    if not isinstance(raw_shifts, list):
        errs.add("$.shifts", f"expected a list, got {_describe(raw_shifts)}")
        raw_shifts = []
    policy = _parse_policy(errs, data.get("policy"), "$.policy")
    shifts = [_parse_shift(errs, s, f"$.shifts[{i}]") for i, s in enumerate(raw_shifts)]
    workers = [_parse_worker(errs, w, f"$.workers[{i}]") for i, w in enumerate(raw_workers)]

    shift_ids: set[str] = set()
    for i, s in enumerate(shifts):
        if s is not None and s.id:
            if s.id in shift_ids:
                errs.add(f"$.shifts[{i}].id", f"duplicate shift id {s.id!r}")
            shift_ids.add(s.id)
    worker_ids: set[str] = set()
    for i, w in enumerate(workers):
        if w is None:
            continue
        if w.id:
            if w.id in worker_ids:
                errs.add(f"$.workers[{i}].id", f"duplicate worker id {w.id!r}")
            worker_ids.add(w.id)
        for j, sid in enumerate(w.fixed):
            # An accepted shift must exist; a decline may mention another day's shift and is harmless.
            if sid not in shift_ids:
                errs.add(f"$.workers[{i}].fixed[{j}]", f"unknown shift id {sid!r}")
    if errs.items:
        raise SchemaError(errs.items)
    return Instance(
        workers=tuple(w for w in workers if w is not None),
        shifts=tuple(s for s in shifts if s is not None),
        policy=policy,
    )


def _parse_shift_plan(errs: _Errors, obj: Any, path: str) -> ShiftPlan:
    if not isinstance(obj, dict):
        errs.add(path, f"expected an object, got {_describe(obj)}")
        return ShiftPlan((), (), 0.0, 0.0, 0.0)
    _unknown_keys(errs, obj, {"called", "standby", "expected_attendance", "fill_probability", "expected_cost"}, path)
    if not isinstance(obj.get("called"), list):
        errs.add(f"{path}.called", f"expected a list of worker ids, got {_describe(obj.get('called'))}")
    return ShiftPlan(
        called=_string_list(errs, obj, "called", path),
        standby=_string_list(errs, obj, "standby", path),
        expected_attendance=_number(errs, obj, "expected_attendance", path, low=0.0),
        fill_probability=_number(errs, obj, "fill_probability", path, low=0.0, high=1.0 + 1e-9),
        expected_cost=_number(errs, obj, "expected_cost", path, low=0.0),
    )


def parse_solution(data: Any) -> Solution:
    """Parse and check a solution document; raise :class:`SchemaError` listing every problem by path."""
    errs = _Errors()
    if not isinstance(data, dict):
        raise SchemaError([("$", f"expected a solution object, got {_describe(data)}")])
    _unknown_keys(errs, data, {"status", "wall_s", "shifts", "totals", "reasons", "phases"}, "$")
    status = data.get("status")
    if status not in STATUSES:
        errs.add("$.status", f"expected one of {', '.join(STATUSES)}, got {_describe(status)}")
    wall = _number(errs, data, "wall_s", "$", default=0.0, low=0.0)
    plans: dict[str, ShiftPlan] = {}
    raw = data.get("shifts")
    if not isinstance(raw, dict):
        errs.add("$.shifts", f"expected an object keyed by shift id, got {_describe(raw)}")
        raw = {}
    for sid, plan in raw.items():
        plans[sid] = _parse_shift_plan(errs, plan, f"$.shifts.{sid}")
    totals_raw = data.get("totals")
    if not isinstance(totals_raw, dict):
        errs.add("$.totals", f"expected an object, got {_describe(totals_raw)}")
        totals_raw = {}
    else:
        _unknown_keys(errs, totals_raw, {"called", "expected_cost", "mean_fill_probability", "objective"}, "$.totals")
    totals = Totals(
        called=_integer(errs, totals_raw, "called", "$.totals", low=0),
        expected_cost=_number(errs, totals_raw, "expected_cost", "$.totals", low=0.0),
        mean_fill_probability=_number(errs, totals_raw, "mean_fill_probability", "$.totals", low=0.0, high=1.0 + 1e-9),
        objective=_number(errs, totals_raw, "objective", "$.totals", default=0.0),
    )
    reasons = _string_list(errs, data, "reasons", "$")
    phases = _parse_phases(errs, data.get("phases", []), "$.phases")
    if errs.items:
        raise SchemaError(errs.items)
    return Solution(status=str(status), wall_s=wall, shifts=plans, totals=totals, reasons=reasons, phases=phases)


def _parse_phases(errs: _Errors, value: Any, path: str) -> tuple[Phase, ...]:
    if not isinstance(value, list):
        errs.add(path, f"expected a list of phases, got {_describe(value)}")
        return ()
    out: list[Phase] = []
    for i, obj in enumerate(value):
        p = f"{path}[{i}]"
        if not isinstance(obj, dict):
            errs.add(p, f"expected an object, got {_describe(obj)}")
            continue
        _unknown_keys(errs, obj, {"name", "wall_s", "objective_removed"}, p)
        out.append(
            Phase(
                name=_string(errs, obj, "name", p),
                wall_s=_number(errs, obj, "wall_s", p, low=0.0),
                objective_removed=_number(errs, obj, "objective_removed", p, low=0.0),
            )
        )
    return tuple(out)


# ----------------------------------------------------------------------------------------------------------
# Serialisation back to the JSON contract.


def instance_to_json(instance: Instance) -> dict[str, Any]:
    """The JSON document for an instance (inverse of :func:`parse_instance`)."""
    p = instance.policy
    return {
        "workers": [
            {
                "id": w.id,
                "rank": w.rank,
                "shows": w.shows,
                "no_shows": w.no_shows,
                "skills": list(w.skills),
                "location": list(w.location),
                "available": [[a.isoformat(), b.isoformat()] for a, b in w.available],
                "max_shifts_per_day": w.max_shifts_per_day,
                "fixed": list(w.fixed),
                "excluded": list(w.excluded),
            }
            for w in instance.workers
        ],
        "shifts": [
            {
                "id": s.id,
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "headcount": s.headcount,
                "skills": list(s.skills),
                "location": list(s.location),
                "priority": s.priority,
                "policy": s.policy,
                "min_fill": s.min_fill,
            }
            for s in instance.shifts
        ],
        "policy": {
            "prior": list(p.prior),
            "cost_unfilled": p.cost_unfilled,
            "cost_idle": p.cost_idle,
            "max_travel_km": p.max_travel_km,
            "min_rest_minutes": p.min_rest_minutes,
            "max_call_ratio": p.max_call_ratio,
            "rank_weight": p.rank_weight,
            "distance_weight": p.distance_weight,
            "time_limit_s": p.time_limit_s,
            "seed": p.seed,
            "standby_size": p.standby_size,
            "shortfall_penalty": p.shortfall_penalty,
        },
    }


def solution_to_json(solution: Solution) -> dict[str, Any]:
    """The JSON document for a solution."""
    return {
        "status": solution.status,
        "wall_s": round(solution.wall_s, 3),
        "shifts": {
            sid: {
                "called": list(plan.called),
                "standby": list(plan.standby),
                "expected_attendance": plan.expected_attendance,
                "fill_probability": plan.fill_probability,
                "expected_cost": plan.expected_cost,
            }
            for sid, plan in solution.shifts.items()
        },
        "totals": {
            "called": solution.totals.called,
            "expected_cost": solution.totals.expected_cost,
            "mean_fill_probability": solution.totals.mean_fill_probability,
            "objective": solution.totals.objective,
        },
        "reasons": list(solution.reasons),
        "phases": [
            {"name": ph.name, "wall_s": ph.wall_s, "objective_removed": ph.objective_removed} for ph in solution.phases
        ],
    }
