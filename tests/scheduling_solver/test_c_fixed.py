"""Hard rule: a shift a worker accepted keeps them on its call list."""

from scheduling_solver.constraints import fixed
from tests.scheduling_solver.solver_factories import codes, instance, shift, worker


def test_fixed_worker_on_the_list_is_fine():
    inst = instance([worker("w1", fixed=("s1",))], [shift("s1")])
    assert fixed.CODE not in codes(inst, {"s1": ["w1"]})


def test_dropping_a_fixed_worker_is_a_violation():
    inst = instance([worker("w1", fixed=("s1",)), worker("w2")], [shift("s1")])
    assert fixed.CODE in codes(inst, {"s1": ["w2"]})
