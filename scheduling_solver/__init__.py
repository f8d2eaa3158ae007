"""Call-up planning for staffing: which ranked workers to call for which shift, and how many.

Pure Python + OR-Tools; never imports Django or ``backend``. The staffing app reaches it through one
adapter using the JSON contract in :mod:`scheduling_solver.schemas`.
"""

from scheduling_solver.replan import replan
from scheduling_solver.schemas import (
    Instance,
    Policy,
    SchemaError,
    Shift,
    ShiftPlan,
    Solution,
    Totals,
    Worker,
    instance_to_json,
    parse_instance,
    parse_solution,
    solution_to_json,
)
from scheduling_solver.solve import solve, solve_with_context
from scheduling_solver.validate import ValidationReport, validate

__all__ = [
    "Instance",
    "Policy",
    "SchemaError",
    "Shift",
    "ShiftPlan",
    "Solution",
    "Totals",
    "ValidationReport",
    "Worker",
    "instance_to_json",
    "parse_instance",
    "parse_solution",
    "replan",
    "solution_to_json",
    "solve",
    "solve_with_context",
    "validate",
]
