"""Event-driven re-plan: one event at a time, the plan stays valid, the next call goes out, errors are clear."""

import json
from dataclasses import replace

import numpy as np
import pytest

from scheduling_solver.events import Accept, Available, Decline, NoShow, Timeout, event_to_json, parse_event
from scheduling_solver.generator import generate_day
from scheduling_solver.greedy import PlanState
from scheduling_solver.incremental import EventError, change_to_json
from scheduling_solver.problem import build_problem
from scheduling_solver.replan import current_instance, current_solution, replan, replan_one
from scheduling_solver.schemas import Instance, SchemaError
from scheduling_solver.solve import objective_of, solve, solve_with_context
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import HOME, at, instance, shift, worker


def _solved(inst):
    sol, ctx = solve_with_context(inst)
    assert ctx is not None
    return sol, ctx


def _assert_valid(ctx):
    report = validate(current_instance(ctx), current_solution(ctx))
    assert report.ok, report.violations


def test_decline_on_a_full_shift_calls_the_next_worker():
    # Four equally good loaders, a shift of two with a call cap of two: the plan calls two.
    workers = [worker(f"w{i}", shows=20, no_shows=1, rank=90 - i) for i in range(4)]
    inst = instance(workers, [shift("s1", headcount=2)], max_call_ratio=1.0)
    sol, ctx = _solved(inst)
    called = list(sol.shifts["s1"].called)
    assert len(called) == 2
    gone = called[0]

    change = replan_one(ctx, Decline(gone, "s1"))

    (only,) = change.changes
    assert only.shift_id == "s1" and only.removed == (gone,)
    (nxt,) = only.added
    assert nxt not in called
    assert change.calls == (("s1", nxt),)
    # The next worker is the best one left: highest rank among the two not called.
    assert nxt == min((w for w in ("w0", "w1", "w2", "w3") if w not in called), key=lambda w: int(w[1:]))
    assert set(current_solution(ctx).shifts["s1"].called) == (set(called) - {gone}) | {nxt}
    assert "s1" in next(w for w in current_instance(ctx).workers if w.id == gone).excluded
    _assert_valid(ctx)


@pytest.mark.parametrize("kind", [Timeout, NoShow])
def test_timeouts_and_no_shows_also_free_the_place(kind):
    workers = [worker(f"w{i}", shows=20, no_shows=1) for i in range(4)]
    inst = instance(workers, [shift("s1", headcount=2)], max_call_ratio=1.0)
    sol, ctx = _solved(inst)
    gone = sol.shifts["s1"].called[1]

    change = replan_one(ctx, kind(gone, "s1"))

    assert change.changes[0].removed == (gone,) and len(change.calls) == 1
    assert gone not in current_solution(ctx).shifts["s1"].called
    _assert_valid(ctx)


def test_new_worker_gets_called_where_it_helps():
    # One loader for a shift of three: the shift is short; a new loader nearby is worth a call at once.
    inst = instance([worker("w0")], [shift("s1", headcount=3), shift("s2", headcount=1, skills=("driver",))])
    sol, ctx = _solved(inst)
    assert sol.shifts["s1"].called == ("w0",)

    change = replan_one(ctx, Available(worker("new1", location=(HOME[0] + 0.01, HOME[1]))))

    assert change.calls == (("s1", "new1"),)
    assert change.changes[0].removed == ()
    assert current_solution(ctx).shifts["s1"].called == ("w0", "new1") or set(
        current_solution(ctx).shifts["s1"].called
    ) == {"w0", "new1"}
    assert any(w.id == "new1" for w in current_instance(ctx).workers)
    _assert_valid(ctx)


def test_new_worker_out_of_reach_changes_nothing():
    inst = instance([worker("w0")], [shift("s1", headcount=3)], max_travel_km=25)
    _, ctx = _solved(inst)
    before = current_solution(ctx)

    change = replan_one(ctx, Available(worker("far", location=(HOME[0] + 1.0, HOME[1]))))

    assert change.changes == () and change.calls == ()
    assert current_solution(ctx).shifts == before.shifts
    _assert_valid(ctx)


