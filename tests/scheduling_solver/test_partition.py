"""Partitioned solving: parts are independent or soundly cut, the merged plan passes the validator,
partitioned equals unpartitioned where the parts are real components, and the pool does not change
the plan."""

from dataclasses import replace

import numpy as np
import pytest

from scheduling_solver import partition
from scheduling_solver.constraints import availability, skills, travel
from scheduling_solver.generator import generate_day
from scheduling_solver.partition import components, plan_parts, solve_partitioned, solve_partitioned_report
from scheduling_solver.schemas import Instance, Policy
from scheduling_solver.solve import solve
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import instance, shift, worker


def cities(n_cities: int, n_workers: int, n_shifts: int, *, time_limit_s: float = 20.0) -> Instance:
    """``n_cities`` generated days, each moved a whole degree of latitude (111 km) from the last."""
    workers, shifts = [], []
    for c in range(n_cities):
        day = generate_day(n_workers, n_shifts, seed=10 + c).instance
        for w in day.workers:
            workers.append(replace(w, id=f"c{c}{w.id}", location=(w.location[0] + c, w.location[1])))
        for s in day.shifts:
            shifts.append(replace(s, id=f"c{c}{s.id}", location=(s.location[0] + c, s.location[1])))
    return Instance(tuple(workers), tuple(shifts), Policy(time_limit_s=time_limit_s, seed=3))


def eligible(inst: Instance, w, s) -> bool:
    return all(rule.allows(inst, w, s) for rule in (skills, availability, travel))


def test_components_never_share_a_reachable_pair():
    inst = cities(3, 150, 15)
    w_comp, s_comp = components(inst)
    assert len(set(s_comp.tolist())) >= 3
    for i, w in enumerate(inst.workers):
        for j, s in enumerate(inst.shifts):
            if w_comp[i] != s_comp[j]:
                assert not eligible(inst, w, s), (w.id, s.id)


def test_components_follow_fixed_pairs_even_beyond_reach():
    # A worker 300 km away but already accepted for the shift: the solve must see both together.
    far = worker("far", location=(62.6, 30.31), fixed=("s1",))
    inst = instance([worker("w1"), far], [shift("s1", headcount=2)])
    w_comp, s_comp = components(inst)
    assert w_comp[1] == s_comp[0]


def test_city_is_cut_into_districts_with_each_worker_in_one_part():
    inst = generate_day(3000, 300, seed=4).instance
    plan = plan_parts(inst, 3)
    assert plan.components == 1 and plan.cut_components == 1
    assert len(plan.parts) == 3 and not any(pt.exact for pt in plan.parts)
    shifts = np.concatenate([pt.shifts for pt in plan.parts])
    workers = np.concatenate([pt.workers for pt in plan.parts])
    assert sorted(shifts.tolist()) == list(range(len(inst.shifts)))
    assert len(set(workers.tolist())) == len(workers)
    # Parts are balanced to within a factor of two in workers and in demand.
    sizes = [len(pt.workers) for pt in plan.parts]
    demand = [sum(inst.shifts[j].headcount for j in pt.shifts.tolist()) for pt in plan.parts]
    assert max(sizes) < 2 * min(sizes) and max(demand) < 2 * min(demand)


def test_fixed_workers_stay_with_their_accepted_shifts_across_a_cut():
    day = generate_day(2000, 200, seed=5).instance
    shifts = day.shifts
    # Worker 0 accepted two shifts at opposite ends of the city (times may clash: the solve will say).
    west = min(range(len(shifts)), key=lambda j: shifts[j].location[1])
    east = max(range(len(shifts)), key=lambda j: shifts[j].location[1])
    workers = list(day.workers)
    workers[0] = replace(workers[0], fixed=(shifts[west].id, shifts[east].id))
    inst = Instance(tuple(workers), shifts, day.policy)
    plan = plan_parts(inst, 4)
    home = [pt for pt in plan.parts if 0 in pt.workers.tolist()]
    assert len(home) == 1
    assert {west, east} <= set(home[0].shifts.tolist())


