"""The adapter's direct instance (``plan_build_and_solve``, the demo history's plans) is the one the solver's parser
reads from the instance document: the same workers, windows and plan."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from backend.staffing import solver_adapter as adapter
from scheduling_solver import parse_instance

ALMATY = ZoneInfo("Asia/Almaty")
DAY = dt.datetime(2027, 3, 2, 2, 0, tzinfo=dt.UTC)


def _workers() -> list[adapter.WorkerIn]:
    out = []
    for pk in range(1, 40):
        free = (DAY + dt.timedelta(minutes=pk, microseconds=pk), DAY + dt.timedelta(hours=21))
        if pk % 3 == 0:  # a window given in the site's zone, and an empty one the document leaves out
            free = (free[0].astimezone(ALMATY), free[1].astimezone(ALMATY))
        windows = [free, (free[1], free[1])] if pk % 5 == 0 else [free]
        out.append(
            adapter.WorkerIn(
                worker_id=pk,
                rank=[-5.0, 40.0, 130.0][pk % 3],
                shows=pk % 7 - 1.0,
                no_shows=float(pk % 2),
                skills=["loader"] + (["driver"] if pk % 4 == 0 else []),
                location=(59.9 + pk / 1000, 30.3 - pk / 1000),
                available=windows,
                max_shifts_per_day=pk % 3,
                fixed=[77] if pk == 4 else [],
                excluded=[77] if pk == 6 else [],
            )
        )
    return out


SHIFT = adapter.ShiftIn(
    shift_id=77,
    start=DAY + dt.timedelta(hours=3),
    end=DAY + dt.timedelta(hours=15),
    headcount=4,
    skills=["loader"],
    location=(59.93, 30.31),
)


def test_direct_workers_equal_the_parsed_document() -> None:
    workers = _workers()
    document = adapter._document(workers=workers, shifts=[SHIFT], prior=(4.0, 1.0), time_limit_s=2, standby_size=3)
    direct, parsed = adapter._workers_direct(workers, {77}), parse_instance(document).workers
    assert direct == parsed
    # equal instants are not enough: the solver reads the windows' own offsets, UTC as the document writes them
    assert [[(a.utcoffset(), b.utcoffset()) for a, b in w.available] for w in direct] == [
        [(a.utcoffset(), b.utcoffset()) for a, b in w.available] for w in parsed
    ]


def test_direct_plan_equals_the_stored_instance_plan() -> None:
    workers = _workers()
    args = {"workers": workers, "shifts": [SHIFT], "prior": (4.0, 1.0), "time_limit_s": 2.0, "standby_size": 3}
    direct = adapter.plan_build_and_solve(**args, seed=5)
    stored = adapter.plan_solve(adapter.instance_build(**args, seed=5))
    assert direct.status == stored.status and direct.plans == stored.plans
    assert direct.plans[77].called


def test_direct_workers_refuse_what_the_parser_refuses() -> None:
    bad = adapter.WorkerIn(1, 10.0, 1.0, 0.0, ["loader"], (95.0, 30.0), [(DAY, DAY + dt.timedelta(hours=1))])
    with pytest.raises(adapter.SolverInputError):
        adapter.plan_build_and_solve(workers=[bad], shifts=[SHIFT], prior=(4.0, 1.0), time_limit_s=1, standby_size=1)
    naive = adapter.WorkerIn(2, 10.0, 1.0, 0.0, ["loader"], (59.9, 30.0), [(dt.datetime(2027, 3, 2), DAY)])
    with pytest.raises(adapter.SolverInputError):
        adapter._workers_direct([naive], {77})
