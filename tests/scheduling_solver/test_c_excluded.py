"""Hard rule: a worker who declined or missed a shift is never called for it again."""

from scheduling_solver.constraints import excluded
from tests.scheduling_solver.solver_factories import codes, instance, shift, worker


def test_exclusion_of_another_shift_does_not_matter():
    inst = instance([worker("w1", excluded=("s2",))], [shift("s1"), shift("s2", 17, 20)])
    assert excluded.CODE not in codes(inst, {"s1": ["w1"]})


def test_calling_an_excluded_worker_is_a_violation():
    inst = instance([worker("w1", excluded=("s1",))], [shift("s1")])
    assert excluded.CODE in codes(inst, {"s1": ["w1"]})