def test_merged_plan_of_a_cut_city_passes_the_validator():
    inst = generate_day(3000, 300, seed=6).instance.with_policy(time_limit_s=4.0, seed=2)
    sol, rep = solve_partitioned_report(inst, partitions=3, processes=2)
    assert validate(inst, sol).ok
    assert sol.status == "feasible" and rep.cut_components == 1 and len(rep.parts) == 3
    # The cross-border repair only ever improves the merged plan.
    assert sol.totals.objective <= rep.parts_objective + 1e-9
    assert set(sol.shifts) == {s.id for s in inst.shifts}


def test_partitioned_equals_unpartitioned_on_separate_small_cities():
    # Small enough for the exact model in one piece and in parts: both are proven optima.
    inst = cities(3, 8, 2)
    whole = solve(inst)
    sol, rep = solve_partitioned_report(inst, partitions=3, processes=2)
    assert validate(inst, sol).ok
    assert whole.status == "optimal" and sol.status == "optimal"
    assert rep.cut_components == 0 and all(p.exact for p in rep.parts) and len(rep.parts) == 3
    assert sol.totals.objective == pytest.approx(whole.totals.objective, rel=1e-9)


def test_partitioned_is_as_good_as_unpartitioned_on_separate_cities():
    # Heuristic sizes: different local optima, but the parts are independent, so no worse beyond noise.
    inst = cities(3, 200, 20)
    whole = solve(inst)
    sol, rep = solve_partitioned_report(inst, partitions=3, processes=2)
    assert validate(inst, sol).ok
    assert rep.cut_components == 0 and all(p.exact for p in rep.parts) and len(rep.parts) == 3
    assert sol.totals.objective <= whole.totals.objective * 1.01


def test_one_process_gives_the_parallel_plan():
    # A generous limit, so the deterministic work budgets bind and never the wall-clock safety nets.
    inst = generate_day(2500, 250, seed=7).instance.with_policy(time_limit_s=60.0, seed=1)
    serial = solve_partitioned(inst, partitions=3, processes=1)
    forked = solve_partitioned(inst, partitions=3, processes=2, start_method="fork")
    assert {s: p.called for s, p in serial.shifts.items()} == {s: p.called for s, p in forked.shifts.items()}
    assert serial.totals == forked.totals


def test_spawned_pool_gives_the_same_plan():
    inst = cities(2, 150, 15, time_limit_s=60.0)
    serial = solve_partitioned(inst, partitions=2, processes=1)
    spawned = solve_partitioned(inst, partitions=2, processes=2, start_method="spawn")
    assert {s: p.called for s, p in serial.shifts.items()} == {s: p.called for s, p in spawned.shifts.items()}


def test_off_and_small_auto_are_the_plain_solve():
    inst = generate_day(300, 30, seed=8).instance.with_policy(time_limit_s=1.0)
    plain = solve(inst)
    for mode in ("off", "auto"):
        sol = solve_partitioned(inst, partitions=mode)
        assert {s: p.called for s, p in sol.shifts.items()} == {s: p.called for s, p in plain.shifts.items()}


def test_bad_partitions_argument_is_refused():
    inst = instance([worker("w1")], [shift("s1")])
    for bad in (0, -2, "many", True):
        with pytest.raises(ValueError, match="partitions"):
            solve_partitioned(inst, partitions=bad)


def test_infeasible_city_is_reported_with_reasons():
    # A min_fill nobody can meet in one city (no worker has the skill): the merged answer is
    # infeasible and says why.
    inst = cities(2, 100, 10)
    shifts = list(inst.shifts)
    shifts[0] = replace(shifts[0], skills=("diver",), min_fill=1.0)
    bad = Instance(inst.workers, tuple(shifts), inst.policy)
    sol = solve_partitioned(bad, partitions=2, processes=1)
    assert sol.status == "infeasible" and validate(bad, sol).ok
    assert any(shifts[0].id in r for r in sol.reasons)


