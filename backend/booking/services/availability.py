"""Availability: which visits fit a branch's day, computed in memory from one snapshot of the branch.

The selectors load a ``Board`` (working time, busy ranges, resources, booked minutes) with a fixed number of
queries; everything here is pure and makes no query, so a day's search costs microseconds per candidate.

Terms:

* A **visit** is one or several services in sequence, one master per step: each step starts when the previous
  one's held time ends (its after-buffer) plus its own before-buffer, as ``booking.services.catalog`` lays a
  booking's lines out, so the held ranges of one visit touch and never overlap.
* A step **occupies** its master (and its resource, when the service needs one) over ``[start - buffer_before,
  end + buffer_after)``; that whole range must fall in the master's working time and clear every other booking's
  occupied range.
* **Candidate starts** lie on the branch's grid: local wall-clock times that are multiples of the branch's step
  from local midnight. The grid is walked in UTC, so a day of 23 or 25 hours (a DST change) has exactly the
  candidates that exist on the clock, the repeated autumn hour twice.
* **Fair choice of "any master"**: among the qualified masters free for the step, the one with the fewest booked
  minutes that local day; on a tie, the one who has *waited longest*: whose last appointment that day ended
  earliest before the slot, counting a master without one as waiting since their working stretch began; then
  the lowest id, so the answer is stable.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

Interval = tuple[dt.datetime, dt.datetime]

#: A slot search spans at most this many local days (the API bounds ``date_to`` to it).
MAX_SEARCH_DAYS = 31
# The latest instant: pairs (start, _LATEST) sort after every interval that starts at ``start``.
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)
#: The name of the fairness rule, shown with every choice of "any master".
FAIRNESS_RULE = "least_booked_minutes_then_longest_wait"


@dataclass(frozen=True)
class ServiceSpec:
    """What one step of a visit needs. ``durations`` maps each qualified master to their duration of it."""

    service_id: int
    durations: Mapping[int, dt.timedelta]
    buffer_before: dt.timedelta = dt.timedelta(0)
    buffer_after: dt.timedelta = dt.timedelta(0)
    resource_kinds: tuple[str, ...] = ()
    capacity: int = 1


@dataclass(frozen=True)
class Session:
    """An existing group session (a class): the seats still free and the resources it holds."""

    seats_left: int
    resource_ids: tuple[int, ...] = ()


@dataclass
class Board:
    """A branch's occupancy over a window, in UTC.

    ``working``: each master's working intervals (sorted, merged). ``staff_busy`` / ``resource_busy``: occupied
    ranges of existing active bookings (sorted, merged). ``resources``: resource ids by kind. ``booked``: each
    master's booked appointment ranges (client time), for the fairness rule. ``sessions``: group sessions by
    (service, master, start), which a group service joins while seats are left.
    """

    zone: ZoneInfo
    working: dict[int, list[Interval]] = field(default_factory=dict)
    staff_busy: dict[int, list[Interval]] = field(default_factory=dict)
    resources: dict[str, list[int]] = field(default_factory=dict)
    resource_busy: dict[int, list[Interval]] = field(default_factory=dict)
    booked: dict[int, list[Interval]] = field(default_factory=dict)
    sessions: dict[tuple[int, int, dt.datetime], Session] = field(default_factory=dict)


@dataclass(frozen=True)
class SlotLine:
    """One step of a found visit: the client's time ``start``-``end``, its master and its resources."""

    service_id: int
    staff_id: int
    start: dt.datetime
    end: dt.datetime
    resource_ids: tuple[int, ...] = ()
    seats_left: int | None = None


@dataclass(frozen=True)
class Choice:
    """Why "any master" named this master for a step (see the module's fairness rule)."""

    staff_id: int
    booked_minutes: int
    waited_since: dt.datetime
    candidates: int


@dataclass(frozen=True)
class Slot:
    """A visit that fits: from the first step's start to the last one's end. ``why`` is set for "any master"."""

    lines: tuple[SlotLine, ...]
    why: tuple[Choice, ...] = ()

    @property
    def start(self) -> dt.datetime:
        return self.lines[0].start

    @property
    def end(self) -> dt.datetime:
        return self.lines[-1].end

    @property
    def staff_id(self) -> int:
        return self.lines[0].staff_id


