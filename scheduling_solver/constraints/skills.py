"""A called worker has every skill the shift asks for."""

from __future__ import annotations

from scheduling_solver.constraints.base import Assignment, Violation, called_pairs
from scheduling_solver.schemas import Instance, Shift, Worker

CODE = "missing_skill"


def allows(instance: Instance, worker: Worker, shift: Shift) -> bool:
    """True when the worker holds all of the shift's skills."""
    return set(shift.skills) <= set(worker.skills)


def check(instance: Instance, assignment: Assignment) -> list[Violation]:
    """Violations of the skills rule."""
    out = []
    for path, worker, shift in called_pairs(instance, assignment):
        if not allows(instance, worker, shift):
            missing = sorted(set(shift.skills) - set(worker.skills))
            out.append(Violation(CODE, path, f"worker {worker.id} lacks {', '.join(missing)} for {shift.id}"))
    return out
