"""Plan state and the marginal-gain construction.

Adding a worker with show probability p to a shift whose called set currently fills it with
probability F = P(X >= h) changes the expected cost by exactly

    p * ((cost_unfilled + cost_idle) * F - cost_unfilled)

because the extra person only matters when they come, and then they either close a gap (saving
``cost_unfilled``) or stand idle (costing ``cost_idle``). So the greedy adds, across the whole day, the
call with the most negative change (plus its rank and distance terms) until no call pays. Gains only
shrink as a shift fills or loses its best candidates, which makes lazy re-evaluation from a heap exact.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

import numpy as np

from scheduling_solver.problem import Problem

# How many usable candidates beyond the likeliest one are compared, because a slightly less reliable
# worker who is nearer or better ranked can be the better call.
LOOKAHEAD = 4
_CHUNK = 64


class PlanState:
    """Who is called where, with each shift's truncated attendance distribution kept up to date."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        pol = problem.instance.policy
        self.cu = pol.cost_unfilled
        self.ci = pol.cost_idle
        self.p: list[float] = problem.p.tolist()
        self.start: list[float] = problem.start.tolist()
        self.end: list[float] = problem.end.tolist()
        self.day: list[int] = problem.day.tolist()
        self.max_day: list[int] = problem.max_day.tolist()
        self.cap: list[int] = problem.cap.tolist()
        self.headcount: list[int] = problem.headcount.tolist()
        self.rest = problem.rest_s
        self.worker_shifts: list[list[int]] = [[] for _ in range(problem.n_workers)]
        self.day_count = np.zeros((problem.n_workers, problem.n_days), dtype=np.int64)
        self.called: list[list[int]] = [[] for _ in range(problem.n_shifts)]
        self.called_set: list[set[int]] = [set() for _ in range(problem.n_shifts)]
        # pmf[s][k] = P(X = k) for k < h, and pmf[s][h] = P(X >= h).
        self.pmf: list[np.ndarray] = []
        for h in self.headcount:
            a = np.zeros(h + 1)
            a[0] = 1.0
            self.pmf.append(a)
        self.fill: list[float] = [0.0] * problem.n_shifts

    def can_take(self, w: int, s: int) -> bool:
        """True when adding shift ``s`` keeps worker ``w`` within rest and daily-limit rules."""
        mine = self.worker_shifts[w]
        if not mine:
            return True
        d = self.day[s]
        same_day = 0
        a, b, rest = self.start[s], self.end[s], self.rest
        for t in mine:
            if t == s:
                return False
            if self.day[t] == d:
                same_day += 1
            if a < self.end[t] + rest and self.start[t] < b + rest:
                return False
        return same_day < self.max_day[w]

    def add(self, w: int, s: int) -> None:
        """Call worker ``w`` for shift ``s`` and update that shift's attendance distribution."""
        self.worker_shifts[w].append(s)
        self.day_count[w, self.day[s]] += 1
        self.called[s].append(w)
        self.called_set[s].add(w)
        p = self.p[w]
        pmf = self.pmf[s]
        h = len(pmf) - 1
        top = pmf[h] + pmf[h - 1] * p
        pmf[1:h] = pmf[1:h] * (1.0 - p) + pmf[0 : h - 1] * p
        pmf[0] *= 1.0 - p
        pmf[h] = top
        self.fill[s] = float(top)

    def gain_slope(self, s: int) -> float:
        """Change in expected cost per unit of show probability added to shift ``s``."""
        return (self.cu + self.ci) * self.fill[s] - self.cu

    def assignment(self) -> list[list[int]]:
        """Called workers per shift, in the solver's priority order."""
        prio = self.problem.priority
        return [sorted(c, key=lambda w: prio[w]) for c in self.called]


def _best_call(
    state: PlanState, s: int, ptr: list[int], lists: dict[int, tuple[list[int], list[float]]]
) -> tuple[float, int] | None:
    """The best (delta, worker) for shift ``s`` among the next usable candidates, or None."""
    pr = state.problem
    if len(state.called[s]) >= state.cap[s]:
        return None
    g = state.gain_slope(s)
    if g >= 0.0:
        return None
    cand, km = pr.candidates[s], pr.candidate_km[s]
    d = state.day[s]
    found: list[int] = []
    i = ptr[s]
    while len(found) < LOOKAHEAD:
        if i >= len(cand):
            if pr.truncated[s]:
                cand, km = pr.full_candidates(s)
                lists.pop(s, None)
                continue
            break
        chunk = cand[i : i + _CHUNK]
        # Vector pre-filter: a worker already at the daily limit for this day can never come back.
        maybe = np.flatnonzero(state.day_count[chunk, d] < pr.max_day[chunk])
        for j in maybe.tolist():
            w = int(chunk[j])
            if w in state.called_set[s] or (w, s) in pr.excluded or not state.can_take(w, s):
                continue
            if not found:
                # Everything before the first usable worker is unusable for good: skip it next time.
                ptr[s] = i + j
            found.append(i + j)
            if len(found) >= LOOKAHEAD:
                break
        if not found:
            ptr[s] = min(i + len(chunk), len(cand))
        i += len(chunk)
    if not found:
        return None
    if s not in lists:
        lists[s] = (cand.tolist(), km.tolist())
    wl, kl = lists[s]
    best: tuple[float, int] | None = None
    for idx in found:
        w = wl[idx]
        delta = state.p[w] * g + pr.pair_penalty(w, kl[idx])
        if best is None or delta < best[0]:
            best = (delta, w)
    return best


def greedy_fill(state: PlanState, shifts: Iterable[int] | None = None) -> None:
    """Add calls by largest marginal gain across ``shifts`` (default all) until no call pays."""
    pr = state.problem
    todo = range(pr.n_shifts) if shifts is None else shifts
    ptr = [0] * pr.n_shifts
    lists: dict[int, tuple[list[int], list[float]]] = {}
    heap: list[tuple[float, int]] = []
    for s in todo:
        best = _best_call(state, s, ptr, lists)
        if best is not None and best[0] < 0:
            heap.append((best[0], s))
    heapq.heapify(heap)
    while heap:
        _, s = heapq.heappop(heap)
        best = _best_call(state, s, ptr, lists)
        if best is None or best[0] >= -1e-12:
            continue
        delta, w = best
        if heap and delta > heap[0][0] + 1e-12:
            # Stale entry: its gain fell below another shift's bound; re-queue with the true value.
            heapq.heappush(heap, (delta, s))
            continue
        state.add(w, s)
        # The old delta is a valid bound: gains of a shift never grow as it fills.
        heapq.heappush(heap, (delta, s))


def standby_lists(state: PlanState, size: int, shifts: Iterable[int] | None = None) -> dict[int, list[int]]:
    """For each shift, the next best eligible workers who are not called and could still take it."""
    pr = state.problem
    out: dict[int, list[int]] = {}
    if size <= 0:
        return {s: [] for s in (range(pr.n_shifts) if shifts is None else shifts)}
    for s in range(pr.n_shifts) if shifts is None else shifts:
        d = state.day[s]
        picks: list[int] = []
        cand = pr.candidates[s]
        i = 0
        while len(picks) < size and i < len(cand):
            chunk = cand[i : i + 256]
            maybe = np.flatnonzero(state.day_count[chunk, d] < pr.max_day[chunk])
            for j in maybe.tolist():
                w = int(chunk[j])
                if w in state.called_set[s] or (w, s) in pr.excluded or not state.can_take(w, s):
                    continue
                picks.append(w)
                if len(picks) >= size:
                    break
            i += len(chunk)
        out[s] = picks
    return out
