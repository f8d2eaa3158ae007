"""Hard rule: a called worker holds every skill of the shift."""

from scheduling_solver.constraints import skills
from tests.scheduling_solver.solver_factories import codes, instance, shift, worker


def test_worker_with_all_skills_is_allowed():
    inst = instance([worker("w1", skills=("loader", "driver"))], [shift("s1", skills=("loader", "driver"))])
    assert skills.CODE not in codes(inst, {"s1": ["w1"]})


def test_worker_missing_a_skill_is_a_violation():
    inst = instance([worker("w1", skills=("loader",))], [shift("s1", skills=("loader", "driver"))])
    assert skills.CODE in codes(inst, {"s1": ["w1"]})
