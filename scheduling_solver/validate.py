"""The specification: checks a solution against an instance without using any solver code.

Every hard rule lives in its own module under :mod:`scheduling_solver.constraints`; this module adds
structural checks (known ids, no duplicates, every shift planned) and recomputes every reported
probability and cost exactly. A plan is acceptable only when :func:`validate` returns no violations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scheduling_solver import constraints
from scheduling_solver.constraints import availability, excluded, skills, travel
from scheduling_solver.constraints.base import Violation
from scheduling_solver.probability import shift_outcome
from scheduling_solver.schemas import Instance, Solution

# Reported figures are rounded by nobody, so a tight tolerance only absorbs float summation order.
TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The outcome of :func:`validate`: ``ok`` when there are no violations."""

    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        """True when the solution breaks no rule and reports exact figures."""
        return not self.violations


def _close(reported: float, exact: float) -> bool:
    return math.isclose(reported, exact, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def validate(instance: Instance, solution: Solution) -> ValidationReport:
    """Check every hard rule and recompute every figure of ``solution``."""
    out: list[Violation] = []
    if solution.status == "infeasible":
        if solution.shifts:
            out.append(Violation("infeasible_with_plan", "$.shifts", "an infeasible answer must not plan shifts"))
        if not solution.reasons:
            out.append(Violation("infeasible_without_reason", "$.reasons", "say why the instance is infeasible"))
        return ValidationReport(tuple(out))

    workers = {w.id: w for w in instance.workers}
    shifts = {s.id: s for s in instance.shifts}
    probability = {w.id: instance.show_probability(w) for w in instance.workers}
    for sid in shifts:
        if sid not in solution.shifts:
            out.append(Violation("shift_missing", f"$.shifts.{sid}", f"no plan for shift {sid}"))
    assignment: dict[str, list[str]] = {}
    exact_cost = 0.0
    exact_fill = 0.0
    for sid, plan in solution.shifts.items():
        if sid not in shifts:
            out.append(Violation("unknown_shift", f"$.shifts.{sid}", f"unknown shift id {sid!r}"))
            continue
        assignment[sid] = list(plan.called)
        seen: set[str] = set()
        for i, wid in enumerate(plan.called):
            path = f"$.shifts.{sid}.called[{i}]"
            if wid not in workers:
                out.append(Violation("unknown_worker", path, f"unknown worker id {wid!r}"))
            if wid in seen:
                out.append(Violation("duplicate_call", path, f"{wid} called twice for {sid}"))
            seen.add(wid)
        for i, wid in enumerate(plan.standby):
            path = f"$.shifts.{sid}.standby[{i}]"
            worker = workers.get(wid)
            if worker is None:
                out.append(Violation("unknown_worker", path, f"unknown worker id {wid!r}"))
            elif wid in seen:
                out.append(Violation("standby_called", path, f"{wid} is both called and on standby for {sid}"))
            elif not all(
                rule.allows(instance, worker, shifts[sid]) for rule in (skills, availability, travel, excluded)
            ):
                out.append(Violation("standby_ineligible", path, f"{wid} could not work {sid}"))
            else:
                seen.add(wid)
        # Exact figures: recomputed here, never trusted from the solver.
        ps = [probability[w] for w in dict.fromkeys(plan.called) if w in probability]
        # Priority and the full_first penalty enter the cost here too, from the shift's own fields.
        cost_unfilled, penalty = instance.service_terms(shifts[sid])
        exact = shift_outcome(ps, shifts[sid].headcount, cost_unfilled, instance.policy.cost_idle, penalty)
        exact_cost += exact.expected_cost
        exact_fill += exact.fill_probability
        for name, reported, value in (
            ("expected_attendance", plan.expected_attendance, exact.expected_attendance),
            ("fill_probability", plan.fill_probability, exact.fill_probability),
            ("expected_cost", plan.expected_cost, exact.expected_cost),
        ):
            if not _close(reported, value):
                out.append(
                    Violation(
                        "wrong_figure",
                        f"$.shifts.{sid}.{name}",
                        f"reported {reported:.9g}, exact {value:.9g}",
                    )
                )

    for rule in constraints.ALL:
        out.extend(rule.check(instance, assignment))

    # Totals are compared with exact sums, not with the reported per-shift figures.
    planned = [sid for sid in solution.shifts if sid in shifts]
    exact_called = sum(len(solution.shifts[sid].called) for sid in planned)
    exact_fill = exact_fill / len(planned) if planned else 1.0
    if solution.totals.called != exact_called:
        out.append(
            Violation(
                "wrong_figure",
                "$.totals.called",
                f"reported {solution.totals.called}, counted {exact_called}",
            )
        )
    if not _close(solution.totals.expected_cost, exact_cost):
        out.append(
            Violation(
                "wrong_figure",
                "$.totals.expected_cost",
                f"reported {solution.totals.expected_cost:.9g}, sum {exact_cost:.9g}",
            )
        )
    if not _close(solution.totals.mean_fill_probability, exact_fill):
        out.append(
            Violation(
                "wrong_figure",
                "$.totals.mean_fill_probability",
                f"reported {solution.totals.mean_fill_probability:.9g}, mean {exact_fill:.9g}",
            )
        )
    return ValidationReport(tuple(out))
