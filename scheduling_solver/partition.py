"""Solve a big day as independent parts in parallel processes, and merge the parts into one plan.

1. **Components.** Workers and shifts are joined when the worker might work the shift: same grid cell
   neighbourhood (cells as wide as ``max_travel_km``, the spatial index's geometry) and the shift's
   rarest skill, plus every fixed (accepted) pair. This over-approximates eligibility, so a component
   never has a worker who could work a shift of another one: components are exactly independent, and
   the sum of their optimal plans is an optimal plan of the day.
2. **Districts.** One city is usually a single component (its travel radius spans it). A component
   bigger than the part size is cut by recursive bisection along its wider axis: shifts at the
   demand-weighted quantile, workers per skill group at the quantile of expected attendance (sum of
   show probabilities) that gives both sides that group's supply-to-demand ratio, after shifts with
   scarce supply have claimed their likeliest workers (:func:`_claim`). Every worker belongs to
   exactly one part (a cross-border worker is only offered to one side), so the merged plan cannot
   double-book anyone, and every hard rule (pair rules, per-shift caps, per-worker rest and daily
   limits) holds in the merge because it holds in each part. What a cut can cost is optimality, never
   validity; if a cut part turns out ``infeasible`` (its ``min_fill`` needed a worker given to the other
   side), the whole component is solved again in one piece. After a cut into small parts, an exact
   local search over the whole day lets workers move across the borders (:func:`repair`).
3. **Parallel.** Parts run in a process pool, largest first. On Linux the pool forks, and children read
   their part from the parent's memory: no instance is serialised at all. With ``spawn`` each part
   goes to its child as flat arrays (:class:`PackedInstance`; :func:`serialisation_cost` measures it).
4. **Merge.** Shift plans are copied, totals summed; ``optimal`` only when every part is ``optimal``
   and no component was cut.

Each part gets the day's ``time_limit_s`` times its share of the shifts, so the work done depends only
on the instance and the number of parts, never on ``processes``: ``processes=1`` reproduces the parallel
plan exactly (as long as the wall-clock safety nets do not cut in).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

import numpy as np

from scheduling_solver import probability
from scheduling_solver.geo import EARTH_RADIUS_KM
from scheduling_solver.problem import Problem, build_problem
from scheduling_solver.schemas import Instance, Phase, Policy, Shift, ShiftPlan, Solution, Totals, Worker

_KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180.0
# ``partitions="auto"`` keeps a day below this many workers in one piece (a pool costs more than it saves).
AUTO_MIN_WORKERS = 20_000
# ``partitions="auto"`` aims at parts of about this many workers.
AUTO_PART_WORKERS = 25_000
# A component is cut only when it is this much bigger than the part size; smaller ones are packed whole.
_CUT_FACTOR = 1.5
# Least time limit of a part: a tiny part still deserves its exact CP-SAT model.
MIN_PART_TIME_S = 1.0

Partitions = Literal["auto", "off"] | int


@dataclass(frozen=True)
class Part:
    """Indices (into the day's workers and shifts, ascending) of one independently solved part.

    ``exact`` is true when the part is a union of whole components; false when it is a district cut
    out of a bigger component, ``component`` naming that component (for the fallback).
    """

    workers: np.ndarray
    shifts: np.ndarray
    exact: bool
    component: int


@dataclass(frozen=True)
class PartRun:
    """What one part did: its size, its status and the time it took in its own process."""

    n_workers: int
    n_shifts: int
    exact: bool
    status: str
    wall_s: float
    cpu_s: float
    objective: float
    pid: int


@dataclass
class PartitionReport:
    """How a partitioned solve went, for the benchmark and for logs."""

    parts: list[PartRun] = field(default_factory=list)
    components: int = 0
    largest_component_workers: int = 0
    cut_components: int = 0
    processes: int = 1
    start_method: str = "none"
    plan_s: float = 0.0
    pool_s: float = 0.0
    merge_s: float = 0.0
    wall_s: float = 0.0
    fallbacks: int = 0
    repair_s: float = 0.0
    repair_moves: int = 0
    repair_gain: float = 0.0
    # CPU seconds of this process outside the pool (planning, fallbacks, merge, repair).
    parent_cpu_s: float = 0.0

    @property
    def critical_cpu_s(self) -> float:
        """This process's CPU plus the busiest pool process's CPU: the wall time the solve would take on
        an otherwise idle machine (a shared machine's wall time is noise)."""
        by_pid: dict[int, float] = {}
        for p in self.parts:
            by_pid[p.pid] = by_pid.get(p.pid, 0.0) + p.cpu_s
        own = by_pid.pop(os.getpid(), 0.0)
        return self.parent_cpu_s + own + max(by_pid.values(), default=0.0)

    @property
    def parts_objective(self) -> float:
        """Sum of the parts' own objectives, before the cross-border repair."""
        return sum(p.objective for p in self.parts)


# ----------------------------------------------------------------------------------------------------------
# Planning the parts


def _cells(instance: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grid cells of workers and shifts, with the spatial index's geometry (cells as wide as the travel
    limit, east-west projected with the smallest cos(latitude), so a worker within reach of a shift is
    always in one of the 3 x 3 cells around it)."""
    w_loc = np.array([w.location for w in instance.workers], dtype=np.float64).reshape(-1, 2)
    s_loc = np.array([s.location for s in instance.shifts], dtype=np.float64).reshape(-1, 2)
    lat = np.concatenate([w_loc[:, 0], s_loc[:, 0]])
    cos_min = max(0.01, float(np.cos(np.radians(np.max(np.abs(lat)))))) if len(lat) else 1.0
    cell_km = max(instance.policy.max_travel_km * 1.01, 1e-3)
    cy, cx = _KM_PER_DEGREE / cell_km, _KM_PER_DEGREE * cos_min / cell_km
    return (
        np.floor(w_loc[:, 0] * cy).astype(np.int64),
        np.floor(w_loc[:, 1] * cx).astype(np.int64),
        np.floor(s_loc[:, 0] * cy).astype(np.int64),
        np.floor(s_loc[:, 1] * cx).astype(np.int64),
    )


def components(instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    """Component label per worker and per shift (labels shared between the two arrays).

    Nodes are workers, shifts and (skill, cell) buckets. A worker joins the buckets of its skills in its
    cell; a shift joins the buckets of its rarest skill in the 3 x 3 cells around it (all skills if it
    asks for none); a fixed pair joins its worker and shift directly. Any worker who passes a shift's
    skill and travel rules is therefore in the shift's component.
    """
    workers, shifts = instance.workers, instance.shifts
    nw, ns = len(workers), len(shifts)
    vocab: dict[str, int] = {"": 0}  # 0: "any skill", used only when a shift asks for none
    w_rows: list[int] = []
    w_skill: list[int] = []
    for i, w in enumerate(workers):
        for k in dict.fromkeys(w.skills):
            w_rows.append(i)
            w_skill.append(vocab.setdefault(k, len(vocab)))
    counts = np.bincount(np.array(w_skill, dtype=np.int64), minlength=len(vocab)) if w_skill else np.zeros(1)
    any_skill = any(not s.skills for s in shifts)
    if any_skill:
        w_rows.extend(range(nw))
        w_skill.extend([0] * nw)
    wy, wx, sy, sx = _cells(instance)
    s_key = []
    for s in shifts:
        ids = [vocab[k] for k in s.skills if k in vocab]
        if len(ids) < len(s.skills):
            s_key.append(-1)  # asks for a skill nobody has: no worker can reach it
        elif not ids:
            s_key.append(0)
        else:
            s_key.append(min(ids, key=lambda j: (int(counts[j]) if j < len(counts) else 0, j)))
    s_key_arr = np.array(s_key, dtype=np.int64)

    wr = np.array(w_rows, dtype=np.int64)
    wk = np.array(w_skill, dtype=np.int64)
    # Bucket of each worker row, and of each (shift, neighbouring cell).
    w_bucket = np.stack([wk, wy[wr], wx[wr]], axis=1) if len(wr) else np.zeros((0, 3), dtype=np.int64)
    reach = s_key_arr >= 0
    s_idx = np.flatnonzero(reach)
    offsets = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], dtype=np.int64)
    s_rep = np.repeat(s_idx, 9)
    s_bucket = np.stack(
        [
            s_key_arr[s_rep],
            sy[s_rep] + np.tile(offsets[:, 0], len(s_idx)),
            sx[s_rep] + np.tile(offsets[:, 1], len(s_idx)),
        ],
        axis=1,
    )
    # Only buckets that hold a worker matter; a shift's empty neighbour cells add no edge.
    keys, inverse = np.unique(np.concatenate([w_bucket, s_bucket]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    nb = len(keys)
    held = np.zeros(nb, dtype=bool)
    held[inverse[: len(wr)]] = True
    sb = inverse[len(wr) :]
    keep = held[sb]
    # Node numbering: workers [0, nw), shifts [nw, nw + ns), buckets after.
    fixed_w: list[int] = []
    fixed_s: list[int] = []
    s_index = {s.id: j for j, s in enumerate(shifts)}
    for i, w in enumerate(workers):
        for sid in w.fixed:
            if sid in s_index:
                fixed_w.append(i)
                fixed_s.append(nw + s_index[sid])
    rows = np.concatenate([wr, nw + s_rep[keep], np.array(fixed_w, dtype=np.int64)])
    cols = np.concatenate([nw + ns + inverse[: len(wr)], nw + ns + sb[keep], np.array(fixed_s, dtype=np.int64)])
    n = nw + ns + nb
    # scipy loads with the first partitioned day, not with the package (ADR 0034 addendum).
    from scipy import sparse
    from scipy.sparse import csgraph

    graph = sparse.coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n)).tocsr()
    _, labels = csgraph.connected_components(graph, directed=False)
    return labels[:nw], labels[nw : nw + ns]


def _projected_km(locations: np.ndarray, lat0: float) -> np.ndarray:
    """(north, east) km on a local plane; only used to order points along an axis."""
    out = np.empty_like(locations)
    out[:, 0] = locations[:, 0] * _KM_PER_DEGREE
    out[:, 1] = locations[:, 1] * _KM_PER_DEGREE * math.cos(math.radians(lat0))
    return out


def _weighted_cut(order_key: np.ndarray, weight: np.ndarray, share: float) -> np.ndarray:
    """Boolean mask of the first side: the points along ``order_key`` whose weight adds up to ``share``."""
    order = np.argsort(order_key, kind="stable")
    total = float(weight.sum())
    side = np.zeros(len(order_key), dtype=bool)
    if total <= 0.0:
        side[order[: round(share * len(order))]] = True
        return side
    cum = np.cumsum(weight[order])
    side[order[: int(np.searchsorted(cum, share * total, side="left")) + 1]] = True
    if share < 1.0 and side.all():
        side[order[-1]] = False
    return side


def _bisect(
    w_xy: np.ndarray,
    w_p: np.ndarray,
    w_group: np.ndarray,
    s_xy: np.ndarray,
    s_h: np.ndarray,
    s_group: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Group labels 0..k-1 for workers and shifts, by recursive weighted bisection.

    Shifts are cut at the demand-weighted quantile along the wider axis. Workers are cut per skill
    group (a worker's rarest skill, a shift's rarest required skill), each group at the share of its
    own demand that fell on the first side, so a big event that needs waiters takes its side's share
    of the waiters with it.
    """
    w_lab = np.zeros(len(w_xy), dtype=np.int64)
    s_lab = np.zeros(len(s_xy), dtype=np.int64)
    stack = [(np.arange(len(w_xy)), np.arange(len(s_xy)), k, 0)]
    while stack:
        wi, si, kk, base = stack.pop()
        if kk <= 1 or len(si) < 2:
            w_lab[wi], s_lab[si] = base, base
            continue
        k1 = kk // 2
        share = k1 / kk
        pts = s_xy[si]
        axis = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
        s_side = _weighted_cut(pts[:, axis], s_h[si], share)
        dem = float(s_h[si].sum())
        overall = float(s_h[si][s_side].sum()) / dem if dem > 0 else share
        w_side = np.zeros(len(wi), dtype=bool)
        groups = w_group[wi]
        for g in np.unique(groups).tolist():
            mine = np.flatnonzero(groups == g)
            in_g = s_group[si] == g
            dem_g = float(s_h[si][in_g].sum())
            # Both sides keep this group's supply-to-demand ratio (the day's ratio if it has no demand).
            share_g = float(s_h[si][in_g & s_side].sum()) / dem_g if dem_g > 0 else overall
            w_side[mine] = _weighted_cut(w_xy[wi[mine], axis], w_p[wi[mine]], share_g)
        stack.append((wi[w_side], si[s_side], k1, base))
        stack.append((wi[~w_side], si[~s_side], kk - k1, base + k1))
    return w_lab, s_lab


def _members(comp: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    """Ascending indices per label, in one sort (a day of many small towns has thousands of labels)."""
    order = np.argsort(comp, kind="stable")
    lo = np.searchsorted(comp[order], labels, side="left")
    hi = np.searchsorted(comp[order], labels, side="right")
    return {int(c): order[a:b] for c, a, b in zip(labels.tolist(), lo.tolist(), hi.tolist(), strict=True)}


@dataclass
class PartPlan:
    """The parts (largest first), the component count, the largest component's workers, how many
    components were cut, and the day's solver view when a cut needed it (reused by the repair)."""

    parts: list[Part]
    components: int
    largest_component_workers: int
    cut_components: int
    problem: Problem | None


def plan_parts(instance: Instance, n_parts: int) -> PartPlan:
    """Split ``instance`` into about ``n_parts`` independent parts (see the module docstring)."""
    workers, shifts = instance.workers, instance.shifts
    w_comp, s_comp = components(instance)
    labels = np.unique(s_comp)
    n_comp = len(labels)
    w_count = np.bincount(w_comp, minlength=int(max(w_comp.max(initial=0), s_comp.max(initial=0))) + 1)
    # Workers of components without shifts can never be called: they join no part.
    has_shift = np.zeros(len(w_count), dtype=bool)
    has_shift[s_comp] = True
    target = max(1.0, float(w_count[has_shift].sum()) / max(1, n_parts))
    largest = int(w_count[labels].max(initial=0))

    w_of = _members(w_comp, labels)
    s_of = _members(s_comp, labels)
    p = probability.show_probability(
        np.array([w.shows for w in workers], dtype=np.float64),
        np.array([w.no_shows for w in workers], dtype=np.float64),
        instance.policy.prior,
    )
    head = np.array([s.headcount for s in shifts], dtype=np.float64)
    s_index = {s.id: j for j, s in enumerate(shifts)}

    parts: list[Part] = []
    whole: list[int] = []
    problem: Problem | None = None
    cut = 0
    for c in (int(c) for c in labels):
        size = len(w_of[c])
        k = round(size / target) if size > _CUT_FACTOR * target else 1
        if k <= 1:
            whole.append(c)
            continue
        cut += 1
        if problem is None:
            problem = build_problem(instance)
        parts.extend(_districts(instance, c, w_of[c], s_of[c], p, head, s_index, k, problem))

    # Pack whole components into the remaining number of parts, largest first into the lightest bin.
    n_bins = max(1, n_parts - len(parts))
    bins: list[tuple[list[int], int]] = []
    for c in sorted(whole, key=lambda c: (-len(w_of[c]), c)):
        if len(bins) < n_bins:
            bins.append(([c], len(w_of[c])))
            continue
        i = min(range(len(bins)), key=lambda b: (bins[b][1], b))
        bins[i] = (bins[i][0] + [c], bins[i][1] + len(w_of[c]))
    for members, _ in bins:
        parts.append(
            Part(
                workers=np.sort(np.concatenate([w_of[c] for c in members])),
                shifts=np.sort(np.concatenate([s_of[c] for c in members])),
                exact=True,
                component=-1,
            )
        )
    parts.sort(key=lambda pt: (-(len(pt.workers) * max(1, len(pt.shifts))), int(pt.shifts[0]) if len(pt.shifts) else 0))
    return PartPlan(parts, n_comp, largest, cut, problem)


# A shift claims this many times its headcount of its likeliest eligible workers for its district.
CLAIM_RATIO = 1.0


def _claim(problem: Problem, si: np.ndarray, s_lab: np.ndarray, w_pos: np.ndarray, w_lab: np.ndarray) -> np.ndarray:
    """Workers claimed by the district of a shift they are eligible for, scarcest shifts first.

    A geographic cut alone starves the big event that needs a rare pair of skills: the whole city's
    pickers-and-promoters were its supply. So, before the cut's supply balance applies, each shift in
    order of scarcity (eligible workers per place; untruncated lists first) claims up to
    ``CLAIM_RATIO`` x headcount of its likeliest eligible workers not yet claimed, and they join its
    district. Only membership is decided here: the part's own solve decides who is called.
    """
    out = w_lab.copy()
    claimed = np.zeros(problem.n_workers, dtype=bool)
    scarcity = [
        (bool(problem.truncated[j]), len(problem.candidates[j]) / max(1, int(problem.headcount[j])), j)
        for j in si.tolist()
    ]
    lab_of = {int(j): int(lab) for j, lab in zip(si.tolist(), s_lab.tolist(), strict=True)}
    for trunc, _, j in sorted(scarcity):
        if trunc:
            # A truncated list means more eligible workers than the solver keeps at hand: not scarce.
            break
        cand = problem.candidates[j]
        free = cand[~claimed[cand] & (w_pos[cand] >= 0)]
        take = free[: math.ceil(CLAIM_RATIO * int(problem.headcount[j]))]
        claimed[take] = True
        out[w_pos[take]] = lab_of[j]
    return out


def _districts(
    instance: Instance,
    c: int,
    wi: np.ndarray,
    si: np.ndarray,
    p: np.ndarray,
    head: np.ndarray,
    s_index: dict[str, int],
    k: int,
    problem: Problem | None,
) -> list[Part]:
    """Cut component ``c`` (workers ``wi``, shifts ``si``) into ``k`` districts, keeping fixed pairs
    together: a worker goes where its accepted shifts are, and districts sharing one worker's accepted
    shifts are merged."""
    w_loc = np.array([instance.workers[i].location for i in wi.tolist()], dtype=np.float64)
    s_loc = np.array([instance.shifts[j].location for j in si.tolist()], dtype=np.float64)
    lat0 = float(np.mean(s_loc[:, 0]))
    counts: dict[str, int] = {}
    for i in wi.tolist():
        for sk in instance.workers[i].skills:
            counts[sk] = counts.get(sk, 0) + 1
    vocab = {sk: n for n, sk in enumerate(sorted(counts))}

    def rarest(skills: tuple[str, ...]) -> int:
        known = [sk for sk in skills if sk in vocab]
        return vocab[min(known, key=lambda sk: (counts[sk], sk))] if known else -1

    w_group = np.array([rarest(instance.workers[i].skills) for i in wi.tolist()], dtype=np.int64)
    s_group = np.array([rarest(instance.shifts[j].skills) for j in si.tolist()], dtype=np.int64)
    w_lab, s_lab = _bisect(_projected_km(w_loc, lat0), p[wi], w_group, _projected_km(s_loc, lat0), head[si], s_group, k)
    s_pos = {int(j): n for n, j in enumerate(si.tolist())}
    if problem is not None:
        w_pos = np.full(len(instance.workers), -1, dtype=np.int64)
        w_pos[wi] = np.arange(len(wi))
        w_lab = _claim(problem, si, s_lab, w_pos, w_lab)
    # Union-find over district labels for workers accepted into shifts of several districts.
    parent = list(range(k))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for n, i in enumerate(wi.tolist()):
        fixed = instance.workers[i].fixed
        if not fixed:
            continue
        labs = {int(s_lab[s_pos[s_index[sid]]]) for sid in fixed}
        first = find(min(labs))
        for lab in labs:
            parent[find(lab)] = first
        w_lab[n] = first
    w_root = np.array([find(int(x)) for x in w_lab.tolist()], dtype=np.int64)
    s_root = np.array([find(int(x)) for x in s_lab.tolist()], dtype=np.int64)
    out = []
    for r in sorted(set(s_root.tolist())):
        out.append(Part(workers=np.sort(wi[w_root == r]), shifts=np.sort(si[s_root == r]), exact=False, component=c))
    return out


# ----------------------------------------------------------------------------------------------------------
# Solving the parts


def part_instance(instance: Instance, part: Part, n_shifts_total: int) -> Instance:
    """The sub-instance of one part, with its share of the day's time limit."""
    pol = instance.policy
    share = len(part.shifts) / max(1, n_shifts_total)
    limit = max(MIN_PART_TIME_S, pol.time_limit_s * share)
    return Instance(
        tuple(instance.workers[i] for i in part.workers.tolist()),
        tuple(instance.shifts[j] for j in part.shifts.tolist()),
        replace(pol, time_limit_s=min(pol.time_limit_s, limit)),
    )


def _run(sub: Instance) -> tuple[Solution, float, float, int]:
    from scheduling_solver.solve import solve

    t0, c0 = time.perf_counter(), time.process_time()
    sol = solve(sub)
    return sol, time.perf_counter() - t0, time.process_time() - c0, os.getpid()


# Set in the parent just before a fork pool starts; children inherit it instead of receiving a pickle.
# The lock keeps two threads of one process from forking with each other's day.
_FORKED: tuple[Instance, list[Part]] | None = None
_FORK_LOCK = threading.Lock()


def _run_forked(i: int) -> tuple[Solution, float, float, int]:
    assert _FORKED is not None
    instance, parts = _FORKED
    return _run(part_instance(instance, parts[i], len(instance.shifts)))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PackedInstance:
    """A sub-instance as flat arrays, for a ``spawn`` child: times as integer microseconds since the
    epoch plus UTC offsets in seconds (exact, unlike float timestamps), ids and skills as plain lists.
    Pickling this is several times cheaper than pickling the frozen dataclasses and their datetimes."""

    worker_ids: list[str]
    rank: np.ndarray
    shows: np.ndarray
    no_shows: np.ndarray
    w_loc: np.ndarray
    w_skills: list[tuple[str, ...]]
    max_day: np.ndarray
    fixed: list[tuple[str, ...]]
    excluded: list[tuple[str, ...]]
    n_windows: np.ndarray
    windows_us: np.ndarray  # (n, 2) int64
    windows_off: np.ndarray  # (n, 2) int32
    shift_ids: list[str]
    s_times_us: np.ndarray
    s_times_off: np.ndarray
    headcount: np.ndarray
    s_skills: list[tuple[str, ...]]
    s_loc: np.ndarray
    priority: np.ndarray
    s_policy: list[str]
    min_fill: np.ndarray
    policy: Policy


def _us(t: datetime) -> tuple[int, int]:
    off = t.utcoffset()
    assert off is not None  # the schema refuses naive times
    return (t - _EPOCH) // timedelta(microseconds=1), int(off.total_seconds())


def pack(sub: Instance) -> PackedInstance:
    """Flatten ``sub`` for sending to a spawned process (see :func:`unpack`)."""
    ws, ss = sub.workers, sub.shifts
    # A day has a few hundred distinct times; convert each once.
    seen: dict[datetime, tuple[int, int]] = {}

    def us(t: datetime) -> tuple[int, int]:
        found = seen.get(t)
        if found is None or found[1] != (t.utcoffset() or timedelta(0)).total_seconds():
            found = seen[t] = _us(t)
        return found

    win = [us(t) for w in ws for a, b in w.available for t in (a, b)]
    times = [us(t) for s in ss for t in (s.start, s.end)]
    return PackedInstance(
        worker_ids=[w.id for w in ws],
        rank=np.array([w.rank for w in ws], dtype=np.float64),
        shows=np.array([w.shows for w in ws], dtype=np.float64),
        no_shows=np.array([w.no_shows for w in ws], dtype=np.float64),
        w_loc=np.array([w.location for w in ws], dtype=np.float64).reshape(-1, 2),
        w_skills=[w.skills for w in ws],
        max_day=np.array([w.max_shifts_per_day for w in ws], dtype=np.int64),
        fixed=[w.fixed for w in ws],
        excluded=[w.excluded for w in ws],
        n_windows=np.array([len(w.available) for w in ws], dtype=np.int64),
        windows_us=np.array([u for u, _ in win], dtype=np.int64).reshape(-1, 2),
        windows_off=np.array([o for _, o in win], dtype=np.int32).reshape(-1, 2),
        shift_ids=[s.id for s in ss],
        s_times_us=np.array([u for u, _ in times], dtype=np.int64).reshape(-1, 2),
        s_times_off=np.array([o for _, o in times], dtype=np.int32).reshape(-1, 2),
        headcount=np.array([s.headcount for s in ss], dtype=np.int64),
        s_skills=[s.skills for s in ss],
        s_loc=np.array([s.location for s in ss], dtype=np.float64).reshape(-1, 2),
        priority=np.array([s.priority for s in ss], dtype=np.float64),
        s_policy=[s.policy for s in ss],
        min_fill=np.array([s.min_fill for s in ss], dtype=np.float64),
        policy=sub.policy,
    )


def unpack(packed: PackedInstance) -> Instance:
    """The instance :func:`pack` flattened, equal field by field."""
    made: dict[tuple[int, int], datetime] = {}

    def when(us: int, off: int) -> datetime:
        # Equal times become one shared (immutable) object, so a day's few hundred times are built once.
        found = made.get((us, off))
        if found is None:
            found = made[(us, off)] = (_EPOCH + timedelta(microseconds=us)).astimezone(timezone(timedelta(seconds=off)))
        return found

    wus, woff = packed.windows_us.tolist(), packed.windows_off.tolist()
    workers = []
    row = 0
    rank, shows, no_shows = packed.rank.tolist(), packed.shows.tolist(), packed.no_shows.tolist()
    loc, max_day = packed.w_loc.tolist(), packed.max_day.tolist()
    for i, n in enumerate(packed.n_windows.tolist()):
        windows = tuple((when(wus[r][0], woff[r][0]), when(wus[r][1], woff[r][1])) for r in range(row, row + n))
        row += n
        workers.append(
            Worker(
                id=packed.worker_ids[i],
                rank=rank[i],
                shows=shows[i],
                no_shows=no_shows[i],
                skills=packed.w_skills[i],
                location=(loc[i][0], loc[i][1]),
                available=windows,
                max_shifts_per_day=max_day[i],
                fixed=packed.fixed[i],
                excluded=packed.excluded[i],
            )
        )
    sus, soff = packed.s_times_us.tolist(), packed.s_times_off.tolist()
    sloc = packed.s_loc.tolist()
    head, prio, fill = packed.headcount.tolist(), packed.priority.tolist(), packed.min_fill.tolist()
    shifts = [
        Shift(
            id=sid,
            start=when(sus[j][0], soff[j][0]),
            end=when(sus[j][1], soff[j][1]),
            headcount=head[j],
            skills=packed.s_skills[j],
            location=(sloc[j][0], sloc[j][1]),
            priority=prio[j],
            policy=packed.s_policy[j],
            min_fill=fill[j],
        )
        for j, sid in enumerate(packed.shift_ids)
    ]
    return Instance(tuple(workers), tuple(shifts), packed.policy)


def _run_packed(packed: PackedInstance) -> tuple[Solution, float, float, int]:
    return _run(unpack(packed))


@dataclass(frozen=True)
class SerialisationCost:
    """What a ``spawn`` pool would send: the parts' sub-instances pickled as dataclasses, and packed."""

    plain_bytes: int
    plain_dump_s: float
    plain_load_s: float
    packed_bytes: int
    packed_dump_s: float
    packed_load_s: float


def serialisation_cost(instance: Instance, parts: Sequence[Part]) -> SerialisationCost:
    """CPU seconds and bytes of pickling the parts' sub-instances as they are and as
    :class:`PackedInstance` (packing and unpacking included, since a spawned pool pays for both)."""
    figures = [0.0] * 6
    for part in parts:
        sub = part_instance(instance, part, len(instance.shifts))
        t0 = time.process_time()
        data = pickle.dumps(sub, protocol=pickle.HIGHEST_PROTOCOL)
        t1 = time.process_time()
        pickle.loads(data)  # noqa: S301 - our own bytes, just made
        t2 = time.process_time()
        packed = pickle.dumps(pack(sub), protocol=pickle.HIGHEST_PROTOCOL)
        t3 = time.process_time()
        unpack(pickle.loads(packed))  # noqa: S301 - our own bytes, just made
        t4 = time.process_time()
        for k, v in enumerate((len(data), t1 - t0, t2 - t1, len(packed), t3 - t2, t4 - t3)):
            figures[k] += v
    return SerialisationCost(int(figures[0]), figures[1], figures[2], int(figures[3]), figures[4], figures[5])


def _default_start_method() -> str:
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def parts_wanted(instance: Instance, partitions: Partitions) -> int:
    """How many parts ``partitions`` asks for on ``instance`` (1: solve in one piece)."""
    if partitions == "off":
        return 1
    if partitions == "auto":
        n = len(instance.workers)
        return 1 if n < AUTO_MIN_WORKERS else max(2, round(n / AUTO_PART_WORKERS))
    if isinstance(partitions, int) and not isinstance(partitions, bool) and partitions >= 1:
        return partitions
    raise ValueError(f"partitions must be 'auto', 'off' or a positive int, got {partitions!r}")


def solve_partitioned(
    instance: Instance,
    *,
    partitions: Partitions = "auto",
    processes: int | None = None,
    start_method: str | None = None,
) -> Solution:
    """Plan the day as independent parts solved in parallel processes, merged into one plan.

    ``partitions``: ``"auto"`` (one piece below ``AUTO_MIN_WORKERS`` workers, else parts of about
    ``AUTO_PART_WORKERS``), ``"off"`` (exactly :func:`scheduling_solver.solve.solve`), or a number of
    parts. ``processes``: pool size (default: the CPU count, at most the number of parts); 1 solves the
    parts one after another in this process and gives the same plan. ``start_method``: ``fork``
    (default where available: children read the instance from the parent's memory) or ``spawn``.
    The merged plan passes :func:`scheduling_solver.validate.validate` like any other.
    """
    return solve_partitioned_report(instance, partitions=partitions, processes=processes, start_method=start_method)[0]


def solve_partitioned_report(
    instance: Instance,
    *,
    partitions: Partitions = "auto",
    processes: int | None = None,
    start_method: str | None = None,
) -> tuple[Solution, PartitionReport]:
    """:func:`solve_partitioned`, also returning what each part did."""
    from scheduling_solver.solve import gc_paused, solve

    t0, c0 = time.perf_counter(), time.process_time()
    report = PartitionReport()
    wanted = parts_wanted(instance, partitions)
    if wanted == 1 or not instance.shifts or not instance.workers:
        sol = solve(instance)
        report.parts.append(
            PartRun(
                len(instance.workers),
                len(instance.shifts),
                True,
                sol.status,
                time.perf_counter() - t0,
                time.process_time() - c0,
                sol.totals.objective,
                os.getpid(),
            )
        )
        report.components = 1
        report.largest_component_workers = len(instance.workers)
        report.wall_s = time.perf_counter() - t0
        return replace(sol, wall_s=report.wall_s), report

    with gc_paused():
        plan = plan_parts(instance, wanted)
    parts = plan.parts
    report.components, report.largest_component_workers = plan.components, plan.largest_component_workers
    report.cut_components = plan.cut_components
    report.plan_s = time.perf_counter() - t0
    n_proc = max(1, min(processes or os.cpu_count() or 1, len(parts)))
    report.processes = n_proc
    t1 = time.perf_counter()
    results = _solve_parts(instance, parts, n_proc, start_method or _default_start_method(), report)
    report.pool_s = time.perf_counter() - t1

    t2 = time.perf_counter()
    with gc_paused():
        # A cut part that came back infeasible may only lack a worker given to its neighbour: solve its
        # whole component in one piece instead (sound: that component is independent of the rest).
        redo = sorted(
            {
                pt.component
                for pt, res in zip(parts, results, strict=True)
                if not pt.exact and res[0].status == "infeasible"
            }
        )
        if redo:
            report.fallbacks = len(redo)
            kept = [(pt, res) for pt, res in zip(parts, results, strict=True) if pt.exact or pt.component not in redo]
            for c in redo:
                members = [pt for pt in parts if pt.component == c]
                whole = Part(
                    workers=np.sort(np.concatenate([pt.workers for pt in members])),
                    shifts=np.sort(np.concatenate([pt.shifts for pt in members])),
                    exact=True,
                    component=-1,
                )
                kept.append((whole, _run(part_instance(instance, whole, len(instance.shifts)))))
            parts = [pt for pt, _ in kept]
            results = [res for _, res in kept]
        report.parts = [
            PartRun(len(pt.workers), len(pt.shifts), pt.exact, s.status, wall, cpu, s.totals.objective, pid)
            for pt, (s, wall, cpu, pid) in zip(parts, results, strict=True)
        ]
        sol = merge(instance, [r[0] for r in results], exact=all(pt.exact for pt in parts))
        report.merge_s = time.perf_counter() - t2
        cut = [pt for pt in parts if not pt.exact]
        small = bool(cut) and sum(len(pt.workers) for pt in cut) / len(cut) < REPAIR_BELOW_PART_WORKERS
        if plan.problem is not None and sol.status != "infeasible" and small:
            t3 = time.perf_counter()
            phases = sol.phases
            sol, report.repair_moves = repair(instance, plan.problem, sol, deadline=t0 + instance.policy.time_limit_s)
            report.repair_s = time.perf_counter() - t3
            report.repair_gain = report.parts_objective - sol.totals.objective
            # The repair is the exact local search over the whole day: it reports as one more such phase.
            sol = replace(sol, phases=(*phases, Phase("local_search", report.repair_s, max(0.0, report.repair_gain))))
    report.wall_s = time.perf_counter() - t0
    # Parts solved in this process (processes=1, fallbacks) are counted in their own rows.
    in_parts = sum(p.cpu_s for p in report.parts if p.pid == os.getpid())
    report.parent_cpu_s = time.process_time() - c0 - in_parts
    return replace(sol, wall_s=report.wall_s), report


# Cross-border repair: exact local-search visits per shift of the day, after the merge.
REPAIR_VISITS_PER_SHIFT = 2
# ... run only when the cut parts average fewer workers than this. Measured on the seed's days: with
# 5,000-worker parts it removed half the cut's loss (+1.1% -> +0.6% against the unpartitioned plan);
# with 25,000-worker parts it removed 0.06% for 9 s of serial CPU, more than the parts themselves took.
REPAIR_BELOW_PART_WORKERS = 10_000


def repair(instance: Instance, problem: Problem, merged: Solution, *, deadline: float) -> tuple[Solution, int]:
    """Run the exact local search over the whole day from the merged plan, so workers may move across
    the cuts (a replacement by a better idle worker of the other side, a relocation); returns the plan
    with fresh standby lists and exact figures, and the number of moves. Bounded by
    ``REPAIR_VISITS_PER_SHIFT`` x shifts visits (deterministic), ``deadline`` being the safety net."""
    from scheduling_solver.greedy import PlanState, standby_lists
    from scheduling_solver.local_search import improve
    from scheduling_solver.solve import build_solution

    t0 = time.perf_counter()
    state = PlanState(problem)
    w_index = {wid: i for i, wid in enumerate(problem.worker_ids)}
    for j, sid in enumerate(problem.shift_ids):
        for wid in merged.shifts[sid].called:
            state.add(w_index[wid], j)
    moves = improve(
        state, max_visits=REPAIR_VISITS_PER_SHIFT * problem.n_shifts, deadline=max(deadline, time.perf_counter() + 0.5)
    )
    standby = standby_lists(state, instance.policy.standby_size)
    sol = build_solution(problem, state, merged.status, t0, standby)
    return sol, moves


def _solve_parts(
    instance: Instance, parts: list[Part], n_proc: int, start_method: str, report: PartitionReport
) -> list[tuple[Solution, float, float, int]]:
    global _FORKED
    n_total = len(instance.shifts)
    if n_proc == 1:
        report.start_method = "none"
        return [_run(part_instance(instance, pt, n_total)) for pt in parts]
    report.start_method = start_method
    ctx = multiprocessing.get_context(start_method)
    futures: list[Future[tuple[Solution, float, float, int]]] = []
    if start_method == "fork":
        with _FORK_LOCK:
            _FORKED = (instance, parts)
            try:
                with ProcessPoolExecutor(max_workers=n_proc, mp_context=ctx) as pool:
                    # Parts are already largest first, so the pool balances itself.
                    futures = [pool.submit(_run_forked, i) for i in range(len(parts))]
                    return [f.result() for f in futures]
            finally:
                _FORKED = None
    with ProcessPoolExecutor(max_workers=n_proc, mp_context=ctx) as pool:
        # Spawned children start empty: each gets its part as flat arrays (see serialisation_cost).
        futures = [pool.submit(_run_packed, pack(part_instance(instance, pt, n_total))) for pt in parts]
        return [f.result() for f in futures]


def merge(instance: Instance, solutions: Sequence[Solution], *, exact: bool) -> Solution:
    """One plan for the day from the parts' plans (which cover each shift exactly once)."""
    infeasible = [s for s in solutions if s.status == "infeasible"]
    if infeasible:
        reasons = tuple(r for s in infeasible for r in s.reasons)
        return Solution("infeasible", 0.0, {}, Totals(0, 0.0, 0.0), reasons=reasons)
    plans: dict[str, ShiftPlan] = {}
    found: dict[str, ShiftPlan] = {}
    for s in solutions:
        found.update(s.shifts)
    for sh in instance.shifts:
        plans[sh.id] = found[sh.id]
    n = len(plans)
    totals = Totals(
        called=sum(s.totals.called for s in solutions),
        expected_cost=sum(p.expected_cost for p in plans.values()),
        mean_fill_probability=sum(p.fill_probability for p in plans.values()) / n if n else 1.0,
        objective=sum(s.totals.objective for s in solutions),
    )
    status = "optimal" if exact and all(s.status == "optimal" for s in solutions) else "feasible"
    # Each phase's figures summed over the parts (wall seconds add up as work, not as elapsed time).
    phases: dict[str, tuple[float, float]] = {}
    for s in solutions:
        for ph in s.phases:
            wall, removed = phases.get(ph.name, (0.0, 0.0))
            phases[ph.name] = (wall + ph.wall_s, removed + ph.objective_removed)
    merged = tuple(Phase(name, wall, removed) for name, (wall, removed) in phases.items())
    return Solution(status, 0.0, plans, totals, phases=merged)
