"""Incremental re-plan: keep every call already made, drop declines and no-shows, top up what changed.

Calls that were made cannot be taken back, so a re-plan never removes a worker; it adds accepted
workers as fixed, excludes decliners for good, and runs the marginal-gain construction only on the
shifts that lost someone, while every other shift keeps its plan (and its workers stay busy).

Two forms: :func:`replan` takes a batch of responses and returns a new instance and solution;
:func:`replan_one` takes one event (:mod:`scheduling_solver.events`) and keeps a live plan in the solve's
context, touching only the shifts the event concerns (:mod:`scheduling_solver.incremental`)::

    solution, context = solve_with_context(instance)
    change = replan_one(context, Decline("w7", "s3"))   # change.calls: who to call now
    current_solution(context), current_instance(context)  # both pass validate() after every event
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace

from scheduling_solver.events import Event
from scheduling_solver.greedy import PlanState, construct, reach_min_fill, standby_lists
from scheduling_solver.incremental import LivePlan, PlanChange
from scheduling_solver.problem import Problem, build_problem
from scheduling_solver.schemas import Instance, Solution, Worker
from scheduling_solver.solve import SolveContext, build_solution, gc_paused, infeasible_solution

Responses = Mapping[str, Iterable[str]]  # shift id -> worker ids


def apply_responses(instance: Instance, *, accepts: Responses, declines: Responses, no_shows: Responses) -> Instance:
    """The instance with accepts added to ``fixed`` and declines and no-shows added to ``excluded``."""
    add_fixed: dict[str, list[str]] = {}
    add_excluded: dict[str, list[str]] = {}
    for sid, wids in accepts.items():
        for wid in wids:
            add_fixed.setdefault(wid, []).append(sid)
    for source in (declines, no_shows):
        for sid, wids in source.items():
            for wid in wids:
                add_excluded.setdefault(wid, []).append(sid)
    workers: list[Worker] = []
    for w in instance.workers:
        if w.id in add_fixed or w.id in add_excluded:
            gone = set(add_excluded.get(w.id, ()))
            fixed = tuple(dict.fromkeys(s for s in (*w.fixed, *add_fixed.get(w.id, ())) if s not in gone))
            excluded = tuple(dict.fromkeys((*w.excluded, *add_excluded.get(w.id, ()))))
            w = replace(w, fixed=fixed, excluded=excluded)
        workers.append(w)
    return Instance(tuple(workers), instance.shifts, instance.policy)


def _reusable(context: SolveContext | None, instance: Instance) -> Problem | None:
    # Eligibility depends only on shifts, workers' skills, windows and places, and the policy limits;
    # responses change fixed/excluded, which the problem keeps as separate sets.
    if context is None:
        return None
    old = context.problem.instance
    if old.shifts is not instance.shifts or old.policy != instance.policy or len(old.workers) != len(instance.workers):
        return None
    return context.problem


def replan(
    instance: Instance,
    previous: Solution,
    *,
    accepts: Responses | None = None,
    declines: Responses | None = None,
    no_shows: Responses | None = None,
    context: SolveContext | None = None,
) -> tuple[Instance, Solution]:
    """Re-plan after responses; returns the updated instance (new fixed/excluded) and the new solution."""
    with gc_paused():
        return _replan(instance, previous, accepts=accepts, declines=declines, no_shows=no_shows, context=context)


def _replan(
    instance: Instance,
    previous: Solution,
    *,
    accepts: Responses | None,
    declines: Responses | None,
    no_shows: Responses | None,
    context: SolveContext | None,
) -> tuple[Instance, Solution]:
    t0 = time.perf_counter()
    new_instance = apply_responses(instance, accepts=accepts or {}, declines=declines or {}, no_shows=no_shows or {})
    problem = _reusable(context, new_instance)
    if problem is None:
        problem = build_problem(new_instance)
    else:
        # A shallow copy: the candidate lists are shared, but the context's own problem keeps its
        # instance, exclusions and fixed calls, which the live plan of replan_one relies on.
        problem = copy.copy(problem)
        problem.instance = new_instance
        w_index = {wid: i for i, wid in enumerate(problem.worker_ids)}
        s_index = {sid: i for i, sid in enumerate(problem.shift_ids)}
        problem.excluded = {
            (w_index[w.id], s_index[s]) for w in new_instance.workers for s in w.excluded if s in s_index
        }
        problem.fixed = [(w_index[w.id], s_index[s]) for w in new_instance.workers for s in dict.fromkeys(w.fixed)]
    w_index = {wid: i for i, wid in enumerate(problem.worker_ids)}
    state = PlanState(problem)
    reasons: list[str] = []
    for w, s in problem.fixed:
        if (
            (w, s) in problem.excluded
            or not problem.is_eligible(w, s)
            or not state.can_take(w, s)
            or len(state.called[s]) >= state.cap[s]
        ):
            reasons.append(f"{problem.worker_ids[w]} accepted {problem.shift_ids[s]} but that breaks a hard rule")
        else:
            state.add(w, s)
    if reasons:
        return new_instance, infeasible_solution(reasons, t0)
    changed: set[int] = set()
    for s, sid in enumerate(problem.shift_ids):
        plan = previous.shifts.get(sid)
        if plan is None:
            changed.add(s)
            continue
        for wid in plan.called:
            found = w_index.get(wid)
            if found is None or found in state.called_set[s]:
                continue
            w = found
            if (w, s) in problem.excluded or not state.can_take(w, s) or len(state.called[s]) >= state.cap[s]:
                changed.add(s)  # lost this call: the shift needs a top-up
                continue
            state.add(w, s)
    # A lost call may leave a shift below its min_fill: top it up first, or say it cannot be done.
    reasons = reach_min_fill(state, sorted(changed))
    if reasons:
        return new_instance, infeasible_solution(reasons, t0)
    construct(state, sorted(changed))
    standby = standby_lists(state, new_instance.policy.standby_size)
    status = "feasible"
    return new_instance, build_solution(problem, state, status, t0, standby)


def _live(context: SolveContext) -> LivePlan:
    if context.live is None:
        with gc_paused():
            context.live = LivePlan(context.problem, context.state)
    return context.live


def replan_one(
    context: SolveContext, event: Event, *, withdraw: bool = True, withdraw_min_gain: float | None = None
) -> PlanChange:
    """Apply one decline, timeout, no-show, accept or new availability to the live plan in ``context``
    and return the changed call lists (``change.calls``: who to call now).

    With ``withdraw`` (the default) the bounded repair may take back pending, not yet accepted, calls
    (a swap or a move to another shift) that save at least ``withdraw_min_gain`` in expected-cost units
    (default :data:`scheduling_solver.incremental.WITHDRAW_MIN_GAIN`), reported in the changes'
    ``removed``; with ``withdraw=False`` an event only ever adds calls besides removing its own worker.

    The first call builds the live plan from the solve's state (a one-off cost of a few hundred
    milliseconds on a 10,000-worker day); every later event costs only the shifts it touches.
    Raises :class:`scheduling_solver.incremental.EventError` for an unknown worker or shift, or a
    worker who is not on that shift's call list; the plan is then unchanged.
    """
    return _live(context).apply(event, withdraw=withdraw, withdraw_min_gain=withdraw_min_gain)


def current_solution(context: SolveContext) -> Solution:
    """The live plan after every event so far (the solve's plan itself before the first event)."""
    return _live(context).solution()


def current_instance(context: SolveContext) -> Instance:
    """The day the live plan answers to: the solved instance plus every event's exclusions, accepts and
    new workers (what a fresh solve should be given to compare with)."""
    return _live(context).instance
