"""Exact local search: drop, add, replace and relocate moves, each valued by the exact expected cost.

CP-SAT works on a piecewise-linear stand-in for the cost; this pass works on the real thing. Every
move's value is exact and cheap thanks to one identity: adding a worker with show probability p to a
call set whose fill probability is F changes the expected cost by p * ((cu + ci) * F - cu). So the
only costly part is the distribution of each call set minus one worker, computed once per visit.
Work is bounded by a count of shift visits (deterministic) and, as a safety net, by a wall deadline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from scheduling_solver.greedy import PlanState
from scheduling_solver.probability import poisson_binomial_pmf

_EPS = 1e-9
# Usable free candidates looked at per shift visit for add and replace moves.
FREE_CANDIDATES = 6
# Best-valued relocation targets checked for feasibility per worker.
RELOCATE_TRIES = 5


def _without_each(ps: Sequence[float], h: int, cu: float, ci: float, pen: float) -> list[tuple[float, float, float]]:
    """For each i: (exact expected cost, P(X >= h), P(X = h - 1)) of the set without worker i.

    ``cu`` is the shift's priority-scaled cost per empty place and ``pen`` its full_first penalty.

    Dividing the worker's factor (1 - p + p z) out of the full distribution takes O(n) per worker.
    The division runs upwards for p < 1/2 and downwards otherwise, which keeps it numerically stable
    (each step multiplies earlier errors by at most 1).
    """
    n = len(ps)
    pmf = poisson_binomial_pmf(ps).tolist()
    total = float(sum(ps))
    out = []
    top = min(h, n)
    for p in ps:
        q = [0.0] * n
        if p < 0.5:
            prev = 0.0
            for k in range(n):
                prev = (pmf[k] - p * prev) / (1.0 - p)
                q[k] = prev if prev > 0.0 else 0.0
        else:
            nxt = 0.0
            for k in range(n - 1, -1, -1):
                nxt = (pmf[k + 1] - (1.0 - p) * nxt) / p
                q[k] = nxt if nxt > 0.0 else 0.0
        shortfall = sum((h - k) * q[k] for k in range(top))
        # Outside [0, n) the set without i has no mass, so P(X < h) is the sum over k < min(h, n).
        below = min(1.0, sum(q[:top]))
        mu = total - p
        edge = q[h - 1] if h - 1 < n else 0.0
        out.append((cu * shortfall + ci * (mu - h + shortfall) + pen * below, 1.0 - below, edge))
    return out


def _cost(state: PlanState, s: int) -> float:
    pmf = state.pmf[s]
    h = len(pmf) - 1
    shortfall = float(np.dot(pmf[:h], h - np.arange(h)))
    mu = sum(state.p[w] for w in state.called[s])
    below = max(0.0, 1.0 - state.fill[s]) if state.called[s] else 1.0
    return state.cu_s[s] * shortfall + state.ci * (mu - h + shortfall) + state.pen_s[s] * below


class _Neighbours:
    """Per worker: the shifts it is eligible for (from the current candidate lists), built once with
    numpy and unpacked lazily, because only called workers are ever asked about."""

    def __init__(self, state: PlanState) -> None:
        pr = state.problem
        self.state = state
        self.dw = pr.instance.policy.distance_weight
        sizes = np.array([len(c) for c in pr.candidates], dtype=np.int64)
        if sizes.sum():
            all_w = np.concatenate(pr.candidates)
            all_s = np.repeat(np.arange(pr.n_shifts), sizes)
            all_km = np.concatenate(pr.candidate_km)
            order = np.argsort(all_w, kind="stable")
            self.w_sorted, self.s_sorted, self.km_sorted = all_w[order], all_s[order], all_km[order]
        else:
            self.w_sorted = self.s_sorted = np.zeros(0, dtype=np.int64)
            self.km_sorted = np.zeros(0)
        self._by_worker: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._pen: dict[tuple[int, int], float] = {}

    def by_worker(self, w: int) -> tuple[np.ndarray, np.ndarray]:
        """(shifts, rank and distance costs) for every shift worker ``w`` may work."""
        found = self._by_worker.get(w)
        if found is None:
            a, b = np.searchsorted(self.w_sorted, [w, w + 1])
            pr = self.state.problem
            ts = self.s_sorted[a:b]
            pens = self.state.rank_pen[w] + self.dw * self.km_sorted[a:b]
            if pr.excluded:
                keep = np.array([(w, t) not in pr.excluded for t in ts.tolist()], dtype=bool)
                ts, pens = ts[keep], pens[keep]
            found = (ts, pens)
            self._by_worker[w] = found
        return found

    def pen(self, w: int, s: int) -> float:
        """Rank and distance cost of calling ``w`` for ``s``."""
        found = self._pen.get((w, s))
        if found is None:
            km = self.state.problem.distance_if_eligible(w, s)
            found = self.state.rank_pen[w] + self.dw * (km or 0.0)
            self._pen[(w, s)] = found
        return found


def _can_move(state: PlanState, w: int, src: int, dst: int) -> bool:
    """Could worker ``w`` work ``dst`` if it left ``src``?"""
    state.worker_shifts[w].remove(src)
    d = state.day[src]
    state.day_count[w, d] -= 1
    try:
        return w not in state.called_set[dst] and state.can_take(w, dst)
    finally:
        state.worker_shifts[w].append(src)
        state.day_count[w, d] += 1


def improve(state: PlanState, *, max_visits: int, deadline: float) -> int:
    """Apply improving moves until none is left, ``max_visits`` shift visits, or ``deadline``.

    Returns the number of moves applied.
    """
    pr = state.problem
    if pr.n_shifts == 0:
        return 0
    fixed = set(pr.fixed)
    nb = _Neighbours(state)
    ci = state.ci
    visits = 0
    moves = 0
    dirty = list(range(pr.n_shifts))
    while dirty and visits < max_visits and time.perf_counter() < deadline:
        queue, dirty = dirty, []
        queued: set[int] = set()
        for s in queue:
            if visits >= max_visits or time.perf_counter() >= deadline:
                break
            visits += 1
            changed = _visit(state, s, nb, fixed, ci)
            if changed:
                moves += 1
                for t in changed:
                    if t not in queued:
                        queued.add(t)
                        dirty.append(t)
    return moves


def _visit(state: PlanState, s: int, nb: _Neighbours, fixed: set[tuple[int, int]], ci: float) -> list[int]:
    """Apply the best improving move around shift ``s``; return the shifts it changed."""
    pr = state.problem
    called = list(state.called[s])
    base = _cost(state, s)
    cu, full_pen = state.cu_s[s], state.pen_s[s]
    g_s = state.gain_slope(s)
    # Moves that take someone out of ``s`` must keep its expected attendance at min_fill or above.
    need = state.min_fill[s]
    mu_s = state.expected_attendance(s) if need > 0.0 else 0.0
    best: tuple[float, str, int, int] | None = None  # (delta, kind, worker, other worker or shift)

    free: list[tuple[int, float]] = []
    if len(called) <= state.cap[s]:
        cand = pr.candidates[s]
        under = cand[state.may_take(cand, s)]
        for w in under.tolist():
            if len(free) >= FREE_CANDIDATES:
                break
            if w in state.called_set[s] or (w, s) in pr.excluded or not state.can_take(w, s):
                continue
            free.append((w, nb.pen(w, s)))
    if len(called) < state.cap[s]:
        for w, pen in free:
            delta = state.p[w] * g_s + pen
            if delta < -_EPS and (best is None or delta < best[0]):
                best = (delta, "add", w, -1)

    movable = [w for w in called if (w, s) not in fixed]
    if movable:
        minus = _without_each([state.p[w] for w in called], state.headcount[s], cu, ci, full_pen)
        for i, w in enumerate(called):
            if (w, s) in fixed:
                continue
            cost_minus, fill_minus, edge_minus = minus[i]
            pen_w = nb.pen(w, s)
            drop = cost_minus - base - pen_w
            may_leave = need <= 0.0 or mu_s - state.p[w] >= need
            if may_leave and drop < -_EPS and (best is None or drop < best[0]):
                best = (drop, "drop", w, -1)
            g_minus = (cu + ci) * fill_minus - cu - full_pen * edge_minus
            for u, pen_u in free:
                if not may_leave and mu_s - state.p[w] + state.p[u] < need:
                    continue
                delta = drop + state.p[u] * g_minus + pen_u
                if delta < -_EPS and (best is None or delta < best[0]):
                    best = (delta, "replace", w, u)
            # Relocation to any shift the worker may work, valued for all targets at once.
            ts, pens = nb.by_worker(w)
            if len(ts) and may_leave:
                cu_t = state.cu_np[ts]
                slope = (cu_t + ci) * state.fill_np[ts] - cu_t - state.pen_np[ts] * state.edge_np[ts]
                deltas = drop + state.p[w] * slope + pens
                ok = np.flatnonzero((deltas < -_EPS) & (state.room_np[ts] > 0) & (ts != s))
                bar = best[0] if best is not None else 0.0
                for j in ok[np.argsort(deltas[ok], kind="stable")][:RELOCATE_TRIES].tolist():
                    if deltas[j] >= bar:
                        break
                    t = int(ts[j])
                    if _can_move(state, w, s, t):
                        best = (float(deltas[j]), "relocate", w, t)
                        break
    if best is None:
        return []
    _, kind, w, other = best
    if kind == "add":
        state.add(w, s)
        return [s]
    if kind == "drop":
        state.remove(w, s)
        return [s]
    if kind == "replace":
        state.remove(w, s)
        state.add(other, s)
        return [s]
    state.remove(w, s)
    state.add(w, other)
    return [s, other]