def intervals_merge(intervals: Sequence[Interval]) -> list[Interval]:
    """Sorted, merged ``[start, end)`` intervals (touching ones joined)."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _covered(intervals: Sequence[Interval], start: dt.datetime, end: dt.datetime) -> bool:
    """Whether one interval of the sorted, merged ``intervals`` holds ``[start, end)``."""
    i = bisect.bisect_right(intervals, (start, _LATEST)) - 1
    return i >= 0 and intervals[i][0] <= start and end <= intervals[i][1]


def _clear(intervals: Sequence[Interval], start: dt.datetime, end: dt.datetime) -> bool:
    """Whether ``[start, end)`` overlaps none of the sorted, merged ``intervals``."""
    i = bisect.bisect_left(intervals, (end, end))  # the first interval starting at or after ``end``
    return i == 0 or intervals[i - 1][1] <= start


def grid(zone: ZoneInfo, start: dt.datetime, end: dt.datetime, step_minutes: int) -> Iterator[dt.datetime]:
    """Candidate starts in ``[start, end)``: instants whose local time in ``zone`` is a multiple of the step from
    local midnight, walked in UTC so DST days get exactly their real clock times."""
    step = dt.timedelta(minutes=step_minutes)
    local = start.astimezone(zone)
    cursor = dt.datetime.combine(local.date(), dt.time.min, tzinfo=zone).astimezone(dt.UTC)
    while cursor < end:
        if cursor >= start:
            wall = cursor.astimezone(zone)
            if (wall.hour * 60 + wall.minute) % step_minutes == 0 and wall.second == 0:
                yield cursor
                cursor += step
                continue
            # An offset change that is not a multiple of the step moved the grid: realign on the local clock.
            minute = wall.hour * 60 + wall.minute
            cursor += dt.timedelta(minutes=step_minutes - minute % step_minutes, seconds=-wall.second)
            continue
        cursor += step


def local_day_bounds(zone: ZoneInfo, day: dt.date) -> Interval:
    """The UTC instants of local midnight at the start and the end of ``day`` (23 or 25 hours apart on DST days)."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone).astimezone(dt.UTC)
    return start, end


