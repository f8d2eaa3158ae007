"""The vectorised load pre-filter never rejects a worker the exact rule would accept."""

import numpy as np

from scheduling_solver.generator import generate_day
from scheduling_solver.greedy import PlanState, construct
from scheduling_solver.problem import build_problem


def test_may_take_is_never_stricter_than_can_take():
    inst = generate_day(400, 60, seed=9).instance.with_policy(min_rest_minutes=90)
    problem = build_problem(inst)
    state = PlanState(problem)
    construct(state)
    everyone = np.arange(problem.n_workers)
    for s in range(problem.n_shifts):
        allowed = state.may_take(everyone, s)
        for w in range(problem.n_workers):
            if state.can_take(w, s):
                assert allowed[w], (w, s)