def test_known_worker_with_a_new_window_gets_called():
    # w1 is off in the morning; when it declares a morning window it fills the gap.
    morning_off = ((at(14), at(22)),)
    inst = instance([worker("w0"), worker("w1", available=morning_off)], [shift("s1", 8, 12, headcount=2)])
    sol, ctx = _solved(inst)
    assert "w1" not in sol.shifts["s1"].called

    known = next(w for w in inst.workers if w.id == "w1")
    change = replan_one(ctx, Available(replace(known, available=((at(6), at(13)),))))

    assert ("s1", "w1") in change.calls
    rec = next(w for w in current_instance(ctx).workers if w.id == "w1")
    assert set(rec.available) == {(at(14), at(22)), (at(6), at(13))}
    _assert_valid(ctx)


def test_a_better_new_worker_takes_a_pending_place_only_when_withdrawals_are_allowed():
    # The only place is held by an unreliable worker; a very reliable one arrives.
    weak = worker("weak", shows=1, no_shows=6)
    inst = instance([weak], [shift("s1", headcount=1)], max_call_ratio=1.0)
    strong = worker("strong", shows=60, no_shows=0)

    _, ctx = _solved(inst)
    kept = replan_one(ctx, Available(strong), withdraw=False)
    assert kept.changes == ()

    # The exchange saves about 0.57 x cost_unfilled (6): not enough when a withdrawal must save 10.
    _, ctx = _solved(inst)
    assert replan_one(ctx, Available(strong), withdraw_min_gain=10.0).changes == ()

    _, ctx = _solved(inst)
    swapped = replan_one(ctx, Available(strong))
    (only,) = swapped.changes
    assert only.added == ("strong",) and only.removed == ("weak",)
    _assert_valid(ctx)


def test_accepted_calls_are_never_withdrawn():
    weak = worker("weak", shows=1, no_shows=6)
    inst = instance([weak], [shift("s1", headcount=1)], max_call_ratio=1.0)
    _, ctx = _solved(inst)

    replan_one(ctx, Accept("weak", "s1"))
    change = replan_one(ctx, Available(worker("strong", shows=60, no_shows=0)))

    assert change.changes == ()
    assert "s1" in next(w for w in current_instance(ctx).workers if w.id == "weak").fixed
    _assert_valid(ctx)
    # An accepted worker who then declines is taken off, and is no longer fixed.
    replan_one(ctx, Decline("weak", "s1"))
    rec = next(w for w in current_instance(ctx).workers if w.id == "weak")
    assert "s1" not in rec.fixed and "s1" in rec.excluded
    assert current_solution(ctx).shifts["s1"].called == ("strong",)
    _assert_valid(ctx)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (Decline("nobody", "s1"), "unknown worker id 'nobody'"),
        (Timeout("w0", "s9"), "unknown shift id 's9'"),
        (NoShow("w3", "s1"), "w3 is not on the call list of s1"),
        (Accept("w3", "s1"), "w3 is not on the call list of s1"),
        (Available(worker("w0", rank=10.0)), "w0 is already in the day with other rank"),
        (Available(worker("late", fixed=("s1",))), "cannot arrive with accepted (fixed) shifts"),
    ],
)
def test_events_that_do_not_fit_raise_a_clear_error_and_change_nothing(event, message):
    workers = [worker(f"w{i}", shows=20, no_shows=1, rank=90 - i) for i in range(4)]
    inst = instance(workers, [shift("s1", headcount=2)], max_call_ratio=1.0)
    _, ctx = _solved(inst)
    before = current_solution(ctx)

    with pytest.raises(EventError, match=message.replace("(", r"\(").replace(")", r"\)")):
        replan_one(ctx, event)

    assert current_solution(ctx).shifts == before.shifts
    assert current_instance(ctx) is inst or current_instance(ctx).workers == inst.workers


