"""A shift's expected attendance (the sum of its called workers' show probabilities) is at least its
``min_fill``. Expected attendance rather than the number called, because calling more unreliable
workers is exactly what a service level must not be satisfied by."""

from __future__ import annotations

from scheduling_solver.constraints.base import Assignment, Violation
from scheduling_solver.schemas import Instance

CODE = "below_min_fill"
# Float summation order differs between solver and validator; this much shortfall is rounding only.
SLACK = 1e-9


def check(instance: Instance, assignment: Assignment) -> list[Violation]:
    """Violations of ``min_fill``, one per shift."""
    workers = {w.id: w for w in instance.workers}
    out = []
    for shift in instance.shifts:
        if shift.min_fill <= 0.0:
            continue
        called = [workers[w] for w in dict.fromkeys(assignment.get(shift.id, ())) if w in workers]
        expected = sum(instance.show_probability(w) for w in called)
        if expected < shift.min_fill - SLACK:
            out.append(
                Violation(
                    CODE,
                    f"$.shifts.{shift.id}.called",
                    f"expected attendance {expected:.6g} for {shift.id} is below its min_fill {shift.min_fill:g}",
                )
            )
    return out