class _Ledger:
    """The fairness figures of one search: booked minutes per (master, local day) and appointment ends."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.minutes: dict[tuple[int, dt.date], int] = {}
        self.ends: dict[int, list[dt.datetime]] = {}
        for staff_id, ranges in board.booked.items():
            self.ends[staff_id] = sorted(end for _, end in ranges)
            for start, end in ranges:
                key = (staff_id, start.astimezone(board.zone).date())
                self.minutes[key] = self.minutes.get(key, 0) + int((end - start).total_seconds() // 60)

    def choice(self, staff_id: int, start: dt.datetime, extra_minutes: int, candidates: int) -> Choice:
        day = start.astimezone(self.board.zone).date()
        day_start, _ = local_day_bounds(self.board.zone, day)
        ends = self.ends.get(staff_id, [])
        i = bisect.bisect_right(ends, start) - 1
        if i >= 0 and ends[i] >= day_start:
            waited = ends[i]
        else:
            working = self.board.working.get(staff_id, [])
            j = bisect.bisect_right(working, (start, _LATEST)) - 1
            waited = max(working[j][0], day_start) if j >= 0 else day_start
        return Choice(
            staff_id=staff_id,
            booked_minutes=self.minutes.get((staff_id, day), 0) + extra_minutes,
            waited_since=waited,
            candidates=candidates,
        )


def _overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _occupied(line: SlotLine, spec: ServiceSpec) -> Interval:
    return line.start - spec.buffer_before, line.end + spec.buffer_after


def _resources_pick(board: Board, kinds: Sequence[str], occupied: Interval, held: set[int]) -> tuple[int, ...] | None:
    """One free resource of each kind for ``occupied`` (lowest id first, none of ``held``), or None."""
    chosen: list[int] = []
    for kind in kinds:
        found = next(
            (
                rid
                for rid in board.resources.get(kind, ())
                if rid not in held and rid not in chosen and _clear(board.resource_busy.get(rid, ()), *occupied)
            ),
            None,
        )
        if found is None:
            return None
        chosen.append(found)
    return tuple(chosen)


def _step_fit(
    board: Board,
    spec: ServiceSpec,
    staff_id: int,
    start: dt.datetime,
    taken: Sequence[tuple[SlotLine, ServiceSpec]],
) -> SlotLine | None:
    """The line when ``staff_id`` can perform ``spec`` from ``start``, else None.

    A group service joins an existing session of that master at that start while it has seats left; otherwise the
    master (and a resource of each kind needed) must be free over the occupied range, the visit's earlier steps
    (``taken``) counting as busy too.
    """
    duration = spec.durations.get(staff_id)
    if duration is None:
        return None
    end = start + duration
    session = board.sessions.get((spec.service_id, staff_id, start))
    if session is not None:
        if session.seats_left <= 0:
            return None
        return SlotLine(spec.service_id, staff_id, start, end, session.resource_ids, session.seats_left)
    occupied = (start - spec.buffer_before, end + spec.buffer_after)
    if not _covered(board.working.get(staff_id, ()), *occupied):
        return None
    if not _clear(board.staff_busy.get(staff_id, ()), *occupied):
        return None
    held: set[int] = set()
    for line, line_spec in taken:
        if _overlaps(occupied, _occupied(line, line_spec)):
            if line.staff_id == staff_id:
                return None
            held.update(line.resource_ids)
    resources: tuple[int, ...] = ()
    if spec.resource_kinds:
        picked = _resources_pick(board, spec.resource_kinds, occupied, held)
        if picked is None:
            return None
        resources = picked
    return SlotLine(spec.service_id, staff_id, start, end, resources, spec.capacity if spec.capacity > 1 else None)


def _visit_at(
    board: Board, ledger: _Ledger, specs: Sequence[ServiceSpec], staff_id: int | None, start: dt.datetime
) -> Slot | None:
    """The visit starting at ``start``, with "any master" chosen fairly per step, or None when it does not fit."""
    taken: list[tuple[SlotLine, ServiceSpec]] = []
    why: list[Choice] = []
    cursor = start
    for spec in specs:
        previous = taken[-1] if taken else None
        fits: list[SlotLine] = []
        # The booking lays lines out the same way: the next service starts once the previous one's held time
        # (its after-buffer) and its own before-buffer have passed, so one visit's held ranges touch, never overlap.
        step_start = cursor if previous is None else cursor + previous[1].buffer_after + spec.buffer_before
        for candidate in (staff_id,) if staff_id is not None else spec.durations:
            line = _step_fit(board, spec, candidate, step_start, taken)
            if line is not None:
                fits.append(line)
        if not fits:
            return None
        if staff_id is not None:
            chosen = fits[0]
        else:
            choices = []
            for line in fits:
                earlier = sum(
                    int((t.end - t.start).total_seconds() // 60) for t, _ in taken if t.staff_id == line.staff_id
                )
                choices.append((ledger.choice(line.staff_id, line.start, earlier, len(fits)), line))
            best, chosen = min(choices, key=lambda c: (c[0].booked_minutes, c[0].waited_since, c[0].staff_id))
            why.append(best)
        taken.append((chosen, spec))
        cursor = chosen.end
    return Slot(lines=tuple(line for line, _ in taken), why=tuple(why))


def visit_fit(*, board: Board, specs: Sequence[ServiceSpec], staff_id: int | None, start: dt.datetime) -> Slot | None:
    """The visit of ``specs`` starting exactly at ``start`` (on the grid or not), or None when it does not fit."""
    if not specs:
        return None
    return _visit_at(board, _Ledger(board), specs, staff_id, start)


def visit_slots(
    *,
    board: Board,
    specs: Sequence[ServiceSpec],
    staff_id: int | None,
    window: Interval,
    step_minutes: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    limit: int | None = None,
) -> list[Slot]:
    """Every visit of ``specs`` (in sequence) that can start on the branch's grid in ``window``, no earlier than
    ``not_before`` (the lead time) and no later than ``not_after`` (the booking horizon), with ``staff_id`` or, when
    it is None, the fairly chosen master for each step; at most ``limit`` slots, earliest first."""
    if not specs:
        return []
    ledger = _Ledger(board)
    start = max(window[0], not_before)
    end = min(window[1], not_after + dt.timedelta(microseconds=1))
    found: list[Slot] = []
    first_masters = (staff_id,) if staff_id is not None else tuple(specs[0].durations)
    session_starts = {key[2] for key in board.sessions if key[0] == specs[0].service_id}
    minute = dt.timedelta(minutes=1)
    for candidate in grid(board.zone, start, end, step_minutes):
        # Cheap pre-check before the full fit: some master of the first step works then, or a session starts.
        if candidate not in session_starts and not any(
            _covered(board.working.get(m, ()), candidate, candidate + minute) for m in first_masters
        ):
            continue
        slot = _visit_at(board, ledger, specs, staff_id, candidate)
        if slot is not None:
            found.append(slot)
            if limit is not None and len(found) >= limit:
                break
    return found
