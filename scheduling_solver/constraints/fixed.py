"""A shift a worker already accepted keeps that worker on its call list."""

from __future__ import annotations

from scheduling_solver.constraints.base import Assignment, Violation
from scheduling_solver.schemas import Instance

CODE = "fixed_dropped"


def check(instance: Instance, assignment: Assignment) -> list[Violation]:
    """Violations of the fixed-assignment rule."""
    out = []
    for i, worker in enumerate(instance.workers):
        for j, sid in enumerate(worker.fixed):
            if worker.id not in assignment.get(sid, ()):
                out.append(
                    Violation(
                        CODE,
                        f"$.workers[{i}].fixed[{j}]",
                        f"{worker.id} accepted {sid} but is not on its call list",
                    )
                )
    return out
