"""The live plan behind :func:`scheduling_solver.replan.replan_one`: one event costs only the shifts it touches.

A :class:`LivePlan` wraps the solve's :class:`~scheduling_solver.problem.Problem` (candidate lists,
spatial index) and its :class:`~scheduling_solver.greedy.PlanState` (per-shift truncated attendance
distributions, fill and room arrays) and keeps both current as events arrive, together with per-shift
caches of the exact figures (:class:`~scheduling_solver.schemas.ShiftPlan`, rank and distance terms)
and of the standby lists, so a full :class:`~scheduling_solver.schemas.Solution` can be read at any
time without re-pricing the day.

Per event:

* decline / timeout / no-show: un-call the worker, exclude the pair, top the shift up again (its
  ``min_fill`` first, then the best marginal call among usable candidates while one pays, the same
  identity the greedy uses), then offer the freed worker where it saves most: as one more call, or in
  place of a weaker pending call (a swap chain, two links deep).
* available: grow the per-worker arrays (a new worker gets its place in the priority order), insert
  the worker into the candidate lists of every shift it can reach, and offer it likewise.
* accept: the call becomes fixed; nothing moves it again.
* then: re-offer two workers earlier events left idle, and run the exact local search's moves on the
  touched shifts and their neighbourhood only (a bounded repair).

Accepted calls are never withdrawn. Pending ones may be, by a swap or a repair move that saves at least
``withdraw_min_gain``, and every withdrawal is reported in the change's ``removed``; with
``withdraw=False`` an event only adds calls. ``docs/decisions/0015`` lists what must stay in sync with
:mod:`scheduling_solver.problem`, :mod:`scheduling_solver.greedy` and :mod:`scheduling_solver.local_search`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from scheduling_solver import probability
from scheduling_solver.events import Accept, Available, Decline, Event, NoShow, Timeout, event_to_json, event_type
from scheduling_solver.geo import EARTH_RADIUS_KM
from scheduling_solver.greedy import LOOKAHEAD, PlanState, standby_lists
from scheduling_solver.local_search import _can_move, _Neighbours, _visit
from scheduling_solver.problem import _DISTANCE_SLACK_KM, Problem
from scheduling_solver.schemas import Instance, ShiftPlan, Solution, Totals, Worker
from scheduling_solver.solve import distances

_EPS = 1e-12
# Best-valued target shifts tried (for rest and daily-limit rules) when offering a freed or new worker.
OFFER_TRIES = 8
# Bounded repair after each event: shift visits of the exact local search, and the largest call list
# it visits.
REPAIR_VISITS = 24
REPAIR_MAX_CALLED = 60
# Idle workers (freed or new, left without a call) offered again per event.
REOFFERS_PER_EVENT = 2
# Least saving (in expected-cost units; an empty place costs ``cost_unfilled``, 6 by default) for which
# a repair withdraws a pending call: it drops the flood of withdrawals that save next to nothing.
# Measured on the 10,000-worker day, 1,000 events (docs/decisions/0015): 0 withdrew about 730 calls,
# 0.05 about 480, 0.2 about 170 at a cost gap 0.3-0.4 points higher.
WITHDRAW_MIN_GAIN = 0.05
# Busy candidates of a short shift whose shifts the repair visits (so it can bring one over).
HOLDER_CANDIDATES = 6
# How far a swap chain runs: the worker swapped out is offered on, this many times at most.
SWAP_DEPTH = 2


class EventError(ValueError):
    """An event that does not fit the live plan (unknown worker or shift, a worker not called there)."""


@dataclass(frozen=True, slots=True)
class ShiftChange:
    """One shift's call list after an event: who to call now, who left, and its new exact figures."""

    shift_id: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    plan: ShiftPlan


@dataclass(frozen=True)
class PlanChange:
    """What one event changed. ``calls`` are the calls to send now, as (shift id, worker id)."""

    event: Event
    changes: tuple[ShiftChange, ...]
    reasons: tuple[str, ...]
    wall_s: float

    @property
    def calls(self) -> tuple[tuple[str, str], ...]:
        """Every (shift id, worker id) to call now, in the order the changes list them."""
        return tuple((c.shift_id, w) for c in self.changes for w in c.added)

    @property
    def changed_shifts(self) -> tuple[str, ...]:
        """Ids of the shifts whose call list changed."""
        return tuple(c.shift_id for c in self.changes)


# Dividing one worker out of a shift's truncated distribution multiplies rounding errors by p / (1 - p)
# per place; below these bounds that stays under 1e-9, above them the distribution is rebuilt.
_DIVIDE_MAX_HEADCOUNT = 6
_DIVIDE_MAX_P = 0.9


