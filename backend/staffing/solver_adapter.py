"""The one place staffing talks to ``scheduling_solver``: plain inputs in, the solver's JSON contract across,
plain plans out. No other module of the backend imports the solver (a test checks it).

Ids cross the border as strings: worker ``w<pk>``, shift ``s<pk>``, so a plan maps back to rows without lookups.
The instance and the solution are kept as JSON documents (``SolverRun.input`` / ``output``): a stored run can be
replayed with ``python -m scheduling_solver solve`` and re-planned later without the live solver context.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scheduling_solver import (
    Instance,
    SchemaError,
    Worker,
    instance_to_json,
    parse_instance,
    parse_solution,
    replan,
    solution_to_json,
    solve,
)
from scheduling_solver.geo import haversine_km
from scheduling_solver.probability import decay_weights as decay_weights  # re-exported: the one time decay
from scheduling_solver.probability import fit_prior, show_probability

#: The solver's default prior (shows, no-shows pseudo-counts) when the pool's histories are too few to fit one.
DEFAULT_PRIOR = (4.0, 1.0)


class SolverInputError(ValueError):
    """The instance did not parse: a bug on our side (the message names the JSON path)."""


@dataclass(frozen=True)
class WorkerIn:
    """One worker as the solver sees them: decayed history, rank 0-100, home, free windows, fixed/excluded shifts."""

    worker_id: int
    rank: float
    shows: float
    no_shows: float
    skills: Sequence[str]
    location: tuple[float, float]
    available: Sequence[tuple[dt.datetime, dt.datetime]]
    max_shifts_per_day: int = 1
    fixed: Sequence[int] = ()
    excluded: Sequence[int] = ()


@dataclass(frozen=True)
class ShiftIn:
    shift_id: int
    start: dt.datetime
    end: dt.datetime
    headcount: int
    skills: Sequence[str]
    location: tuple[float, float]


@dataclass(frozen=True)
class ShiftPlanOut:
    """Who to call for one shift (worker pks, in the plan's order), who stands by, and the exact figures."""

    called: list[int]
    standby: list[int]
    expected_attendance: float
    fill_probability: float
    expected_cost: float


@dataclass(frozen=True)
class PlanOut:
    status: str  # optimal | feasible | infeasible
    wall_s: float
    plans: dict[int, ShiftPlanOut] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    solution: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)


def _wid(pk: int) -> str:
    return f"w{pk}"


def _sid(pk: int) -> str:
    return f"s{pk}"


def _pk(text: str) -> int:
    return int(text[1:])


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def prior_fit(histories: Iterable[tuple[float, float]]) -> tuple[float, float]:
    """The pool's Beta prior fitted to its workers' (decayed shows, no-shows), the solver's default without enough."""
    return fit_prior(histories, DEFAULT_PRIOR)


def probability_of_show(shows: float, no_shows: float, prior: Sequence[float]) -> float:
    """A worker's show probability under ``prior`` (the solver's one definition)."""
    return float(show_probability(float(shows), float(no_shows), (float(prior[0]), float(prior[1]))))


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance, the solver's definition of travel."""
    return haversine_km(a, b)


