"""Hard rule: the worker lives within max_travel_km of the shift (haversine)."""

from scheduling_solver.constraints import travel
from scheduling_solver.geo import haversine_km
from tests.scheduling_solver.solver_factories import HOME, codes, instance, shift, worker


def test_haversine_matches_a_known_distance():
    # Moscow (55.7558, 37.6173) to Saint Petersburg (59.9343, 30.3351) is about 634 km.
    assert abs(haversine_km((55.7558, 37.6173), (59.9343, 30.3351)) - 634) < 3


def test_worker_within_reach_is_allowed():
    inst = instance([worker("w1", location=(HOME[0] + 0.1, HOME[1]))], [shift("s1")], max_travel_km=25)
    assert travel.CODE not in codes(inst, {"s1": ["w1"]})


def test_worker_too_far_is_a_violation():
    inst = instance([worker("w1", location=(HOME[0] + 0.3, HOME[1]))], [shift("s1")], max_travel_km=25)
    assert travel.CODE in codes(inst, {"s1": ["w1"]})
