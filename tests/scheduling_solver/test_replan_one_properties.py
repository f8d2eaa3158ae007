"""Property (fixed seed): whatever small day and event sequence hypothesis invents, the live plan of
replan_one passes the validator after every event."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduling_solver.events import Available, Decline, NoShow, Timeout
from scheduling_solver.replan import current_instance, current_solution, replan_one
from scheduling_solver.schemas import Worker
from scheduling_solver.solve import solve_with_context
from scheduling_solver.validate import validate
from tests.scheduling_solver.solver_factories import HOME, at
from tests.scheduling_solver.test_properties import SKILLS, days


@st.composite
def newcomers(draw, n):
    a = draw(st.sampled_from([0, 6, 8, 12]))
    return Worker(
        id=f"new{n}",
        rank=draw(st.floats(0, 100)),
        shows=draw(st.floats(0, 30)),
        no_shows=draw(st.floats(0, 10)),
        skills=tuple(draw(st.sets(st.sampled_from(SKILLS), min_size=1))),
        location=(HOME[0] + draw(st.sampled_from([0.0, 0.05, 0.2, 0.5])), HOME[1]),
        available=((at(a), at(a + draw(st.sampled_from([6, 12, 20])))),),
        max_shifts_per_day=draw(st.integers(1, 2)),
    )


@given(days(service=True), st.data())
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
def test_every_plan_after_random_events_passes_the_validator(inst, data):
    _, ctx = solve_with_context(inst)
    if ctx is None:
        return
    for n in range(data.draw(st.integers(1, 12))):
        live = current_solution(ctx)
        pairs = [(sid, w) for sid, plan in live.shifts.items() for w in plan.called]
        if pairs and data.draw(st.booleans()):
            sid, wid = data.draw(st.sampled_from(pairs))
            event = data.draw(st.sampled_from([Decline, Timeout, NoShow]))(wid, sid)
        else:
            event = Available(data.draw(newcomers(n)))
        replan_one(ctx, event)
        report = validate(current_instance(ctx), current_solution(ctx))
        assert report.ok, (event, report.violations)
