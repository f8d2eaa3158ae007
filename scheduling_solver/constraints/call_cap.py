"""At most ``ceil(max_call_ratio * headcount)`` workers are called for a shift."""

from __future__ import annotations

from scheduling_solver.constraints.base import Assignment, Violation
from scheduling_solver.schemas import Instance

CODE = "too_many_calls"


def check(instance: Instance, assignment: Assignment) -> list[Violation]:
    """Violations of the call cap, one per shift."""
    out = []
    for shift in instance.shifts:
        n = len(set(assignment.get(shift.id, ())))
        cap = instance.call_cap(shift)
        if n > cap:
            out.append(Violation(CODE, f"$.shifts.{shift.id}.called", f"{n} called for {shift.id}, cap {cap}"))
    return out