def instance_build(
    *,
    workers: Sequence[WorkerIn],
    shifts: Sequence[ShiftIn],
    prior: Sequence[float],
    time_limit_s: float,
    standby_size: int,
    max_call_ratio: float | None = None,
    max_travel_km: float | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The instance document for the solver; raises ``SolverInputError`` if the solver's parser refuses it."""
    document = _document(
        workers=workers,
        shifts=shifts,
        prior=prior,
        time_limit_s=time_limit_s,
        standby_size=standby_size,
        max_call_ratio=max_call_ratio,
        max_travel_km=max_travel_km,
        seed=seed,
    )
    try:
        return instance_to_json(parse_instance(document))
    except SchemaError as exc:
        raise SolverInputError(str(exc)) from exc


def plan_build_and_solve(
    *,
    workers: Sequence[WorkerIn],
    shifts: Sequence[ShiftIn],
    prior: Sequence[float],
    time_limit_s: float,
    standby_size: int,
    seed: int = 0,
) -> PlanOut:
    """``instance_build`` then ``plan_solve`` for a plan whose instance nobody stores (the demo's history): the
    shifts and the policy go through the solver's parser, the workers are built as the parser would build them
    from their document (``_workers_direct``), without writing and re-reading every window as text. Never call
    this inside a web request."""
    document = _document(
        workers=[], shifts=shifts, prior=prior, time_limit_s=time_limit_s, standby_size=standby_size, seed=seed
    )
    try:
        parsed = parse_instance(document)
    except SchemaError as exc:
        raise SolverInputError(str(exc)) from exc
    known = {s.shift_id for s in shifts}
    instance = Instance(workers=_workers_direct(workers, known), shifts=parsed.shifts, policy=parsed.policy)
    return _plan_out(solution_to_json(solve(instance)))


def _workers_direct(workers: Sequence[WorkerIn], known: set[int]) -> tuple[Worker, ...]:
    """The solver's workers for ``workers``, equal to ``parse_instance``'s of their ``_document`` entries (the same
    clamps, windows in UTC, only those ending after they start); refuses what the parser refuses there."""
    out = []
    seen: set[int] = set()
    for w in workers:
        lat, lon = float(w.location[0]), float(w.location[1])
        if w.worker_id in seen or not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise SolverInputError(f"worker {_wid(w.worker_id)}: a duplicate id or a location out of range")
        if any(a.tzinfo is None or a.utcoffset() is None or b.tzinfo is None for a, b in w.available):
            raise SolverInputError(f"worker {_wid(w.worker_id)}: a window without its UTC offset")
        seen.add(w.worker_id)
        out.append(
            Worker(
                id=_wid(w.worker_id),
                rank=max(0.0, min(100.0, float(w.rank))),
                shows=max(0.0, float(w.shows)),
                no_shows=max(0.0, float(w.no_shows)),
                skills=tuple(str(k) for k in w.skills),
                location=(lat, lon),
                available=tuple((a.astimezone(dt.UTC), b.astimezone(dt.UTC)) for a, b in w.available if b > a),
                max_shifts_per_day=max(1, int(w.max_shifts_per_day)),
                fixed=tuple(_sid(s) for s in w.fixed if s in known),
                excluded=tuple(_sid(s) for s in w.excluded),
            )
        )
    return tuple(out)


def _document(
    *,
    workers: Sequence[WorkerIn],
    shifts: Sequence[ShiftIn],
    prior: Sequence[float],
    time_limit_s: float,
    standby_size: int,
    max_call_ratio: float | None = None,
    max_travel_km: float | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    known = {s.shift_id for s in shifts}
    policy: dict[str, Any] = {
        "prior": [float(prior[0]), float(prior[1])],
        "time_limit_s": float(time_limit_s),
        "standby_size": int(standby_size),
        "seed": int(seed),
    }
    if max_call_ratio is not None:
        policy["max_call_ratio"] = float(max_call_ratio)
    if max_travel_km is not None:
        policy["max_travel_km"] = float(max_travel_km)
    return {
        "workers": [
            {
                "id": _wid(w.worker_id),
                "rank": max(0.0, min(100.0, float(w.rank))),
                "shows": max(0.0, float(w.shows)),
                "no_shows": max(0.0, float(w.no_shows)),
                "skills": list(w.skills),
                "location": [float(w.location[0]), float(w.location[1])],
                "available": [[_iso(a), _iso(b)] for a, b in w.available if b > a],
                "max_shifts_per_day": max(1, int(w.max_shifts_per_day)),
                "fixed": [_sid(s) for s in w.fixed if s in known],
                "excluded": [_sid(s) for s in w.excluded],
            }
            for w in workers
        ],
        "shifts": [
            {
                "id": _sid(s.shift_id),
                "start": _iso(s.start),
                "end": _iso(s.end),
                "headcount": int(s.headcount),
                "skills": list(s.skills),
                "location": [float(s.location[0]), float(s.location[1])],
            }
            for s in shifts
        ],
        "policy": policy,
    }


def _plan_out(solution_json: dict[str, Any]) -> PlanOut:
    plans = {
        _pk(sid): ShiftPlanOut(
            called=[_pk(w) for w in plan["called"]],
            standby=[_pk(w) for w in plan.get("standby", [])],
            expected_attendance=float(plan["expected_attendance"]),
            fill_probability=float(plan["fill_probability"]),
            expected_cost=float(plan["expected_cost"]),
        )
        for sid, plan in solution_json.get("shifts", {}).items()
    }
    return PlanOut(
        status=str(solution_json["status"]),
        wall_s=float(solution_json.get("wall_s", 0.0)),
        plans=plans,
        reasons=list(solution_json.get("reasons", [])),
        solution=solution_json,
        totals=dict(solution_json.get("totals", {})),
    )


def plan_solve(instance: Mapping[str, Any]) -> PlanOut:
    """Solve a stored instance document. Never call this inside a web request: it may run for seconds."""
    try:
        parsed = parse_instance(dict(instance))
    except SchemaError as exc:
        raise SolverInputError(str(exc)) from exc
    return _plan_out(solution_to_json(solve(parsed)))


def plan_replan(
    instance: Mapping[str, Any],
    previous: Mapping[str, Any],
    *,
    accepts: Mapping[int, Iterable[int]] | None = None,
    declines: Mapping[int, Iterable[int]] | None = None,
    no_shows: Mapping[int, Iterable[int]] | None = None,
) -> tuple[dict[str, Any], PlanOut]:
    """The solver's incremental re-plan: calls already made are kept, ``accepts`` become fixed, ``declines``
    (released workers too) and ``no_shows`` excluded for good, and only the shifts that lost someone are topped
    up. Maps are shift pk → worker pks. Returns the updated instance document and the new plan."""

    def ids(responses: Mapping[int, Iterable[int]] | None) -> dict[str, list[str]]:
        return {_sid(s): [_wid(w) for w in ws] for s, ws in (responses or {}).items()}

    try:
        parsed = parse_instance(dict(instance))
        solution = parse_solution(dict(previous))
    except SchemaError as exc:
        raise SolverInputError(str(exc)) from exc
    new_instance, new_solution = replan(
        parsed, solution, accepts=ids(accepts), declines=ids(declines), no_shows=ids(no_shows)
    )
    return instance_to_json(new_instance), _plan_out(solution_to_json(new_solution))
