"""A worker is never called again for a shift they declined or missed."""

from __future__ import annotations

from scheduling_solver.constraints.base import Assignment, Violation, called_pairs
from scheduling_solver.schemas import Instance, Shift, Worker

CODE = "excluded"


def allows(instance: Instance, worker: Worker, shift: Shift) -> bool:
    """True unless the shift is in the worker's ``excluded`` list."""
    return shift.id not in worker.excluded


def check(instance: Instance, assignment: Assignment) -> list[Violation]:
    """Violations of the exclusion rule."""
    return [
        Violation(CODE, path, f"{worker.id} declined or missed {shift.id} and must not be called for it")
        for path, worker, shift in called_pairs(instance, assignment)
        if not allows(instance, worker, shift)
    ]
