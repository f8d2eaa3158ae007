"""Call-up planning for staffing: which ranked workers to call for which shift, and how many.

Pure Python + OR-Tools; never imports Django or ``backend``. The staffing app reaches it through one
adapter using the JSON contract in :mod:`scheduling_solver.schemas`::

    instance = parse_instance(json_document)           # SchemaError names the JSON path
    solution, context = solve_with_context(instance)  # or solve(instance)
    solution = solve_partitioned(instance, processes=2)  # a big day in parallel parts, merged
    assert validate(instance, solution).ok            # the specification, independent of the solver
    instance, solution = replan(instance, solution, declines={"s1": ["w9"]}, context=context)
    payload = solution_to_json(solution)

Each shift may carry a ``priority`` (scales its shortfall cost), a ``policy`` (``spread`` or
``full_first``: a fixed ``Policy.shortfall_penalty`` times P(attendance < headcount)) and a hard
``min_fill`` on expected attendance; see :class:`scheduling_solver.schemas.Shift`. The defaults keep
old instances' plans unchanged.

``solution.phases`` says what each solver phase (greedy, local search, the CP-SAT selection of
``full_first`` shifts, the exact model of tiny days) took and how much of the objective it removed.

Solves never belong in a web request: run them in a task worker.
"""

from scheduling_solver.partition import solve_partitioned
from scheduling_solver.replan import replan
from scheduling_solver.schemas import (
    Instance,
    Phase,
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
    "Phase",
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
    "solve_partitioned",
    "solve_with_context",
    "validate",
]
