"""Hard rule: one availability window covers the whole shift."""

from scheduling_solver.constraints import availability
from tests.scheduling_solver.solver_factories import at, codes, instance, shift, worker


def test_window_covering_the_shift_is_allowed():
    inst = instance([worker("w1", available=((at(8), at(16)),))], [shift("s1", 8, 16)])
    assert availability.CODE not in codes(inst, {"s1": ["w1"]})


def test_window_ending_early_is_a_violation():
    inst = instance([worker("w1", available=((at(8), at(15)),))], [shift("s1", 8, 16)])
    assert availability.CODE in codes(inst, {"s1": ["w1"]})


def test_two_touching_windows_do_not_count_as_one():
    inst = instance([worker("w1", available=((at(6), at(12)), (at(12), at(20))))], [shift("s1", 8, 16)])
    assert availability.CODE in codes(inst, {"s1": ["w1"]})
