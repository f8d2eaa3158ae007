"""Hard rule: at most ceil(max_call_ratio x headcount) called per shift."""

from scheduling_solver.constraints import call_cap
from tests.scheduling_solver.solver_factories import codes, instance, shift, worker


def test_calls_up_to_the_cap_are_fine():
    # ceil(1.5 x 2) = 3; 2.5 x 4 = 10 exactly must not round up to 11.
    inst = instance([worker(f"w{i}") for i in range(3)], [shift("s1", headcount=2)], max_call_ratio=1.5)
    assert call_cap.CODE not in codes(inst, {"s1": ["w0", "w1", "w2"]})
    assert instance([], [shift("s2", headcount=4)], max_call_ratio=2.5).call_cap(shift("s2", headcount=4)) == 10


def test_calls_over_the_cap_are_a_violation():
    inst = instance([worker(f"w{i}") for i in range(4)], [shift("s1", headcount=2)], max_call_ratio=1.5)
    assert call_cap.CODE in codes(inst, {"s1": ["w0", "w1", "w2", "w3"]})