def _random_event(rng, ctx, base, n):
    live = ctx.live
    pairs = [(s, w) for s, ws in enumerate(live.state.called) for w in ws]
    if not pairs or rng.random() < 0.25:
        model = base.workers[int(rng.integers(len(base.workers)))]
        lat, lon = model.location
        return Available(replace(model, id=f"new{n}", location=(lat + rng.normal(0, 0.01), lon), fixed=()))
    s, w = pairs[int(rng.integers(len(pairs)))]
    kind = (Decline, Timeout, NoShow)[int(rng.integers(3))]
    return kind(live.problem.worker_ids[w], live.problem.shift_ids[s])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_plan_after_random_events_passes_the_validator(seed):
    base = generate_day(300, 30, seed=seed).instance.with_policy(time_limit_s=0.5, seed=seed)
    _, ctx = _solved(base)
    current_solution(ctx)
    rng = np.random.default_rng(100 + seed)
    for n in range(80):
        event = _random_event(rng, ctx, base, n)
        change = replan_one(ctx, event)
        _assert_valid(ctx)
        if isinstance(event, Decline | Timeout | NoShow):
            plan = current_solution(ctx).shifts[event.shift_id]
            assert event.worker_id not in plan.called and event.worker_id not in plan.standby
            assert event.worker_id in change.changes[0].removed
        # Every change names its shift's whole new call list, consistent with the added and removed.
        for c in change.changes:
            assert set(c.added) <= set(c.plan.called) and not set(c.removed) & set(c.plan.called)
    # The objective the live plan reports (rank and distance terms included) is the one a fresh build of
    # the resulting day computes for the same calls.
    inst = current_instance(ctx)
    fresh = build_problem(inst, truncate=False)
    w_index = {w.id: i for i, w in enumerate(inst.workers)}
    live = current_solution(ctx)
    assignment = [[w_index[w] for w in live.shifts[s.id].called] for s in inst.shifts]
    assert live.totals.objective == pytest.approx(objective_of(fresh, assignment)[1], rel=1e-9)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_replan_one_and_a_fresh_solve_agree_in_cost(seed):
    base = generate_day(300, 30, seed=seed).instance.with_policy(time_limit_s=1.0, seed=seed)
    _, ctx = _solved(base)
    current_solution(ctx)
    rng = np.random.default_rng(200 + seed)
    for n in range(40):
        replan_one(ctx, _random_event(rng, ctx, base, n))
    live = current_solution(ctx).totals.objective
    fresh = solve(current_instance(ctx)).totals.objective
    # The live plan only repairs around each event; a fresh solve may re-plan the whole day.
    assert live == pytest.approx(fresh, rel=0.04)


def test_grown_arrays_match_a_fresh_build_of_the_resulting_day():
    # If the problem or the plan state gains a per-worker array, the live plan must grow it too: every
    # attribute a fresh build sizes by the number of workers has that size in the grown one.
    base = generate_day(120, 12, seed=6).instance.with_policy(time_limit_s=0.3)
    _, ctx = _solved(base)
    model = base.workers[0]
    replan_one(ctx, Available(replace(model, id="new0", location=(model.location[0] + 0.01, model.location[1]))))
    fresh_problem = build_problem(current_instance(ctx))
    fresh_state = PlanState(fresh_problem)
    n = fresh_problem.n_workers
    assert n == 121 and fresh_problem.n_shifts == 12
    checked = []
    for grown, fresh in ((ctx.live.problem, fresh_problem), (ctx.live.state, fresh_state)):
        for name, value in vars(fresh).items():
            if isinstance(value, np.ndarray | list) and len(value) == n:
                checked.append(name)
                assert len(getattr(grown, name)) == n, name
    assert {"p", "priority", "worker_ids", "worker_shifts", "day_count", "n_assigned"} <= set(checked)
    # The priority order is the one a fresh build gives.
    assert np.array_equal(ctx.live.problem.priority, fresh_problem.priority)
    assert np.allclose(ctx.live.problem.p, fresh_problem.p)


def test_a_batch_replan_on_the_same_context_leaves_the_live_plan_valid():
    base = generate_day(200, 20, seed=7).instance.with_policy(time_limit_s=0.5)
    sol, ctx = _solved(base)
    current_solution(ctx)
    sid = next(s for s, p in sol.shifts.items() if p.called)
    replan(base, sol, declines={sid: [sol.shifts[sid].called[0]]}, context=ctx)
    _assert_valid(ctx)
    replan_one(ctx, Decline(sol.shifts[sid].called[0], sid))
    _assert_valid(ctx)


def test_change_json_names_the_calls():
    workers = [worker(f"w{i}", shows=20, no_shows=1, rank=90 - i) for i in range(4)]
    inst = instance(workers, [shift("s1", headcount=2)], max_call_ratio=1.0)
    sol, ctx = _solved(inst)
    gone = sol.shifts["s1"].called[0]
    doc = change_to_json(replan_one(ctx, Decline(gone, "s1")))
    assert doc["event"] == {"type": "decline", "worker": gone, "shift": "s1"}
    assert [c["worker"] for c in doc["calls"]] == list(doc["changes"][0]["added"])
    assert doc["changes"][0]["removed"] == [gone]


