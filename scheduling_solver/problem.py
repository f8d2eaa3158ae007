"""The solver's numeric view of an instance: arrays, and eligible candidates per shift.

Eligibility (skills, availability window, travel distance) is computed with numpy over spatial grid
cells keyed by the shift's rarest skill, so a shift only looks at workers that share that skill and
live in the 3 x 3 cells around it. This is what keeps 50,000 x 5,000 tractable: a Python loop over
all pairs would be 250 million iterations.

This module is deliberately independent of :mod:`scheduling_solver.constraints`: the validator is the
specification, and a bug here must show up as a validation failure rather than be shared by both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scheduling_solver import probability
from scheduling_solver.geo import EARTH_RADIUS_KM
from scheduling_solver.schemas import Instance

_KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180.0
# Solver-side distances are kept a hair inside the limit so rounding never disagrees with the validator.
_DISTANCE_SLACK_KM = 1e-6


@dataclass
class Problem:
    """Arrays over workers (index w) and shifts (index s), plus per-shift candidate lists.

    Candidates of a shift are eligible workers sorted by the solver's priority: higher show
    probability first, then higher rank, then input order. Lists may be truncated for memory and
    are extended on demand by :meth:`extend_candidates`.
    """

    instance: Instance
    worker_ids: list[str]
    shift_ids: list[str]
    p: np.ndarray
    rank_penalty: np.ndarray
    max_day: np.ndarray
    priority: np.ndarray
    start: np.ndarray
    end: np.ndarray
    day: np.ndarray
    n_days: int
    headcount: np.ndarray
    cap: np.ndarray
    rest_s: float
    excluded: set[tuple[int, int]]
    fixed: list[tuple[int, int]]
    candidates: list[np.ndarray] = field(default_factory=list)
    candidate_km: list[np.ndarray] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)
    row_pos: list[int] = field(default_factory=list)
    _index: _SpatialIndex | None = None

    @property
    def n_workers(self) -> int:
        """Number of workers."""
        return len(self.worker_ids)

    @property
    def n_shifts(self) -> int:
        """Number of shifts."""
        return len(self.shift_ids)

    def pair_penalty(self, w: int, km: float) -> float:
        """Rank and distance cost of one call, in the same units as the expected cost."""
        return float(self.rank_penalty[w]) + self.instance.policy.distance_weight * km

    def conflicts(self, s: int, t: int) -> bool:
        """True when one worker cannot work both shifts (overlap or too little rest)."""
        return bool(self.start[s] < self.end[t] + self.rest_s and self.start[t] < self.end[s] + self.rest_s)

    def is_eligible(self, w: int, s: int) -> bool:
        """Pair rules only (skills, window, distance, not excluded); worker load is the caller's business."""
        if (w, s) in self.excluded:
            return False
        return self.distance_if_eligible(w, s) is not None

    def distance_if_eligible(self, w: int, s: int) -> float | None:
        """Km from worker ``w`` to shift ``s`` if the pair rules allow it, else None."""
        hit = np.flatnonzero(self.candidates[s] == w)
        if len(hit):
            return float(self.candidate_km[s][hit[0]])
        # Not in the list: it may be truncated, or filtered while it grew; decide from the rules.
        assert self._index is not None
        return self._index.check(w, s)

    def all_eligible(self, s: int) -> np.ndarray:
        """Every eligible worker of shift ``s`` in priority order, without storing the list."""
        assert self._index is not None
        return self._index.scan(s, 0, None)[0]

    def full_candidates(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        """The complete candidate list of shift ``s`` (only for tiny instances and tests)."""
        while self.truncated[s]:
            self.extend_candidates(s)
        return self.candidates[s], self.candidate_km[s]

    def extend_candidates(self, s: int, usable: Callable[[np.ndarray], np.ndarray] | None = None) -> bool:
        """Append the next eligible workers of a truncated shift; False when none are left.

        Lists grow on demand, resuming the scan where it stopped, rather than jumping to the full list:
        on a 50,000-worker day a shift's full list has thousands of workers, nearly all busy elsewhere.
        With ``usable`` (a filter over workers) only those are appended, since a worker who cannot take
        the shift now never can later in the same construction; the list then no longer holds every
        eligible worker, which is why ``truncated`` stays true until the scan has covered them all.
        """
        if not self.truncated[s]:
            return False
        assert self._index is not None
        last = int(self.candidates[s][-1]) if len(self.candidates[s]) else -1
        want = max(256, len(self.candidates[s]))
        w, km, row = self._index.scan(s, self.row_pos[s], want, last)
        if usable is not None and len(w):
            keep = usable(w)
            w, km = w[keep], km[keep]
        self.candidates[s] = np.concatenate([self.candidates[s], w])
        self.candidate_km[s] = np.concatenate([self.candidate_km[s], km])
        self.row_pos[s] = row
        self.truncated[s] = row < self._index.row_count(s)
        return True


class _SpatialIndex:
    """Availability windows bucketed by (skill, grid cell), each bucket in worker priority order."""

    def __init__(self, instance: Instance, problem: Problem) -> None:
        workers = instance.workers
        shifts = instance.shifts
        self.problem = problem
        vocab: dict[str, int] = {}
        for w in workers:
            for k in w.skills:
                vocab.setdefault(k, len(vocab))
        for sh in shifts:
            for k in sh.skills:
                vocab.setdefault(k, len(vocab))
        self.vocab = vocab
        words = max(1, (len(vocab) + 63) // 64)
        self.words = words
        mask = np.zeros((len(workers), words), dtype=np.uint64)
        for i, w in enumerate(workers):
            for k in w.skills:
                j = vocab[k]
                mask[i, j // 64] |= np.uint64(1) << np.uint64(j % 64)
        self.mask = mask

        lat = np.array([w.location[0] for w in workers], dtype=np.float64)
        lon = np.array([w.location[1] for w in workers], dtype=np.float64)
        self.lat_r = np.radians(lat)
        self.lon_r = np.radians(lon)
        self.cos_lat = np.cos(self.lat_r)
        s_lat = np.array([s.location[0] for s in shifts], dtype=np.float64)
        s_lon = np.array([s.location[1] for s in shifts], dtype=np.float64)
        self.s_lat_r = np.radians(s_lat)
        self.s_lon_r = np.radians(s_lon)

        self.max_km = instance.policy.max_travel_km
        # Project with the smallest cos(latitude) present: projected east-west distances then never
        # exceed true ones, so a worker within reach is always in one of the 3 x 3 neighbouring cells.
        all_lat = np.concatenate([lat, s_lat]) if len(lat) + len(s_lat) else np.zeros(1)
        cos_min = max(0.01, float(np.cos(np.radians(np.max(np.abs(all_lat))))))
        cell_km = max(self.max_km * 1.01, 1e-3)
        self.cell_y = _KM_PER_DEGREE / cell_km
        self.cell_x = _KM_PER_DEGREE * cos_min / cell_km
        wy = np.floor(lat * self.cell_y).astype(np.int64)
        wx = np.floor(lon * self.cell_x).astype(np.int64)
        self.s_cy = np.floor(s_lat * self.cell_y).astype(np.int64)
        self.s_cx = np.floor(s_lon * self.cell_x).astype(np.int64)

        # Flatten availability windows into rows: (worker, start, end).
        win_w: list[int] = []
        win_a: list[float] = []
        win_b: list[float] = []
        for i, w in enumerate(workers):
            for a, b in w.available:
                win_w.append(i)
                win_a.append(a.timestamp())
                win_b.append(b.timestamp())
        row_w = np.array(win_w, dtype=np.int64)
        row_a = np.array(win_a, dtype=np.float64)
        row_b = np.array(win_b, dtype=np.float64)
        # Rows in priority order, so each bucket is already sorted and results come out sorted.
        order = np.argsort(problem.priority[row_w], kind="stable")
        self.row_w, self.row_a, self.row_b = row_w[order], row_a[order], row_b[order]
        self.row_prio = problem.priority[self.row_w]

        buckets: dict[tuple[int, int, int], list[int]] = {}
        row_cy = wy[self.row_w].tolist()
        row_cx = wx[self.row_w].tolist()
        worker_skills = [[vocab[k] for k in dict.fromkeys(w.skills)] for w in workers]
        for r, wi in enumerate(self.row_w.tolist()):
            cy, cx = row_cy[r], row_cx[r]
            buckets.setdefault((-1, cy, cx), []).append(r)
            for k in worker_skills[wi]:
                buckets.setdefault((k, cy, cx), []).append(r)
        self.buckets = {key: np.array(rows, dtype=np.int64) for key, rows in buckets.items()}
        self._merged: dict[tuple[int, int, int], np.ndarray] = {}
        counts: dict[int, int] = {}
        for (skill, _, _), rows_arr in self.buckets.items():
            counts[skill] = counts.get(skill, 0) + len(rows_arr)
        self.skill_rows = counts

        self.s_req: list[np.ndarray | None] = []
        self.s_key: list[int] = []
        for sh in shifts:
            ids = [vocab[k] for k in dict.fromkeys(sh.skills)]
            if ids:
                req = np.zeros(words, dtype=np.uint64)
                for j in ids:
                    req[j // 64] |= np.uint64(1) << np.uint64(j % 64)
                self.s_req.append(req if len(ids) > 1 else None)
                # The rarest required skill gives the smallest bucket to scan.
                self.s_key.append(min(ids, key=lambda j: (counts.get(j, 0), j)))
            else:
                self.s_req.append(None)
                self.s_key.append(-1)

    def check(self, w: int, s: int) -> float | None:
        """Km if worker ``w`` passes the pair rules for shift ``s`` (skills, a covering window, distance)."""
        pr = self.problem
        rows = np.flatnonzero(self.row_w == w)
        if not np.any((self.row_a[rows] <= pr.start[s]) & (self.row_b[rows] >= pr.end[s])):
            return None
        req = self.s_req[s]
        key = self.s_key[s]
        if key >= 0 and not (int(self.mask[w, key // 64]) >> (key % 64)) & 1:
            return None
        if req is not None and not np.all((self.mask[w] & req) == req):
            return None
        dlat = self.lat_r[w] - self.s_lat_r[s]
        dlon = self.lon_r[w] - self.s_lon_r[s]
        h = math.sin(dlat / 2) ** 2 + self.cos_lat[w] * math.cos(self.s_lat_r[s]) * math.sin(dlon / 2) ** 2
        km = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
        return km if km <= self.max_km - _DISTANCE_SLACK_KM else None

    def _neighbourhood(self, key: int, cy: int, cx: int) -> np.ndarray:
        """Rows of the 3 x 3 cells around (cy, cx) for skill ``key``, merged in priority order (cached:
        many shifts share a skill and a cell)."""
        found = self._merged.get((key, cy, cx))
        if found is None:
            parts = [
                self.buckets[b]
                for b in ((key, cy + dy, cx + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))
                if b in self.buckets
            ]
            if not parts:
                found = np.zeros(0, dtype=np.int64)
            else:
                rows = np.concatenate(parts)
                found = rows[np.argsort(self.row_prio[rows], kind="stable")]
            self._merged[(key, cy, cx)] = found
        return found

    def scan(self, s: int, row_start: int, want: int | None, last: int = -1) -> tuple[np.ndarray, np.ndarray, int]:
        """Eligible workers of shift ``s`` from row ``row_start`` of its neighbourhood on, in priority
        order, until at least ``want`` are found (all if None). Returns workers, km and the row to
        resume from; ``last`` is the last worker returned before, so a worker is never repeated."""
        pr = self.problem
        rows_all = self._neighbourhood(self.s_key[s], int(self.s_cy[s]), int(self.s_cx[s]))
        start, end = pr.start[s], pr.end[s]
        req = self.s_req[s]
        slat, slon, cos_s = self.s_lat_r[s], self.s_lon_r[s], math.cos(self.s_lat_r[s])
        out_w: list[np.ndarray] = []
        out_km: list[np.ndarray] = []
        got = 0
        step = 2048 if want is not None else max(1, len(rows_all))
        i = row_start
        while i < len(rows_all):
            # Whole chunks only; a chunk ends between a worker's rows at worst, which ``last`` handles.
            rows = rows_all[i : i + step]
            i += len(rows)
            rows = rows[(self.row_a[rows] <= start) & (self.row_b[rows] >= end)]
            w = self.row_w[rows]
            if req is not None:
                w = w[np.all((self.mask[w] & req) == req, axis=1)]
            # Haversine, vectorised; same formula and radius as the specification.
            dlat = self.lat_r[w] - slat
            dlon = self.lon_r[w] - slon
            h = np.sin(dlat / 2) ** 2 + self.cos_lat[w] * cos_s * np.sin(dlon / 2) ** 2
            km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
            near = km <= self.max_km - _DISTANCE_SLACK_KM
            out_w.append(w[near])
            out_km.append(km[near])
            got += int(near.sum())
            if want is not None and got >= want:
                break
        if not out_w:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64), i
        w = np.concatenate(out_w)
        km = np.concatenate(out_km)
        if len(w):
            # A worker with two windows that both cover the shift appears twice, side by side.
            keep = np.ones(len(w), dtype=bool)
            keep[0] = w[0] != last
            keep[1:] = w[1:] != w[:-1]
            w, km = w[keep], km[keep]
        return w, km, i

    def row_count(self, s: int) -> int:
        """Rows in the neighbourhood of shift ``s``."""
        return len(self._neighbourhood(self.s_key[s], int(self.s_cy[s]), int(self.s_cx[s])))


def build_problem(instance: Instance, *, truncate: bool = True) -> Problem:
    """Arrays and candidate lists for ``instance``."""
    pol = instance.policy
    workers, shifts = instance.workers, instance.shifts
    p = probability.show_probability(
        np.array([w.shows for w in workers], dtype=np.float64),
        np.array([w.no_shows for w in workers], dtype=np.float64),
        pol.prior,
    )
    rank = np.array([w.rank for w in workers], dtype=np.float64)
    # Priority: likeliest to come first, then better ranked, then input order (for determinism).
    order = np.lexsort((np.arange(len(workers)), -rank, -p)) if len(workers) else np.zeros(0, dtype=np.int64)
    priority = np.empty(len(workers), dtype=np.int64)
    priority[order] = np.arange(len(workers))

    start = np.array([s.start.timestamp() for s in shifts], dtype=np.float64)
    end = np.array([s.end.timestamp() for s in shifts], dtype=np.float64)
    # Day = the local calendar date the shift starts, in the offset it was given with.
    day_keys = [s.start.date().toordinal() for s in shifts]
    uniq = {d: i for i, d in enumerate(sorted(set(day_keys)))}
    day = np.array([uniq[d] for d in day_keys], dtype=np.int64)
    headcount = np.array([s.headcount for s in shifts], dtype=np.int64)
    cap = np.array([instance.call_cap(s) for s in shifts], dtype=np.int64)

    s_index = {s.id: i for i, s in enumerate(shifts)}
    excluded = {(wi, s_index[sid]) for wi, w in enumerate(workers) for sid in w.excluded if sid in s_index}
    fixed = [(wi, s_index[sid]) for wi, w in enumerate(workers) for sid in dict.fromkeys(w.fixed)]

    problem = Problem(
        instance=instance,
        worker_ids=[w.id for w in workers],
        shift_ids=[s.id for s in shifts],
        p=p,
        rank_penalty=pol.rank_weight * (100.0 - rank) / 100.0,
        max_day=np.array([w.max_shifts_per_day for w in workers], dtype=np.int64),
        priority=priority,
        start=start,
        end=end,
        day=day,
        n_days=max(1, len(uniq)),
        headcount=headcount,
        cap=cap,
        rest_s=pol.min_rest_minutes * 60.0,
        excluded=excluded,
        fixed=fixed,
    )
    index = _SpatialIndex(instance, problem)
    problem._index = index
    for s in range(len(shifts)):
        # Deep enough that the greedy rarely has to come back for more, short enough to bound memory.
        limit = int(6 * cap[s] + 300) if truncate else None
        cand, km, row = index.scan(s, 0, limit)
        problem.candidates.append(cand)
        problem.candidate_km.append(km)
        problem.row_pos.append(row)
        problem.truncated.append(row < index.row_count(s))
    return problem
