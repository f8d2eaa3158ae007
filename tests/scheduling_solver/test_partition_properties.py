"""Property: however hypothesis scatters small towns, parts cover each shift once and each worker at
most once, whole components share no reachable pair, accepted pairs stay together, and the merged
plan passes the validator."""

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduling_solver.constraints import availability, skills, travel
from scheduling_solver.partition import plan_parts, solve_partitioned
from scheduling_solver.schemas import SERVICE_POLICIES, Instance, Policy, Shift, Worker
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import HOME, at

SKILLS = ("loader", "driver")
# Towns 0, 55 and 111 km north of HOME; inside a town points spread up to 22 km.
TOWNS = (0.0, 0.5, 1.0)


@st.composite
def towns(draw):
    n_towns = draw(st.integers(1, 3))
    shifts = []
    for j in range(draw(st.integers(1, 6))):
        town = TOWNS[draw(st.integers(0, n_towns - 1))]
        start = draw(st.sampled_from([6, 8, 12, 15]))
        headcount = draw(st.integers(1, 3))
        shifts.append(
            Shift(
                id=f"s{j}",
                start=at(start),
                end=at(start) + timedelta(hours=draw(st.sampled_from([2, 4, 8]))),
                headcount=headcount,
                skills=tuple(draw(st.sets(st.sampled_from(SKILLS), max_size=2))),
                location=(HOME[0] + town + draw(st.sampled_from([0.0, 0.1, 0.2])), HOME[1]),
                policy=draw(st.sampled_from(SERVICE_POLICIES)),
                min_fill=draw(st.sampled_from([0.0, 0.0, 0.5])),
            )
        )
    workers = []
    for i in range(draw(st.integers(0, 12))):
        town = TOWNS[draw(st.integers(0, n_towns - 1))]
        fixed = tuple(draw(st.sets(st.sampled_from([s.id for s in shifts]), max_size=1))) if i % 5 == 0 else ()
        workers.append(
            Worker(
                id=f"w{i}",
                rank=draw(st.floats(0, 100)),
                shows=draw(st.floats(0, 20)),
                no_shows=draw(st.floats(0, 5)),
                skills=tuple(draw(st.sets(st.sampled_from(SKILLS), min_size=1))),
                location=(HOME[0] + town + draw(st.sampled_from([0.0, 0.05, 0.2])), HOME[1]),
                available=((at(draw(st.sampled_from([0, 6, 10]))), at(draw(st.sampled_from([14, 20, 24])))),),
                max_shifts_per_day=draw(st.integers(1, 2)),
                fixed=fixed,
            )
        )
    policy = Policy(max_travel_km=draw(st.sampled_from([5.0, 25.0])), time_limit_s=0.3, seed=draw(st.integers(0, 3)))
    return Instance(tuple(workers), tuple(shifts), policy), draw(st.integers(1, 4))


def _eligible(inst: Instance, w: Worker, s: Shift) -> bool:
    return all(rule.allows(inst, w, s) for rule in (skills, availability, travel))


@given(towns())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_parts_are_a_sound_split(case):
    inst, k = case
    plan = plan_parts(inst, k)
    shifts = [j for pt in plan.parts for j in pt.shifts.tolist()]
    workers = [i for pt in plan.parts for i in pt.workers.tolist()]
    assert sorted(shifts) == list(range(len(inst.shifts)))
    assert len(set(workers)) == len(workers)
    part_of_shift = {j: n for n, pt in enumerate(plan.parts) for j in pt.shifts.tolist()}
    part_of_worker = {i: n for n, pt in enumerate(plan.parts) for i in pt.workers.tolist()}
    s_index = {s.id: j for j, s in enumerate(inst.shifts)}
    for i, w in enumerate(inst.workers):
        for sid in w.fixed:
            assert part_of_worker.get(i) == part_of_shift[s_index[sid]]
        for j, s in enumerate(inst.shifts):
            if part_of_worker.get(i) == part_of_shift[j]:
                continue
            # Across parts, a reachable pair is allowed only when a component was cut into districts.
            if _eligible(inst, w, s):
                assert i in part_of_worker
                assert not plan.parts[part_of_shift[j]].exact and not plan.parts[part_of_worker[i]].exact
                assert plan.parts[part_of_shift[j]].component == plan.parts[part_of_worker[i]].component


@given(towns())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_merged_plan_passes_the_validator(case):
    inst, k = case
    sol = solve_partitioned(inst, partitions=k, processes=1)
    report = validate(inst, sol)
    assert report.ok, report.violations
    if sol.status == "infeasible":
        assert sol.reasons
