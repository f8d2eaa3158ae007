"""A worker works at most ``max_shifts_per_day`` shifts starting on one local calendar day."""

from __future__ import annotations

from collections import Counter

from scheduling_solver.constraints.base import Assignment, Violation, shifts_by_worker
from scheduling_solver.schemas import Instance

CODE = "too_many_shifts"


def check(instance: Instance, assignment: Assignment) -> list[Violation]:
    """Violations of the daily limit, one per worker and day."""
    limits = {w.id: w.max_shifts_per_day for w in instance.workers}
    out = []
    for wid, shifts in shifts_by_worker(instance, assignment).items():
        for day, n in sorted(Counter(s.day for s in shifts).items()):
            if wid in limits and n > limits[wid]:
                out.append(Violation(CODE, "$.shifts", f"{wid} has {n} shifts on {day}, limit {limits[wid]}"))
    return out
