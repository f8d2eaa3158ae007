"""Hard rule: at most max_shifts_per_day shifts starting on one local day."""

from scheduling_solver.constraints import daily_limit
from tests.scheduling_solver.solver_factories import codes, instance, shift, worker


def test_two_shifts_within_a_limit_of_two_are_fine():
    inst = instance([worker("w1", max_shifts_per_day=2)], [shift("s1", 6, 9), shift("s2", 12, 15)])
    assert daily_limit.CODE not in codes(inst, {"s1": ["w1"], "s2": ["w1"]})


def test_two_shifts_over_a_limit_of_one_is_a_violation():
    inst = instance([worker("w1", max_shifts_per_day=1)], [shift("s1", 6, 9), shift("s2", 12, 15)])
    assert daily_limit.CODE in codes(inst, {"s1": ["w1"], "s2": ["w1"]})
