"""Small builders for hand-written instances in the solver tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from scheduling_solver.schemas import Instance, Policy, Shift, ShiftPlan, Solution, Totals, Worker

TZ = timezone(timedelta(hours=3))
HOME = (59.93, 30.31)


def at(hour: float, day: int = 1) -> datetime:
    """A local time on December ``day``, 2026."""
    return datetime(2026, 12, day, tzinfo=TZ) + timedelta(minutes=round(hour * 60))


def worker(wid: str, **kw: Any) -> Worker:
    """A reliable, available-all-day loader at HOME unless told otherwise."""
    base: dict[str, Any] = {
        "rank": 80.0,
        "shows": 10.0,
        "no_shows": 1.0,
        "skills": ("loader",),
        "location": HOME,
        "available": ((at(0), at(23.99)),),
        "max_shifts_per_day": 1,
        "fixed": (),
        "excluded": (),
    }
    base.update(kw)
    return Worker(id=wid, **base)


def shift(sid: str, start: float = 8, end: float = 16, headcount: int = 1, **kw: Any) -> Shift:
    """A loader shift at HOME."""
    base: dict[str, Any] = {"skills": ("loader",), "location": HOME}
    base.update(kw)
    return Shift(id=sid, start=at(start), end=at(end), headcount=headcount, **base)


def instance(workers: list[Worker], shifts: list[Shift], **policy: Any) -> Instance:
    """An instance with a short time limit suitable for tests."""
    policy.setdefault("time_limit_s", 1.0)
    return Instance(tuple(workers), tuple(shifts), Policy(**policy))


def plan(inst: Instance, called: dict[str, list[str]]) -> Solution:
    """A solution with the given calls and exact figures, for feeding the validator a chosen plan."""
    from scheduling_solver.probability import shift_outcome

    workers = {w.id: w for w in inst.workers}
    plans = {}
    for s in inst.shifts:
        ids = called.get(s.id, [])
        ps = [inst.show_probability(workers[w]) for w in ids if w in workers]
        cost_unfilled, penalty = inst.service_terms(s)
        out = shift_outcome(ps, s.headcount, cost_unfilled, inst.policy.cost_idle, penalty)
        plans[s.id] = ShiftPlan(tuple(ids), (), out.expected_attendance, out.fill_probability, out.expected_cost)
    n = max(1, len(plans))
    totals = Totals(
        called=sum(len(p.called) for p in plans.values()),
        expected_cost=sum(p.expected_cost for p in plans.values()),
        mean_fill_probability=sum(p.fill_probability for p in plans.values()) / n,
    )
    return Solution("feasible", 0.0, plans, totals)


def codes(inst: Instance, called: dict[str, list[str]]) -> set[str]:
    """Violation codes the validator reports for a chosen plan."""
    from scheduling_solver.validate import validate

    return {v.code for v in validate(inst, plan(inst, called)).violations}
