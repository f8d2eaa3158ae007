"""Two shifts of one worker neither overlap nor leave less than ``min_rest_minutes`` between them."""

from __future__ import annotations

from datetime import timedelta

from scheduling_solver.constraints.base import Assignment, Violation, shifts_by_worker
from scheduling_solver.schemas import Instance, Shift

CODE = "no_rest"


def compatible(instance: Instance, a: Shift, b: Shift) -> bool:
    """True when one shift ends at least the rest time before the other starts."""
    rest = timedelta(minutes=instance.policy.min_rest_minutes)
    return a.end + rest <= b.start or b.end + rest <= a.start


def check(instance: Instance, assignment: Assignment) -> list[Violation]:
    """Violations of the overlap and rest rule, one per offending pair."""
    out = []
    for wid, shifts in shifts_by_worker(instance, assignment).items():
        ordered = sorted(shifts, key=lambda s: (s.start, s.id))
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                if not compatible(instance, a, b):
                    out.append(
                        Violation(
                            CODE,
                            f"$.shifts.{b.id}.called",
                            f"{wid} works {a.id} and {b.id} without {instance.policy.min_rest_minutes:g} min rest",
                        )
                    )
    return out
