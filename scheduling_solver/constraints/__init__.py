"""One module per hard rule; each exposes ``check(instance, assignment) -> list[Violation]``."""

from scheduling_solver.constraints import (
    availability,
    call_cap,
    daily_limit,
    excluded,
    fixed,
    min_fill,
    rest,
    skills,
    travel,
)
from scheduling_solver.constraints.base import Assignment, Violation

# Order is the order violations are reported in.
ALL = (skills, availability, travel, excluded, fixed, rest, daily_limit, call_cap, min_fill)

__all__ = ["ALL", "Assignment", "Violation"]
