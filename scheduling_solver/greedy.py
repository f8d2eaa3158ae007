"""Plan state and the marginal-gain construction.

Adding a worker with show probability p to a shift whose called set currently fills it with
probability F = P(X >= h) changes the expected cost by exactly

    p * ((cost_unfilled + cost_idle) * F - cost_unfilled)

because the extra person only matters when they come, and then they either close a gap (saving
``cost_unfilled``) or stand idle (costing ``cost_idle``). A shift's priority scales ``cost_unfilled``
per shift, and a ``full_first`` shift also saves its penalty times P(X = h - 1), the chance that this
very person completes the shift, so the identity (and everything built on it) stays exact.

So the greedy adds, across the whole day, the call with the most negative change (plus its rank and
distance terms) until no call pays. On spread shifts gains only shrink as a shift fills or loses its
best candidates, which makes lazy re-evaluation from a heap exact; a full_first gain can grow as the
shift nears its headcount, which the re-evaluation after every pick catches, and the exact local
search and CP-SAT correct what the greedy order misses.
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
        self.rank_pen: list[float] = problem.rank_penalty.tolist()
        # Per shift: priority-scaled cost per empty place, full_first penalty (0 for spread), min_fill.
        inst = problem.instance
        terms = [inst.service_terms(sh) for sh in inst.shifts]
        self.cu_s: list[float] = [t[0] for t in terms]
        self.pen_s: list[float] = [t[1] for t in terms]
        self.min_fill: list[float] = [sh.min_fill for sh in inst.shifts]
        self.cu_np = np.array(self.cu_s, dtype=np.float64)
        self.pen_np = np.array(self.pen_s, dtype=np.float64)
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
        # P(X = h - 1) per shift: the chance one more person completes it (full_first gains).
        self.edge_np = np.array([1.0 if h == 1 else 0.0 for h in self.headcount])
        # Array twins of fill and of the room left under each call cap, for vectorised look-ups.
        self.fill_np = np.zeros(problem.n_shifts)
        self.room_np = problem.cap.astype(np.int64).copy()
        # Per worker: number of calls and the hull of their shifts, for the vectorised pre-filter.
        self.n_assigned = np.zeros(problem.n_workers, dtype=np.int64)
        self.hull_lo = np.full(problem.n_workers, np.inf)
        self.hull_hi = np.full(problem.n_workers, -np.inf)

    def may_take(self, ws: np.ndarray, s: int) -> np.ndarray:
        """Vectorised pre-filter of :meth:`can_take` over workers ``ws``: never false when ``can_take``
        is true, and exact for workers with at most one call (nearly everyone)."""
        n = self.n_assigned[ws]
        d = self.day[s]
        gap_ok = (self.hull_hi[ws] + self.rest <= self.start[s]) | (self.end[s] + self.rest <= self.hull_lo[ws])
        return (n == 0) | ((self.day_count[ws, d] < self.problem.max_day[ws]) & ((n >= 2) | gap_ok))

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
        self.n_assigned[w] += 1
        self.hull_lo[w] = min(self.hull_lo[w], self.start[s])
        self.hull_hi[w] = max(self.hull_hi[w], self.end[s])
        p = self.p[w]
        pmf = self.pmf[s]
        h = len(pmf) - 1
        top = pmf[h] + pmf[h - 1] * p
        pmf[1:h] = pmf[1:h] * (1.0 - p) + pmf[0 : h - 1] * p
        pmf[0] *= 1.0 - p
        pmf[h] = top
        self.fill[s] = float(top)
        self.fill_np[s] = top
        self.edge_np[s] = pmf[h - 1]
        self.room_np[s] -= 1

    def remove(self, w: int, s: int) -> None:
        """Un-call worker ``w`` from shift ``s`` (local search only) and rebuild that distribution."""
        self.worker_shifts[w].remove(s)
        self.day_count[w, self.day[s]] -= 1
        self.called[s].remove(w)
        self.called_set[s].discard(w)
        self.n_assigned[w] -= 1
        mine = self.worker_shifts[w]
        self.hull_lo[w] = min((self.start[t] for t in mine), default=np.inf)
        self.hull_hi[w] = max((self.end[t] for t in mine), default=-np.inf)
        h = self.headcount[s]
        pmf = np.zeros(h + 1)
        pmf[0] = 1.0
        self.pmf[s] = pmf
        self.fill[s] = 0.0
        self.room_np[s] += 1
        for v in self.called[s]:
            p = self.p[v]
            top = pmf[h] + pmf[h - 1] * p
            pmf[1:h] = pmf[1:h] * (1.0 - p) + pmf[0 : h - 1] * p
            pmf[0] *= 1.0 - p
            pmf[h] = top
            self.fill[s] = float(top)
        self.fill_np[s] = self.fill[s]
        self.edge_np[s] = pmf[h - 1]

    def gain_slope(self, s: int) -> float:
        """Change in expected cost per unit of show probability added to shift ``s``."""
        cu = self.cu_s[s]
        return (cu + self.ci) * self.fill[s] - cu - self.pen_s[s] * float(self.edge_np[s])

    def expected_attendance(self, s: int) -> float:
        """Sum of the show probabilities of the workers called for ``s``."""
        return float(sum(self.p[w] for w in self.called[s]))

    def assignment(self) -> list[list[int]]:
        """Called workers per shift, in the solver's priority order."""
        prio = self.problem.priority
        return [sorted(c, key=lambda w: prio[w]) for c in self.called]


