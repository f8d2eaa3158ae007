"""Shared vocabulary of the constraint modules: a violation and the assignment being checked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from scheduling_solver.schemas import Instance, Shift, Worker

# shift id -> ids of the workers called for it, in call order.
Assignment = Mapping[str, Sequence[str]]


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule: a stable ``code`` to branch on, the JSON ``path`` in the solution, and a message."""

    code: str
    path: str
    message: str


def called_pairs(instance: Instance, assignment: Assignment) -> Iterator[tuple[str, Worker, Shift]]:
    """Every (json path, worker, shift) in the assignment whose ids are known; unknown ids are reported
    by the structural checks in :mod:`scheduling_solver.validate`, not here."""
    workers = {w.id: w for w in instance.workers}
    shifts = {s.id: s for s in instance.shifts}
    for sid, called in assignment.items():
        shift = shifts.get(sid)
        if shift is None:
            continue
        for i, wid in enumerate(called):
            worker = workers.get(wid)
            if worker is not None:
                yield f"$.shifts.{sid}.called[{i}]", worker, shift


def shifts_by_worker(instance: Instance, assignment: Assignment) -> dict[str, list[Shift]]:
    """worker id -> the shifts that worker is called for (each shift once)."""
    shifts = {s.id: s for s in instance.shifts}
    out: dict[str, list[Shift]] = {}
    for sid, called in assignment.items():
        if sid not in shifts:
            continue
        for wid in dict.fromkeys(called):
            out.setdefault(wid, []).append(shifts[sid])
    return out
