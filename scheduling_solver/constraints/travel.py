"""A called worker lives within ``max_travel_km`` (great-circle) of the shift."""

from __future__ import annotations

from scheduling_solver.constraints.base import Assignment, Violation, called_pairs
from scheduling_solver.geo import haversine_km
from scheduling_solver.schemas import Instance, Shift, Worker

CODE = "too_far"


def allows(instance: Instance, worker: Worker, shift: Shift) -> bool:
    """True when the haversine distance is within the policy's limit."""
    return haversine_km(worker.location, shift.location) <= instance.policy.max_travel_km


def check(instance: Instance, assignment: Assignment) -> list[Violation]:
    """Violations of the travel rule."""
    out = []
    for path, worker, shift in called_pairs(instance, assignment):
        if not allows(instance, worker, shift):
            km = haversine_km(worker.location, shift.location)
            out.append(
                Violation(
                    CODE,
                    path,
                    f"{worker.id} is {km:.1f} km from {shift.id}, limit {instance.policy.max_travel_km:g} km",
                )
            )
    return out