class _Cursors:
    """Per shift: where scanning of its candidate list resumes, and a few usable candidates found so far.

    Both are safe because the plan only grows: a worker found unusable for a shift (at the daily limit,
    in a conflicting shift, excluded, already called) stays unusable, so each list is scanned once and
    the cached candidates only need their cheap re-check.
    """

    def __init__(self, n_shifts: int) -> None:
        self.pos = [0] * n_shifts
        self.cache: list[list[tuple[int, float]]] = [[] for _ in range(n_shifts)]

    def refill(self, state: PlanState, s: int, keep: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """Extend ``keep`` with the next usable candidates of shift ``s`` up to LOOKAHEAD."""
        pr = state.problem
        cand, km = pr.candidates[s], pr.candidate_km[s]
        dw = pr.instance.policy.distance_weight
        i = self.pos[s]
        called, excluded, rank_pen = state.called_set[s], pr.excluded, state.rank_pen
        while len(keep) < LOOKAHEAD:
            if i >= len(cand):
                if pr.extend_candidates(s, lambda ws: state.may_take(ws, s)):
                    cand, km = pr.candidates[s], pr.candidate_km[s]
                    continue
                break
            chunk = cand[i : i + _CHUNK]
            # Vector pre-filter: a worker already at the daily limit for this day can never come back.
            maybe = np.flatnonzero(state.may_take(chunk, s)).tolist()
            stop = len(chunk)
            if maybe:
                ws = chunk.tolist()
                kms = km[i : i + _CHUNK].tolist()
            for j in maybe:
                w = ws[j]
                if w in called or (w, s) in excluded or not state.can_take(w, s):
                    continue
                keep.append((w, rank_pen[w] + dw * kms[j]))
                if len(keep) >= LOOKAHEAD:
                    stop = j + 1
                    break
            i += stop
        self.pos[s] = i
        return keep


def _best_call(state: PlanState, s: int, cursors: _Cursors) -> tuple[float, int] | None:
    """The best (delta, worker) for shift ``s`` among its next usable candidates, or None."""
    if len(state.called[s]) >= state.cap[s]:
        return None
    g = state.gain_slope(s)
    if g >= 0.0:
        return None
    keep = [(w, pen) for w, pen in cursors.cache[s] if w not in state.called_set[s] and state.can_take(w, s)]
    if len(keep) < 2:
        keep = cursors.refill(state, s, keep)
    cursors.cache[s] = keep
    best: tuple[float, int] | None = None
    p = state.p
    for w, pen in keep:
        delta = p[w] * g + pen
        if best is None or delta < best[0]:
            best = (delta, w)
    return best


def greedy_fill(state: PlanState, shifts: Iterable[int] | None = None) -> None:
    """Add calls by largest marginal gain across ``shifts`` (default all) until no call pays."""
    pr = state.problem
    todo = range(pr.n_shifts) if shifts is None else shifts
    cursors = _Cursors(pr.n_shifts)
    heap: list[tuple[float, int]] = []
    for s in todo:
        best = _best_call(state, s, cursors)
        if best is not None and best[0] < 0:
            heap.append((best[0], s))
    heapq.heapify(heap)
    while heap:
        _, s = heapq.heappop(heap)
        best = _best_call(state, s, cursors)
        if best is None or best[0] >= -1e-12:
            continue
        delta, w = best
        if heap and delta > heap[0][0] + 1e-12:
            # Stale entry: its best worker went elsewhere; re-queue with the true value.
            heapq.heappush(heap, (delta, s))
            continue
        state.add(w, s)
        # Re-evaluate now rather than pushing the old delta as a bound: as the shift fills its gain drops
        # at once, and a stale bound would be popped and re-checked many times over.
        nxt = _best_call(state, s, cursors)
        if nxt is not None and nxt[0] < -1e-12:
            heapq.heappush(heap, (nxt[0], s))


def sweep_fill(state: PlanState, shifts: Iterable[int] | None = None) -> None:
    """One pass over workers, likeliest first: each goes to the open shift where it saves the most.

    A shift's gain per unit of show probability depends only on how full it already is, so handing out
    workers in descending probability, each to the shift with the steepest need, gives nearly the plan
    of the pair-by-pair greedy at a fraction of its cost: the pair-by-pair greedy re-examines every
    shift that wanted the same popular worker, which grows with the size of the city. Run
    :func:`greedy_fill` afterwards to finish the margins (and to reach beyond truncated lists).
    """
    pr = state.problem
    n = pr.n_shifts
    open_mask = np.zeros(n, dtype=bool)
    open_mask[list(range(n)) if shifts is None else list(shifts)] = True
    sizes = np.array([len(c) for c in pr.candidates], dtype=np.int64)
    if n == 0 or sizes.sum() == 0:
        return
    all_w = np.concatenate(pr.candidates)
    all_s = np.repeat(np.arange(n), sizes)
    all_km = np.concatenate(pr.candidate_km)
    keep = open_mask[all_s]
    if pr.excluded:
        banned = np.array([w * n + s for w, s in pr.excluded], dtype=np.int64)
        keep &= ~np.isin(all_w * n + all_s, banned)
    all_w, all_s, all_km = all_w[keep], all_s[keep], all_km[keep]
    if len(all_w) == 0:
        return
    order = np.argsort(pr.priority[all_w], kind="stable")
    all_w, all_s = all_w[order], all_s[order]
    pen = pr.rank_penalty[all_w] + pr.instance.policy.distance_weight * all_km[order]
    bounds = np.flatnonzero(np.diff(all_w)) + 1
    starts = np.concatenate([[0], bounds]).tolist()
    ends = np.concatenate([bounds, [len(all_w)]]).tolist()
    g = np.array([state.gain_slope(s) for s in range(n)])
    room = np.array([c - len(k) for c, k in zip(state.cap, state.called, strict=True)], dtype=np.int64)
    p = state.p
    for a, b in zip(starts, ends, strict=True):
        w = int(all_w[a])
        ss = all_s[a:b]
        delta = p[w] * g[ss] + pen[a:b]
        ok = np.flatnonzero((delta < -1e-12) & (room[ss] > 0))
        if len(ok) == 0:
            continue
        for j in ok[np.argsort(delta[ok], kind="stable")].tolist():
            s = int(ss[j])
            if w in state.called_set[s] or not state.can_take(w, s):
                continue
            state.add(w, s)
            g[s] = state.gain_slope(s)
            room[s] -= 1
            if state.day_count[w].min() >= state.max_day[w] and state.problem.n_days == 1:
                break


# Above this many worker-shift pairs the pair-by-pair greedy re-examines too many shifts per pick.
SWEEP_ABOVE_PAIRS = 20_000_000


def construct(state: PlanState, shifts: Iterable[int] | None = None) -> None:
    """The marginal-gain construction: pair by pair on ordinary days, a worker sweep first on huge ones."""
    pr = state.problem
    todo = None if shifts is None else sorted(shifts)
    # The sweep pays off when most of the day is still empty; a re-plan's top-up touches a few calls
    # per shift, which the pair-by-pair pass does directly.
    if shifts is None and pr.n_workers * pr.n_shifts > SWEEP_ABOVE_PAIRS:
        sweep_fill(state, todo)
        # Only shifts that still want someone need the pair-by-pair pass.
        todo = [
            s
            for s in (range(pr.n_shifts) if todo is None else todo)
            if len(state.called[s]) < state.cap[s] and state.gain_slope(s) < 0.0
        ]
    greedy_fill(state, todo)


def reach_min_fill(state: PlanState, shifts: Iterable[int] | None = None) -> list[str]:
    """Call the likeliest usable workers for every shift below its ``min_fill``; return the reasons for
    the shifts that still cannot reach it.

    Runs before the marginal-gain construction, so scarce reliable workers go to the hard lower bounds
    first. A shift whose ``cap`` likeliest eligible workers together fall short is provably infeasible;
    otherwise a failure means the workers it needs are committed elsewhere (fixed calls or other
    shifts' bounds), which this heuristic does not untangle, and the reason says so.
    """
    pr = state.problem
    reasons: list[str] = []
    for s in range(pr.n_shifts) if shifts is None else shifts:
        need = state.min_fill[s]
        if need <= 0.0 or state.expected_attendance(s) >= need:
            continue
        cand, _ = pr.full_candidates(s)
        for w in cand.tolist():
            if state.expected_attendance(s) >= need or len(state.called[s]) >= state.cap[s]:
                break
            if w in state.called_set[s] or (w, s) in pr.excluded or not state.can_take(w, s):
                continue
            state.add(w, s)
        got = state.expected_attendance(s)
        if got < need:
            eligible = [w for w in cand.tolist() if (w, s) not in pr.excluded]
            best = sum(sorted((state.p[w] for w in eligible), reverse=True)[: state.cap[s]])
            why = (
                f"at most {best:.4g} from its eligible workers within the call cap"
                if best < need
                else f"only {got:.4g} from workers not committed elsewhere"
            )
            reasons.append(f"{pr.shift_ids[s]} cannot reach its min_fill {need:g}: {why}")
    return reasons


def standby_lists(state: PlanState, size: int, shifts: Iterable[int] | None = None) -> dict[int, list[int]]:
    """For each shift, the next best eligible workers who are not called and could still take it."""
    pr = state.problem
    todo = range(pr.n_shifts) if shifts is None else shifts
    out: dict[int, list[int]] = {}
    if size <= 0:
        return {s: [] for s in todo}
    for s in todo:
        cand = pr.candidates[s]
        picks: list[int] = []
        for w in cand[state.may_take(cand, s)].tolist():
            if w in state.called_set[s] or (w, s) in pr.excluded or not state.can_take(w, s):
                continue
            picks.append(w)
            if len(picks) >= size:
                break
        out[s] = picks
    return out