def _without(state: PlanState, t: int, v: int) -> tuple[float, float]:
    """(P(X >= h), P(X = h - 1)) of shift ``t``'s call set without worker ``v``."""
    h = state.headcount[t]
    q = state.p[v]
    if h <= _DIVIDE_MAX_HEADCOUNT and q <= _DIVIDE_MAX_P:
        full = state.pmf[t]
        prev = 0.0
        below = 0.0
        for k in range(h):
            prev = max(0.0, (float(full[k]) - q * prev) / (1.0 - q))
            below += prev
        return max(0.0, 1.0 - below), prev
    pmf = np.zeros(h + 1)
    pmf[0] = 1.0
    for u in state.called[t]:
        if u == v:
            continue
        p = state.p[u]
        top = pmf[h] + pmf[h - 1] * p
        pmf[1:h] = pmf[1:h] * (1.0 - p) + pmf[0 : h - 1] * p
        pmf[0] *= 1.0 - p
        pmf[h] = top
    return float(pmf[h]), float(pmf[h - 1])


def change_to_json(change: PlanChange) -> dict[str, Any]:
    """The JSON document for a :class:`PlanChange`: the event, the calls to send, and per changed shift
    its added and removed workers and its new figures."""
    return {
        "event": event_to_json(change.event),
        "calls": [{"shift": sid, "worker": wid} for sid, wid in change.calls],
        "changes": [
            {
                "shift": c.shift_id,
                "added": list(c.added),
                "removed": list(c.removed),
                "called": list(c.plan.called),
                "standby": list(c.plan.standby),
                "expected_attendance": c.plan.expected_attendance,
                "fill_probability": c.plan.fill_probability,
                "expected_cost": c.plan.expected_cost,
            }
            for c in change.changes
        ],
        "reasons": list(change.reasons),
        "wall_s": round(change.wall_s, 6),
    }


