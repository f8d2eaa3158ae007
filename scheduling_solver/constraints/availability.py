"""A called worker has one availability window that covers the whole shift."""

from __future__ import annotations

from scheduling_solver.constraints.base import Assignment, Violation, called_pairs
from scheduling_solver.schemas import Instance, Shift, Worker

CODE = "not_available"


def allows(instance: Instance, worker: Worker, shift: Shift) -> bool:
    """True when a single window contains [start, end]; two touching windows do not count as one."""
    return any(start <= shift.start and shift.end <= end for start, end in worker.available)


def check(instance: Instance, assignment: Assignment) -> list[Violation]:
    """Violations of the availability rule."""
    return [
        Violation(CODE, path, f"no availability window of {worker.id} covers {shift.id}")
        for path, worker, shift in called_pairs(instance, assignment)
        if not allows(instance, worker, shift)
    ]
