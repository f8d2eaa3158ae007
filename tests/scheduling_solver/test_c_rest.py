"""Hard rule: one worker's shifts neither overlap nor leave less than min_rest_minutes between them."""

from scheduling_solver.constraints import rest
from tests.scheduling_solver.solver_factories import codes, instance, shift, worker


def test_shifts_with_enough_rest_are_fine():
    inst = instance(
        [worker("w1", max_shifts_per_day=2)], [shift("s1", 8, 12), shift("s2", 13, 17)], min_rest_minutes=60
    )
    assert rest.CODE not in codes(inst, {"s1": ["w1"], "s2": ["w1"]})


def test_too_little_rest_is_a_violation():
    inst = instance(
        [worker("w1", max_shifts_per_day=2)], [shift("s1", 8, 12), shift("s2", 12.5, 17)], min_rest_minutes=60
    )
    assert rest.CODE in codes(inst, {"s1": ["w1"], "s2": ["w1"]})


def test_overlap_is_a_violation():
    inst = instance([worker("w1", max_shifts_per_day=2)], [shift("s1", 8, 14), shift("s2", 12, 17)], min_rest_minutes=0)
    assert rest.CODE in codes(inst, {"s1": ["w1"], "s2": ["w1"]})