class LivePlan:
    """The plan of a day kept current event by event (see the module docstring)."""

    def __init__(self, problem: Problem, state: PlanState) -> None:
        self.problem = problem
        self.state = state
        inst = problem.instance
        index = problem._index
        assert index is not None
        self._index = index
        self.workers: list[Worker] = list(inst.workers)
        self.w_index = {wid: i for i, wid in enumerate(problem.worker_ids)}
        self.s_index = {sid: i for i, sid in enumerate(problem.shift_ids)}
        self.rank = np.array([w.rank for w in inst.workers], dtype=np.float64)
        self.fixed = set(problem.fixed)
        self.dw = inst.policy.distance_weight
        self.standby_size = inst.policy.standby_size
        # Worker side of the direct eligibility test (skills as bit masks, radians, window timestamps).
        self.w_mask = index.mask.copy()
        self.w_lat_r = index.lat_r.copy()
        self.w_lon_r = index.lon_r.copy()
        self.windows: list[list[tuple[float, float]]] = [
            [(a.timestamp(), b.timestamp()) for a, b in w.available] for w in inst.workers
        ]
        # Shift side: required skills as masks over the index's vocabulary.
        self.s_mask = np.zeros((problem.n_shifts, index.words), dtype=np.uint64)
        for s, sh in enumerate(inst.shifts):
            for k in sh.skills:
                j = index.vocab[k]
                self.s_mask[s, j // 64] |= np.uint64(1) << np.uint64(j % 64)
        self.s_lat_r = index.s_lat_r
        self.s_lon_r = index.s_lon_r
        self.s_cos = np.cos(index.s_lat_r)
        # Distances of calls made to workers outside a shift's candidate list.
        self.extra_km: dict[tuple[int, int], float] = {}
        # Caches: standby lists (and which shifts list each worker), exact figures, rank/distance terms.
        self.standby: dict[int, list[int]] = standby_lists(state, self.standby_size)
        self.standby_of: dict[int, set[int]] = {}
        for s, ws in self.standby.items():
            for w in ws:
                self.standby_of.setdefault(w, set()).add(s)
        self.plans: list[ShiftPlan] = []
        self.extra: list[float] = []
        for s in range(problem.n_shifts):
            plan, extra = self._price(s)
            self.plans.append(plan)
            self.extra.append(extra)
        self.reasons: dict[int, str] = {}
        self.events = 0
        # The exact local search's per-worker reachable shifts (built once; kept current for new
        # workers and exclusions).
        self.nb = _Neighbours(state)
        # Workers freed or added by events who ended up with no call, oldest first.
        self._idle: deque[int] = deque()
        self._idle_set: set[int] = set()
        # Whether a repair may withdraw pending (not accepted) calls, and the least saving for which it
        # does; set per event by apply().
        self.withdraw = True
        self.min_gain = WITHDRAW_MIN_GAIN

    # ------------------------------------------------------------------------------------------------
    # Reading the plan.

    @property
    def instance(self) -> Instance:
        """The day as it stands after every event so far (new workers, exclusions, accepts)."""
        return self.problem.instance

    def solution(self) -> Solution:
        """The current plan with exact figures, read from the per-shift caches."""
        if self.reasons:
            return Solution(
                "infeasible",
                0.0,
                {},
                Totals(called=0, expected_cost=0.0, mean_fill_probability=0.0),
                tuple(self.reasons[s] for s in sorted(self.reasons)),
            )
        plans = {sid: self.plans[s] for s, sid in enumerate(self.problem.shift_ids)}
        cost = math.fsum(p.expected_cost for p in self.plans)
        n = len(self.plans)
        return Solution(
            "feasible",
            0.0,
            plans,
            Totals(
                called=sum(len(p.called) for p in self.plans),
                expected_cost=cost,
                mean_fill_probability=math.fsum(p.fill_probability for p in self.plans) / n if n else 1.0,
                objective=cost + math.fsum(self.extra),
            ),
        )

    # ------------------------------------------------------------------------------------------------
    # Events.

    def apply(self, event: Event, *, withdraw: bool = True, withdraw_min_gain: float | None = None) -> PlanChange:
        """Apply one event and return what changed; raises :class:`EventError` for events that do not fit.

        With ``withdraw`` a repair may take back pending (not accepted) calls when that saves at least
        ``withdraw_min_gain`` (default WITHDRAW_MIN_GAIN), reported as ``removed``; without it calls are
        only added. A shift below its ``min_fill`` may always bring a pending call over when withdrawing.
        """
        t0 = time.perf_counter()
        self.withdraw = withdraw
        self.min_gain = WITHDRAW_MIN_GAIN if withdraw_min_gain is None else max(0.0, withdraw_min_gain)
        before: dict[int, set[int]] = {}
        if isinstance(event, Decline | Timeout | NoShow):
            w, s = self._called_pair(event.worker_id, event.shift_id, event_type(event))
            before[s] = set(self.state.called_set[s])
            self.state.remove(w, s)
            self._exclude(w, s)
            self._update_worker(w, exclude=event.shift_id)
            if (w, s) in self.fixed:
                self.fixed.discard((w, s))
                self.problem.fixed.remove((w, s))
            self._top_up(s, before)
            self._offer(w, before)
        elif isinstance(event, Accept):
            w, s = self._called_pair(event.worker_id, event.shift_id, "accept")
            if (w, s) not in self.fixed:
                self.fixed.add((w, s))
                self.problem.fixed.append((w, s))
                self._update_worker(w, fix=event.shift_id)
        elif isinstance(event, Available):
            w = self._join(event.worker)
            self._offer(w, before)
        else:  # pragma: no cover - the type union is closed
            raise EventError(f"unknown event {event!r}")
        self.events += 1
        self._reoffer(before)
        if self.withdraw:
            self._repair(before)
        # Workers this event left without any call wait for a better moment (a later event's re-offer).
        for old in list(before.values()):
            for v in old:
                if not self.state.worker_shifts[v] and v not in self._idle_set:
                    self._idle.append(v)
                    self._idle_set.add(v)
        if isinstance(event, Available) and not self.state.worker_shifts[w] and w not in self._idle_set:
            self._idle.append(w)
            self._idle_set.add(w)
        return self._finish(event, before, t0)

    def _reoffer(self, before: dict[int, set[int]]) -> None:
        """Offer again a few workers earlier events left idle, oldest first: a place that did not exist
        when they were freed may have opened since (a fresh solve would use them too)."""
        for _ in range(min(REOFFERS_PER_EVENT, len(self._idle))):
            v = self._idle.popleft()
            self._idle_set.discard(v)
            if not self.state.worker_shifts[v]:
                self._offer(v, before)

    def _exclude(self, w: int, s: int) -> None:
        self.problem.excluded.add((w, s))
        found = self.nb._by_worker.get(w)
        if found is not None:
            keep = found[0] != s
            self.nb._by_worker[w] = (found[0][keep], found[1][keep])

    def _called_pair(self, worker_id: str, shift_id: str, kind: str) -> tuple[int, int]:
        w = self.w_index.get(worker_id)
        s = self.s_index.get(shift_id)
        if s is None:
            raise EventError(f"{kind}: unknown shift id {shift_id!r}")
        if w is None:
            raise EventError(f"{kind}: unknown worker id {worker_id!r}")
        if w not in self.state.called_set[s]:
            raise EventError(f"{kind}: {worker_id} is not on the call list of {shift_id}")
        return w, s

    def _update_worker(self, w: int, *, exclude: str | None = None, fix: str | None = None) -> None:
        rec = self.workers[w]
        if exclude is not None:
            rec = replace(
                rec,
                excluded=tuple(dict.fromkeys((*rec.excluded, exclude))),
                fixed=tuple(s for s in rec.fixed if s != exclude),
            )
        if fix is not None:
            rec = replace(rec, fixed=tuple(dict.fromkeys((*rec.fixed, fix))))
        self.workers[w] = rec

    def _finish(self, event: Event, before: dict[int, set[int]], t0: float) -> PlanChange:
        pr, state = self.problem, self.state
        changed = [s for s, old in before.items() if old != state.called_set[s]]
        # Standby: the changed shifts, and every shift whose standby list holds someone just called.
        newly_called = {w for s in changed for w in state.called_set[s] - before[s]}
        patch: set[int] = set()
        for w in newly_called:
            # Only where the call leaves the worker unable to take that shift too.
            patch |= {t for t in self.standby_of.get(w, ()) if not state.can_take(w, t)}
        refresh = patch.difference(changed)
        patch.update(changed)
        if patch:
            self._set_standby({t: self._patched_standby(t) for t in patch})
        for s in changed:
            self.plans[s], self.extra[s] = self._price(s)
        for s in refresh:
            # Same calls, so the same figures: only the standby list is new.
            standby = tuple(pr.worker_ids[w] for w in self.standby[s])
            self.plans[s] = replace(self.plans[s], standby=standby)
        for s in changed:
            self._check_min_fill(s)
        ids = pr.worker_ids
        changes = tuple(
            ShiftChange(
                shift_id=pr.shift_ids[s],
                added=tuple(ids[w] for w in sorted(state.called_set[s] - before[s], key=lambda v: pr.priority[v])),
                removed=tuple(ids[w] for w in sorted(before[s] - state.called_set[s], key=lambda v: pr.priority[v])),
                plan=self.plans[s],
            )
            for s in changed
        )
        # The instance the plan now answers to: exclusions, accepts and new workers included.
        inst = pr.instance
        pr.instance = Instance(tuple(self.workers), inst.shifts, inst.policy)
        return PlanChange(
            event=event,
            changes=changes,
            reasons=tuple(self.reasons[s] for s in sorted(self.reasons)),
            wall_s=time.perf_counter() - t0,
        )

    def _set_standby(self, lists: dict[int, list[int]]) -> None:
        for s, ws in lists.items():
            for w in self.standby.get(s, ()):
                self.standby_of.get(w, set()).discard(s)
            for w in ws:
                self.standby_of.setdefault(w, set()).add(s)
            self.standby[s] = ws

    def _patched_standby(self, s: int) -> list[int]:
        """The standby list of ``s`` without the workers who can no longer take it, topped up with the
        next usable candidates after its last entry (cheaper than rebuilding it from the top)."""
        state, pr = self.state, self.problem
        old = self.standby.get(s, [])
        keep = [w for w in old if w not in state.called_set[s] and (w, s) not in pr.excluded and state.can_take(w, s)]
        cand = pr.candidates[s]
        pos = int(np.searchsorted(pr.priority[cand], pr.priority[old[-1]], side="right")) if old else 0
        while len(keep) < self.standby_size and pos < len(cand):
            chunk = cand[pos : pos + 64]
            pos += len(chunk)
            for w in chunk[state.may_take(chunk, s)].tolist():
                if w in state.called_set[s] or (w, s) in pr.excluded or not state.can_take(w, s):
                    continue
                keep.append(w)
                if len(keep) >= self.standby_size:
                    break
        return keep

    # ------------------------------------------------------------------------------------------------
    # Filling shifts and placing workers.

    def _touch(self, s: int, before: dict[int, set[int]]) -> None:
        if s not in before:
            before[s] = set(self.state.called_set[s])

    def _usable(self, s: int, want: int) -> list[tuple[int, float]]:
        """Up to ``want`` (worker, rank and distance cost) that may be called for ``s`` now, in priority
        order; the candidate list grows when the loaded part runs dry."""
        pr, state = self.problem, self.state
        found: list[tuple[int, float]] = []
        start = 0
        while True:
            cand, km = pr.candidates[s], pr.candidate_km[s]
            part = cand[start:]
            if len(part):
                ok = np.flatnonzero(state.may_take(part, s))
                if len(ok):
                    ws = part[ok].tolist()
                    kms = km[start:][ok].tolist()
                    called, excluded = state.called_set[s], pr.excluded
                    for w, d in zip(ws, kms, strict=True):
                        if w in called or (w, s) in excluded or not state.can_take(w, s):
                            continue
                        found.append((w, state.rank_pen[w] + self.dw * d))
                        if len(found) >= want:
                            return found
            start = len(cand)
            # Extend without a usability filter: in a live plan a busy worker can be freed later.
            if not (pr.truncated[s] and pr.extend_candidates(s)):
                return found

    def _top_up(self, s: int, before: dict[int, set[int]]) -> None:
        """Reach ``min_fill`` with the likeliest usable workers, then add the best marginal calls."""
        state = self.state
        self._touch(s, before)
        need = state.min_fill[s]
        if need > 0.0:
            while state.expected_attendance(s) < need and len(state.called[s]) < state.cap[s]:
                picks = self._usable(s, 1)
                if picks:
                    state.add(picks[0][0], s)
                elif not (self.withdraw and self._pull(s, before)):
                    break
        p = state.p
        while len(state.called[s]) < state.cap[s]:
            g = state.gain_slope(s)
            if g >= 0.0:
                return
            picks = self._usable(s, LOOKAHEAD)
            if not picks:
                return
            delta, w = min((p[w] * g + pen, w) for w, pen in picks)
            if delta >= -_EPS:
                return
            state.add(w, s)

    def _pull(self, s: int, before: dict[int, set[int]]) -> bool:
        """Bring the likeliest candidate of ``s`` who holds a pending call elsewhere over to ``s``, if the
        shift it leaves keeps its own ``min_fill``; that shift is then topped up. False if nobody can come."""
        state, pr = self.state, self.problem
        for w in pr.candidates[s].tolist():
            if w in state.called_set[s] or (w, s) in pr.excluded:
                continue
            for t in list(state.worker_shifts[w]):
                if (w, t) in self.fixed or state.expected_attendance(t) - state.p[w] < state.min_fill[t]:
                    continue
                if not _can_move(state, w, t, s):
                    continue
                self._touch(t, before)
                state.remove(w, t)
                state.add(w, s)
                self._top_up(t, before)
                return True
        return False

    def _offer(self, w: int, before: dict[int, set[int]], depth: int = SWAP_DEPTH) -> None:
        """Place worker ``w`` where it saves the most, as often as its rules allow: as one more call, or
        in place of a weaker pending call that it then offers on in turn (a swap chain ``depth`` long)."""
        state, pr = self.state, self.problem
        ts, kms = self._eligible(w)
        if not len(ts):
            return
        if pr.excluded:
            keep = np.array([(w, t) not in pr.excluded for t in ts.tolist()], dtype=bool)
            ts, kms = ts[keep], kms[keep]
        pen = state.rank_pen[w] + self.dw * kms
        p_w = state.p[w]
        for _ in range(int(state.max_day[w])):
            cu = state.cu_np[ts]
            slope = (cu + state.ci) * state.fill_np[ts] - cu - state.pen_np[ts] * state.edge_np[ts]
            delta = p_w * slope + pen
            # (estimated value, target position, worker to swap out or -1 for a plain add)
            options: list[tuple[float, int, int]] = [
                (float(delta[j]), j, -1) for j in np.flatnonzero((delta < -_EPS) & (state.room_np[ts] > 0)).tolist()
            ]
            if self.withdraw:
                options.extend(self._swap_options(w, ts, slope, pen))
            options.sort()
            placed = False
            for _, j, v in options[:OFFER_TRIES]:
                t = int(ts[j])
                if w in state.called_set[t] or not state.can_take(w, t):
                    continue
                if v < 0:
                    if state.room_np[t] <= 0:
                        continue
                    self._touch(t, before)
                    state.add(w, t)
                elif self._swap(w, v, t, float(pen[j]), before):
                    if depth > 0:
                        self._offer(v, before, depth - 1)
                else:
                    continue
                self.extra_km[(w, t)] = float(kms[j])
                placed = True
                break
            if not placed:
                return

    def _swap_options(self, w: int, ts: np.ndarray, slope: np.ndarray, pen: np.ndarray) -> list[tuple[float, int, int]]:
        """The pending calls whose replacement by ``w`` looks best, at most one per shift and OFFER_TRIES
        in all, each valued with its shift's slope without it to first order (:meth:`_swap` then prices
        the exchange exactly)."""
        state, pr = self.state, self.problem
        lists = [state.called[t] for t in ts.tolist()]
        lens = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        if not lens.sum():
            return []
        flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(lens.sum()))
        at = np.repeat(np.arange(len(ts)), lens)
        cu, pe = state.cu_np[ts], state.pen_np[ts]
        e = state.edge_np[ts]
        # The slope without v: P(X >= h) loses p_v x P(X = h - 1); P(X = h - 1) itself is kept.
        a = (cu + state.ci) * state.fill_np[ts] - cu - pe * e
        b = (cu + state.ci) * e
        pv = pr.p[flat]
        est = (state.p[w] - pv) * (a[at] - b[at] * pv) + pen[at] - pr.rank_penalty[flat]
        good = np.flatnonzero(est < -_EPS)
        out: list[tuple[float, int, int]] = []
        seen: set[int] = set()
        for i in good[np.argsort(est[good], kind="stable")].tolist():
            j = int(at[i])
            v = int(flat[i])
            t = int(ts[j])
            if j in seen or (v, t) in self.fixed:
                continue
            seen.add(j)
            out.append((float(est[i]), j, v))
            if len(out) >= OFFER_TRIES:
                break
        return out

    def _swap(self, w: int, v: int, t: int, pen_w: float, before: dict[int, set[int]]) -> bool:
        """Replace pending call ``v`` of shift ``t`` by ``w`` if that lowers the exact cost.

        Exact by the marginal identity: with F and E the fill and P(X = h - 1) of the call set without
        ``v``, the exchange changes the cost by (p_w - p_v) x ((cu + ci) F - cu - penalty E) + pen_w - pen_v.
        """
        state = self.state
        need = state.min_fill[t]
        if need > 0.0 and state.expected_attendance(t) - state.p[v] + state.p[w] < need:
            return False
        fill, edge = _without(state, t, v)
        cu = state.cu_s[t]
        g = (cu + state.ci) * fill - cu - state.pen_s[t] * edge
        bar = -max(_EPS, self.min_gain)
        delta = (state.p[w] - state.p[v]) * g + pen_w - state.rank_pen[v]
        if delta - self.dw * self._index.max_km >= bar:
            return False  # not even v's longest possible trip would make the exchange pay
        km_v = self.extra_km.get((v, t))
        if km_v is None:
            km_v = float(distances(self.problem, t, np.array([v], dtype=np.int64))[0])
        delta -= self.dw * km_v
        if delta >= bar:
            return False
        self._touch(t, before)
        state.remove(v, t)
        state.add(w, t)
        return True

    def _repair(self, before: dict[int, set[int]]) -> None:
        """The exact local search's moves (add, drop, replace, relocate), only around the shifts this event
        touched and the shifts those moves reach, at most REPAIR_VISITS visits."""
        state = self.state
        queue = list(before)
        # A shift the event left short may best be helped by a worker now busy elsewhere: visiting the
        # shifts its likeliest busy candidates work lets the relocation move bring one over.
        for s in list(queue):
            queue.extend(t for t in self._holders(s) if t not in queue)
        visits = 0
        while queue and visits < REPAIR_VISITS:
            s = queue.pop(0)
            if len(state.called[s]) > REPAIR_MAX_CALLED:
                continue  # the exact move values cost O(n^2) per visit: too slow for the big crews
            visits += 1
            for t in self._visit(s, before):
                if t not in queue:
                    queue.append(t)

    def _visit(self, s: int, before: dict[int, set[int]]) -> list[int]:
        """One local-search visit of ``s``; a move that withdraws a pending call is undone unless it
        saves at least ``self.min_gain`` (a withdrawn offer costs the worker's goodwill, which the
        expected cost does not price). Returns the shifts changed."""
        state = self.state
        snap = set(state.called_set[s])
        moved = _visit(state, s, self.nb, self.fixed, state.ci)
        if not moved:
            return []
        left = snap - state.called_set[s]
        other = next((t for t in moved if t != s), None)
        # A relocation: ``other`` gained exactly the worker ``s`` lost.
        other_before = state.called_set[other] - left if other is not None else set()
        if left and self.min_gain > 0.0:
            gain = self._set_objective(s, snap) - self._set_objective(s, state.called_set[s])
            if other is not None:
                gain += self._set_objective(other, other_before) - self._set_objective(other, state.called_set[other])
            if gain < self.min_gain:
                if other is not None:
                    for w in state.called_set[other] - other_before:
                        state.remove(w, other)
                for w in state.called_set[s] - snap:
                    state.remove(w, s)
                for w in left:
                    state.add(w, s)
                return []
        before.setdefault(s, snap)
        if other is not None:
            before.setdefault(other, other_before)
        return moved

    def _set_objective(self, s: int, ws: set[int]) -> float:
        """Exact expected cost plus rank and distance terms of calling ``ws`` for shift ``s``."""
        pr, state = self.problem, self.state
        arr = np.fromiter(ws, dtype=np.int64, count=len(ws))
        out = probability.shift_outcome(pr.p[arr], int(pr.headcount[s]), state.cu_s[s], state.ci, state.pen_s[s])
        if not len(arr):
            return out.expected_cost
        km = distances(pr, s, arr)
        for i, v in enumerate(arr.tolist()):
            found = self.extra_km.get((v, s))
            if found is not None:
                km[i] = found
        return out.expected_cost + float(pr.rank_penalty[arr].sum()) + self.dw * float(km.sum())

    def _holders(self, s: int) -> list[int]:
        """Shifts holding pending calls of the likeliest candidates of ``s`` who are busy elsewhere, when
        ``s`` still wants people."""
        state, pr = self.state, self.problem
        if len(state.called[s]) >= state.cap[s] or state.gain_slope(s) >= 0.0:
            return []
        out: list[int] = []
        seen = 0
        for w in pr.candidates[s][: 4 * HOLDER_CANDIDATES].tolist():
            if w in state.called_set[s] or (w, s) in pr.excluded or not state.worker_shifts[w]:
                continue
            out.extend(t for t in state.worker_shifts[w] if (w, t) not in self.fixed and t not in out)
            seen += 1
            if seen >= HOLDER_CANDIDATES:
                break
        return out

    def _eligible(self, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Shifts worker ``w`` passes the pair rules for (skills, a covering window, distance), with km;
        checked directly against every shift, the same tests as the spatial index."""
        pr = self.problem
        wm = self.w_mask[w]
        ok = np.all((self.s_mask & wm) == self.s_mask, axis=1)
        covered = np.zeros(pr.n_shifts, dtype=bool)
        for a, b in self.windows[w]:
            covered |= (pr.start >= a) & (pr.end <= b)
        ok &= covered
        ts = np.flatnonzero(ok)
        dlat = self.s_lat_r[ts] - self.w_lat_r[w]
        dlon = self.s_lon_r[ts] - self.w_lon_r[w]
        h = np.sin(dlat / 2) ** 2 + math.cos(self.w_lat_r[w]) * self.s_cos[ts] * np.sin(dlon / 2) ** 2
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
        near = km <= self._index.max_km - _DISTANCE_SLACK_KM
        return ts[near], km[near]

    # ------------------------------------------------------------------------------------------------
    # New availability.

    def _join(self, worker: Worker) -> int:
        """Add a new worker (or a known worker's new windows) and insert it into the candidate lists."""
        known = self.w_index.get(worker.id)
        if known is not None:
            old = self.workers[known]
            differs = [
                name
                for name in ("rank", "shows", "no_shows", "skills", "location", "max_shifts_per_day")
                if getattr(old, name) != getattr(worker, name)
            ]
            if differs:
                raise EventError(
                    f"available: {worker.id} is already in the day with other {', '.join(differs)}; "
                    "only availability windows can be added"
                )
            windows = tuple(dict.fromkeys((*old.available, *worker.available)))
            self.workers[known] = replace(old, available=windows)
            self.windows[known] = [(a.timestamp(), b.timestamp()) for a, b in windows]
            self._insert_candidate(known)
            self._set_neighbours(known)
            return known
        if worker.fixed:
            raise EventError(f"available: {worker.id} cannot arrive with accepted (fixed) shifts")
        w = self._grow(worker)
        for sid in worker.excluded:
            s = self.s_index.get(sid)
            if s is not None:
                self.problem.excluded.add((w, s))
        self._insert_candidate(w)
        self._set_neighbours(w)
        return w

    def _set_neighbours(self, w: int) -> None:
        """The local search's per-worker list of reachable shifts, for a worker the solve did not know."""
        ts, kms = self._eligible(w)
        if self.problem.excluded:
            keep = np.array([(w, t) not in self.problem.excluded for t in ts.tolist()], dtype=bool)
            ts, kms = ts[keep], kms[keep]
        self.nb._by_worker[w] = (ts, self.state.rank_pen[w] + self.dw * kms)

    def _grow(self, worker: Worker) -> int:
        """Append ``worker`` to every per-worker array of the problem, the plan state and this plan."""
        pr, state = self.problem, self.state
        pol = pr.instance.policy
        w = pr.n_workers
        p = float(probability.show_probability(worker.shows, worker.no_shows, pol.prior))
        # Its place in the priority order (likeliest first, then rank, then input order: it comes last).
        k = int(np.count_nonzero(pr.p > p) + np.count_nonzero((pr.p == p) & (self.rank >= worker.rank)))
        pr.priority[pr.priority >= k] += 1
        pr.priority = np.append(pr.priority, k)
        pr.p = np.append(pr.p, p)
        rank_pen = pol.rank_weight * (100.0 - worker.rank) / 100.0
        pr.rank_penalty = np.append(pr.rank_penalty, rank_pen)
        pr.max_day = np.append(pr.max_day, worker.max_shifts_per_day)
        pr.worker_ids.append(worker.id)
        state.p.append(p)
        state.rank_pen.append(rank_pen)
        state.max_day.append(worker.max_shifts_per_day)
        state.worker_shifts.append([])
        state.day_count = np.vstack([state.day_count, np.zeros((1, pr.n_days), dtype=state.day_count.dtype)])
        state.n_assigned = np.append(state.n_assigned, 0)
        state.hull_lo = np.append(state.hull_lo, np.inf)
        state.hull_hi = np.append(state.hull_hi, -np.inf)
        self.rank = np.append(self.rank, worker.rank)
        mask = np.zeros((1, self.w_mask.shape[1]), dtype=np.uint64)
        for name in worker.skills:
            j = self._index.vocab.get(name)
            if j is not None:  # a skill no shift asks for never matters
                mask[0, j // 64] |= np.uint64(1) << np.uint64(j % 64)
        self.w_mask = np.vstack([self.w_mask, mask])
        self.w_lat_r = np.append(self.w_lat_r, math.radians(worker.location[0]))
        self.w_lon_r = np.append(self.w_lon_r, math.radians(worker.location[1]))
        self.windows.append([(a.timestamp(), b.timestamp()) for a, b in worker.available])
        self.workers.append(worker)
        self.w_index[worker.id] = w
        return w

    def _insert_candidate(self, w: int) -> None:
        """Put ``w`` into the candidate list of every shift it can reach, keeping priority order; a
        truncated list whose loaded part ends before ``w``'s place is left alone (its scan will never
        reach ``w``, and ``w`` ranks below everyone it holds)."""
        pr = self.problem
        ts, kms = self._eligible(w)
        prio = int(pr.priority[w])
        for t, d in zip(ts.tolist(), kms.tolist(), strict=True):
            cand = pr.candidates[t]
            pos = int(np.searchsorted(pr.priority[cand], prio))
            if pos < len(cand) and int(cand[pos]) == w:
                continue
            if pos == len(cand) and pr.truncated[t]:
                self.extra_km[(w, t)] = d
                continue
            km = pr.candidate_km[t]
            pr.candidates[t] = np.concatenate((cand[:pos], np.array([w], dtype=cand.dtype), cand[pos:]))
            pr.candidate_km[t] = np.concatenate((km[:pos], np.array([d], dtype=km.dtype), km[pos:]))

    # ------------------------------------------------------------------------------------------------
    # Figures.

    def _price(self, s: int) -> tuple[ShiftPlan, float]:
        """Exact figures of shift ``s`` and its rank and distance terms."""
        pr, state = self.problem, self.state
        inst = pr.instance
        prio = pr.priority
        called = sorted(state.called[s], key=lambda v: prio[v])
        ws = np.asarray(called, dtype=np.int64)
        cu, pen = state.cu_s[s], state.pen_s[s]
        out = probability.shift_outcome(pr.p[ws], int(pr.headcount[s]), cu, state.ci, pen)
        extra = 0.0
        if called:
            km = distances(pr, s, ws)
            for i, v in enumerate(called):
                found = self.extra_km.get((v, s))
                if found is not None:
                    km[i] = found
            extra = float(pr.rank_penalty[ws].sum()) + inst.policy.distance_weight * float(km.sum())
        plan = ShiftPlan(
            called=tuple(pr.worker_ids[v] for v in called),
            standby=tuple(pr.worker_ids[v] for v in self.standby.get(s, ())),
            expected_attendance=out.expected_attendance,
            fill_probability=out.fill_probability,
            expected_cost=out.expected_cost,
        )
        return plan, extra

    def _check_min_fill(self, s: int) -> None:
        need = self.state.min_fill[s]
        got = self.state.expected_attendance(s)
        if need > 0.0 and got < need:
            self.reasons[s] = (
                f"{self.problem.shift_ids[s]} cannot reach its min_fill {need:g} after the event: "
                f"only {got:.4g} from workers not committed elsewhere"
            )
        else:
            self.reasons.pop(s, None)