@pytest.mark.parametrize(
    "event",
    [
        Decline("w1", "s1"),
        Timeout("w1", "s1"),
        NoShow("w1", "s1"),
        Accept("w1", "s1"),
        Available(worker("new1", excluded=("s2",))),
    ],
)
def test_events_round_trip_through_json(event):
    assert parse_event(json.loads(json.dumps(event_to_json(event)))) == event


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"type": "cancel", "worker": "w1", "shift": "s1"}, "$.type"),
        ({"type": "decline", "shift": "s1"}, "$.worker"),
        ({"type": "decline", "worker": "w1", "shift": ""}, "$.shift"),
        ({"type": "decline", "worker": "w1", "shift": "s1", "when": 1}, "$.when"),
        ({"type": "available"}, "$.worker"),
        ({"type": "available", "worker": {"id": "n1", "rank": 500, "location": [0, 0]}}, "$.worker.rank"),
        ([], "$"),
    ],
)
def test_bad_event_documents_name_the_json_path(doc, path):
    with pytest.raises(SchemaError) as err:
        parse_event(doc)
    assert path in [p for p, _ in err.value.errors]


def test_a_shift_below_its_min_fill_brings_over_a_pending_call_from_a_shift_without_one():
    # Two reliable loaders for two parallel shifts, one place each; only s1 has a hard minimum.
    workers = [worker("w0", shows=30, no_shows=1), worker("w1", shows=30, no_shows=1)]
    shifts = [shift("s1", headcount=1, min_fill=0.8), shift("s2", headcount=1)]
    inst = instance(workers, shifts, max_call_ratio=1.0)
    sol, ctx = _solved(inst)
    (held,) = sol.shifts["s1"].called
    (other,) = sol.shifts["s2"].called

    change = replan_one(ctx, Decline(held, "s1"))

    by_shift = {c.shift_id: c for c in change.changes}
    assert by_shift["s1"].added == (other,) and by_shift["s2"].removed == (other,)
    assert current_solution(ctx).status == "feasible"
    _assert_valid(ctx)
    # Without withdrawals nobody can be brought over: the answer says why instead.
    _, ctx = _solved(inst)
    kept = replan_one(ctx, Decline(held, "s1"), withdraw=False)
    assert kept.reasons and "s1 cannot reach its min_fill" in kept.reasons[0]
    assert current_solution(ctx).status == "infeasible"
    _assert_valid(ctx)


@pytest.mark.parametrize("seed", [3, 5])
def test_plans_with_priorities_policies_and_min_fill_stay_valid_after_every_event(seed):
    day = generate_day(300, 30, seed=seed).instance
    rng = np.random.default_rng(seed)
    shifts = tuple(
        replace(
            s,
            priority=float(rng.choice([0.5, 1.0, 3.0])),
            policy=str(rng.choice(["spread", "full_first"])),
            min_fill=float(rng.choice([0.0, 0.0, 0.5 * s.headcount])),
        )
        for s in day.shifts
    )
    base = Instance(day.workers, shifts, day.policy).with_policy(time_limit_s=0.5, seed=seed)
    _, ctx = _solved(base)
    current_solution(ctx)
    for n in range(60):
        replan_one(ctx, _random_event(rng, ctx, base, n))
        _assert_valid(ctx)


def test_dividing_a_worker_out_matches_rebuilding_without_them():
    from scheduling_solver import incremental

    base = generate_day(200, 20, seed=8).instance.with_policy(time_limit_s=0.3)
    _, ctx = _solved(base)
    state = ctx.state
    checked = 0
    for t, called in enumerate(state.called):
        for v in called:
            got = incremental._without(state, t, v)
            h = state.headcount[t]
            pmf = np.zeros(h + 1)
            pmf[0] = 1.0
            for u in called:
                if u != v:
                    q = state.p[u]
                    top = pmf[h] + pmf[h - 1] * q
                    pmf[1:h] = pmf[1:h] * (1.0 - q) + pmf[0 : h - 1] * q
                    pmf[0] *= 1.0 - q
                    pmf[h] = top
            assert got == pytest.approx((pmf[h], pmf[h - 1]), abs=1e-9)
            checked += h <= incremental._DIVIDE_MAX_HEADCOUNT and state.p[v] <= incremental._DIVIDE_MAX_P
    assert checked > 50
