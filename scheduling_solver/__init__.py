"""Call-up planning for staffing: which ranked workers to call for which shift, and how many.

Pure Python + OR-Tools; never imports Django or ``backend``. The staffing app reaches it through one
adapter using the JSON contract in :mod:`scheduling_solver.schemas`::

    instance = parse_instance(json_document)           # SchemaError names the JSON path
    solution, context = solve_with_context(instance)  # or solve(instance)
    solution = solve_partitioned(instance, processes=2)  # a big day in parallel parts, merged
    assert validate(instance, solution).ok            # the specification, independent of the solver
    instance, solution = replan(instance, solution, declines={"s1": ["w9"]}, context=context)
    payload = solution_to_json(solution)

One event at a time (a decline, timeout, no-show, accept or new availability; JSON via ``parse_event``)::

    change = replan_one(context, Decline("w9", "s1"))  # change.calls: who to call now
    current_solution(context), current_instance(context)  # valid after every event

Each shift may carry a ``priority`` (scales its shortfall cost), a ``policy`` (``spread`` or
``full_first``: a fixed ``Policy.shortfall_penalty`` times P(attendance < headcount)) and a hard
``min_fill`` on expected attendance; see :class:`scheduling_solver.schemas.Shift`. The defaults keep
old instances' plans unchanged.

``solution.phases`` says what each solver phase (greedy, local search, the CP-SAT selection of
``full_first`` shifts, the exact model of tiny days) took and how much of the objective it removed.

Solves never belong in a web request: run them in a task worker.
"""

from scheduling_solver.events import Accept, Available, Decline, NoShow, Timeout, event_to_json, parse_event
from scheduling_solver.incremental import EventError, PlanChange, change_to_json
from scheduling_solver.partition import solve_partitioned
from scheduling_solver.replan import current_instance, current_solution, replan, replan_one
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
    "Accept",
    "Available",
    "Decline",
    "EventError",
    "Instance",
    "NoShow",
    "Phase",
    "PlanChange",
    "Policy",
    "SchemaError",
    "Shift",
    "ShiftPlan",
    "Solution",
    "Timeout",
    "Totals",
    "ValidationReport",
    "Worker",
    "change_to_json",
    "current_instance",
    "current_solution",
    "event_to_json",
    "instance_to_json",
    "parse_event",
    "parse_instance",
    "parse_solution",
    "replan",
    "replan_one",
    "solution_to_json",
    "solve",
    "solve_partitioned",
    "solve_with_context",
    "validate",
]