def test_a_cut_part_short_of_its_min_fill_falls_back_to_the_whole_city(monkeypatch):
    # Claims off, so the cut alone decides membership; a min_fill that needs most of the city's
    # reliable loaders can then fail in its district and must be retried in one piece.
    monkeypatch.setattr(partition, "CLAIM_RATIO", 0.0)
    ws = [worker(f"w{i}", location=(59.93, 30.0 + 0.01 * i), shows=30.0, no_shows=1.0) for i in range(12)]
    ss = [
        shift("west", headcount=8, location=(59.93, 30.0), min_fill=7.5),
        shift("east", start=17, end=20, headcount=8, location=(59.93, 30.11)),
    ]
    inst = instance(ws, ss, max_travel_km=30.0)
    whole = solve(inst)
    assert whole.status != "infeasible"
    sol, rep = solve_partitioned_report(inst, partitions=2, processes=1)
    assert rep.fallbacks == 1
    assert sol.status != "infeasible" and validate(inst, sol).ok


def test_cli_solves_in_parts_and_the_plan_validates(tmp_path, capsys):
    import json

    from scheduling_solver.__main__ import main
    from scheduling_solver.schemas import instance_to_json

    inst = cities(2, 60, 6)
    path = tmp_path / "i.json"
    path.write_text(json.dumps(instance_to_json(inst)))
    assert main(["solve", str(path), "--partitions", "2", "--processes", "2", "--time-limit", "2"]) == 0
    out = capsys.readouterr().out
    spath = tmp_path / "s.json"
    spath.write_text(out)
    assert main(["validate", str(path), str(spath)]) == 0
    assert set(json.loads(out)["shifts"]) == {s.id for s in inst.shifts}


def test_cli_refuses_a_bad_partitions_value(tmp_path, capsys):
    from scheduling_solver.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["solve", str(tmp_path / "i.json"), "--partitions", "zero"])
    assert exc.value.code == 2
    assert "--partitions" in capsys.readouterr().err


def test_packed_instance_round_trips_exactly():
    from datetime import timedelta, timezone

    from scheduling_solver.partition import pack, unpack

    inst = generate_day(200, 20, seed=9).instance
    # Mixed offsets, accepted and declined shifts, service levels: everything must come back equal.
    other = timezone(timedelta(hours=-5, minutes=-30))
    workers = list(inst.workers)
    a, b = workers[0].available[0]
    workers[0] = replace(
        workers[0], available=((a.astimezone(other), b.astimezone(other)),), fixed=("s1",), excluded=("s2",)
    )
    shifts = list(inst.shifts)
    shifts[3] = replace(
        shifts[3], priority=2.5, policy="full_first", min_fill=0.5, start=shifts[3].start.astimezone(other)
    )
    inst = Instance(tuple(workers), tuple(shifts), replace(inst.policy, seed=7))
    back = unpack(pack(inst))
    assert back == inst
    assert [s.start.utcoffset() for s in back.shifts] == [s.start.utcoffset() for s in inst.shifts]
    assert [w.available[0][0].utcoffset() for w in back.workers] == [
        w.available[0][0].utcoffset() for w in inst.workers
    ]


def test_merged_plan_accounts_for_the_phases_of_its_parts():
    inst = generate_day(2000, 200, seed=11).instance.with_policy(time_limit_s=30.0, seed=1)
    sol, rep = solve_partitioned_report(inst, partitions=2, processes=2)
    names = [p.name for p in sol.phases]
    assert "greedy" in names and names[-1] == "local_search"
    assert all(p.objective_removed >= 0.0 for p in sol.phases)
    assert sol.phases[-1].objective_removed == pytest.approx(max(0.0, rep.repair_gain))


def test_many_separate_towns_are_packed_into_the_parts_asked_for():
    # 40 one-shift towns 111 km apart: 40 components, packed whole into 3 parts, no cut.
    ws = [worker(f"w{i}", location=(50.0 + i // 2, 30.31)) for i in range(80)]
    ss = [shift(f"s{j}", headcount=1, location=(50.0 + j, 30.31)) for j in range(40)]
    inst = instance(ws, ss)
    plan = plan_parts(inst, 3)
    assert plan.components == 40 and plan.cut_components == 0
    assert len(plan.parts) == 3 and all(pt.exact for pt in plan.parts)
    assert sorted(j for pt in plan.parts for j in pt.shifts.tolist()) == list(range(40))
    sol = solve_partitioned(inst, partitions=3, processes=1)
    assert validate(inst, sol).ok
