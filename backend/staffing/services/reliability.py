"""Reliability and rank: how likely a worker is to come, and how the agency ranks them.

**Reliability** is :func:`scheduling_solver.probability.show_probability` (reached through the solver adapter),
the one definition the solver plans with: the posterior mean of a Beta prior updated with the worker's shows and
no-shows, each call weighted by :func:`~scheduling_solver.probability.decay_weights` of its age
(``STAFFING_RELIABILITY_HALF_LIFE_DAYS``, 180 by default: a no-show half a year ago weighs half of one today). The
prior is
:func:`~scheduling_solver.probability.fit_prior` over the decayed histories of the worker's pool, so a newcomer
starts at the pool's rate and a long record outweighs it. A show is an attendance with a check-in; a no-show is
one the foreman marked; an excused absence counts neither way.

**Rank** (0-100) combines reliability with the foremen's 1-10 quality scores::

    rank = 100 x (0.7 x reliability + 0.3 x (quality - 1) / 9)
    quality = (sum of w_i x score_i + 3 x 7) / (sum of w_i + 3)

``w_i`` are the same decay weights, and ``quality`` is shrunk towards a neutral 7 with the weight of three scores,
so one 10 (or one 2) does not make a newcomer's rank. Reliability carries most of the weight because a worker who
does not come is worth nothing on the day, however good. See docs/decisions/0013-reliability-and-rank.md.

Every change of either figure is a ``ReliabilityChange`` row with its reason, which the worker reads in their
rating, and an event, written in the transaction of the change that caused it (a no-show lowers both at once).
The nightly recomputation (``reliability_recompute_all``) re-ages every history and is idempotent: it computes as
of a given moment and writes only the figures that differ.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.clock import clock_now
from backend.core.events import event_record, snapshot
from backend.core.models import EventAction
from backend.realtime.services import realtime_publish
from backend.staffing import solver_adapter as adapter
from backend.staffing.models import Attendance, Offer, ReliabilityChange, ReliabilityReason, Shift, Worker

DEFAULT_HALF_LIFE_DAYS = 180.0
RANK_RELIABILITY_WEIGHT = 0.7
RANK_QUALITY_WEIGHT = 0.3
QUALITY_PRIOR_MEAN = 7.0
QUALITY_PRIOR_WEIGHT = 3.0
# Figures are stored rounded: a recomputation that changes less than this is no change (and writes nothing).
RELIABILITY_DIGITS = 4
RANK_DIGITS = 2
SNAPSHOT_FIELDS = (
    "reliability",
    "rank",
    "decayed_shows",
    "decayed_no_shows",
    "shows_count",
    "no_shows_count",
    "excused_count",
    "quality_sum",
    "quality_count",
)


def reliability_half_life_days() -> float:
    """The configured half-life of a past call's weight, in days (``STAFFING_RELIABILITY_HALF_LIFE_DAYS``)."""
    return float(getattr(settings, "STAFFING_RELIABILITY_HALF_LIFE_DAYS", DEFAULT_HALF_LIFE_DAYS))


@dataclass(frozen=True)
class HistoryItem:
    """One past call that counts: when the shift started, whether the worker came, the foreman's score."""

    at: dt.datetime
    came: bool
    quality: int | None


@dataclass(frozen=True)
class Figures:
    """A worker's reliability, rank and the counts behind them, as of one moment."""

    reliability: float
    rank: float
    decayed_shows: float
    decayed_no_shows: float
    shows_count: int
    no_shows_count: int
    excused_count: int
    quality_sum: int
    quality_count: int

    def stored(self) -> dict[str, Any]:
        """The values as the worker row holds them."""
        return {
            "reliability": self.reliability,
            "rank": self.rank,
            "decayed_shows": self.decayed_shows,
            "decayed_no_shows": self.decayed_no_shows,
            "shows_count": self.shows_count,
            "no_shows_count": self.no_shows_count,
            "excused_count": self.excused_count,
            "quality_sum": self.quality_sum,
            "quality_count": self.quality_count,
        }


def rank_score(*, reliability: float, quality: float) -> float:
    """The rank formula (0-100) from a show probability and a 1-10 mean quality score (see the module doc)."""
    value = 100.0 * (RANK_RELIABILITY_WEIGHT * reliability + RANK_QUALITY_WEIGHT * (quality - 1.0) / 9.0)
    return round(min(100.0, max(0.0, value)), RANK_DIGITS)


def _histories(worker_ids: Iterable[int]) -> tuple[dict[int, list[HistoryItem]], dict[int, int]]:
    """Per worker: the calls that count (shows and no-shows, oldest first), and the number of excused absences."""
    ids = list(worker_ids)
    history: dict[int, list[HistoryItem]] = defaultdict(list)
    excused: dict[int, int] = defaultdict(int)
    rows = (
        Attendance.objects.filter(worker_id__in=ids)
        .values_list("worker_id", "shift__starts_at", "checked_in_at", "no_show", "excused", "quality_score")
        .order_by("worker_id", "shift__starts_at", "id")
    )
    for worker_id, starts_at, checked_in_at, no_show, is_excused, quality in rows.iterator(chunk_size=2000):
        if is_excused:
            excused[worker_id] += 1
        elif no_show:
            history[worker_id].append(HistoryItem(at=starts_at, came=False, quality=None))
        elif checked_in_at is not None:
            history[worker_id].append(HistoryItem(at=starts_at, came=True, quality=quality))
    return history, excused


def _decayed(items: list[HistoryItem], *, now: dt.datetime, half_life: float) -> tuple[float, float, np.ndarray]:
    ages = np.array([(now - item.at).total_seconds() / 86400.0 for item in items], dtype=float)
    weights = adapter.decay_weights(ages, half_life)
    came = np.array([item.came for item in items], dtype=bool)
    return float(weights[came].sum()), float(weights[~came].sum()), weights


def figures_for(
    items: list[HistoryItem], *, excused: int, now: dt.datetime, prior: tuple[float, float], half_life: float
) -> Figures:
    """Reliability and rank of one history as of ``now`` under ``prior`` (see the module doc for the formulas)."""
    shows, no_shows, weights = _decayed(items, now=now, half_life=half_life)
    reliability = adapter.probability_of_show(shows, no_shows, prior)
    scored = [(w, item.quality) for w, item in zip(weights, items, strict=True) if item.quality is not None]
    weighted = sum(float(w) * q for w, q in scored)
    weight = sum(float(w) for w, _q in scored)
    quality = (weighted + QUALITY_PRIOR_WEIGHT * QUALITY_PRIOR_MEAN) / (weight + QUALITY_PRIOR_WEIGHT)
    reliability = round(min(1.0, max(0.0, reliability)), RELIABILITY_DIGITS)
    return Figures(
        reliability=reliability,
        rank=rank_score(reliability=reliability, quality=quality),
        decayed_shows=round(shows, RELIABILITY_DIGITS),
        decayed_no_shows=round(no_shows, RELIABILITY_DIGITS),
        shows_count=sum(1 for item in items if item.came),
        no_shows_count=sum(1 for item in items if not item.came),
        excused_count=excused,
        quality_sum=sum(q for _w, q in scored),
        quality_count=len(scored),
    )


def pool_prior(*, pool_id: int) -> tuple[float, float]:
    """The Beta prior fitted to the decayed histories of the pool's workers (as last stored on them); the default
    while the pool is too small to fit one. What the dispatch gives the solver, so both use the same prior."""
    counts = Worker.objects.filter(organization_id=pool_id).values_list("decayed_shows", "decayed_no_shows")
    return adapter.prior_fit(list(counts))


def newcomer_figures(*, pool_id: int) -> Figures:
    """The figures of a worker with no history in the pool: the pool prior's mean and a neutral quality. What a new
    worker row should start with (``Worker.objects.create(..., **newcomer_figures(pool_id=...).stored())``)."""
    return figures_for(
        [], excused=0, now=clock_now(), prior=pool_prior(pool_id=pool_id), half_life=reliability_half_life_days()
    )


def _apply(
    worker: Worker,
    figures: Figures,
    *,
    reason: str,
    reason_text: str,
    now: dt.datetime,
    actor: Any = None,
    offer: Offer | None = None,
    shift: Shift | None = None,
    always: bool = False,
) -> ReliabilityChange | None:
    """Store ``figures`` on the locked ``worker`` with a change row and an event; nothing when nothing differs
    (unless ``always``: a no-show or an excused absence is shown to the worker even when a figure did not move)."""
    before = snapshot(worker, SNAPSHOT_FIELDS)
    after = figures.stored()
    if before == after and not always:
        return None
    change = ReliabilityChange.objects.create(
        organization_id=worker.organization_id,
        worker=worker,
        occurred_at=now,
        reliability_before=worker.reliability,
        reliability_after=figures.reliability,
        rank_before=worker.rank,
        rank_after=figures.rank,
        reason=reason,
        reason_text=reason_text[:500],
        offer=offer,
        shift=shift,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    for name, value in after.items():
        setattr(worker, name, value)
    worker.reliability_updated_at = now
    worker.save(update_fields=[*after, "reliability_updated_at", "updated_at"])
    event_record(
        entity=worker, action=EventAction.UPDATE, actor=actor, before=before, after=after, note=f"reliability: {reason}"
    )
    if reason != ReliabilityReason.RECOMPUTE:  # the nightly re-ageing is not news; a no-show or a score is
        realtime_publish(
            user_id=worker.user_id,
            event={
                "type": "staffing.rating",
                "reason": reason,
                "reason_text": change.reason_text,
                "reliability": figures.reliability,
                "rank": figures.rank,
                "rank_before": change.rank_before,
            },
        )
    return change


@transaction.atomic
def worker_reliability_update(
    *,
    worker_id: int,
    reason: str,
    reason_text: str = "",
    actor: Any = None,
    offer: Offer | None = None,
    shift: Shift | None = None,
    now: dt.datetime | None = None,
) -> ReliabilityChange | None:
    """Recompute one worker's reliability and rank from their whole history now and record why (``reason``, a
    ``ReliabilityReason``). Called inside the transaction of the change that caused it (an attendance mark), so
    the worker's figures and the reason they read move together with it. Returns the change, ``None`` if nothing
    moved (always a row for a no-show, a show and an excused absence)."""
    now = now or clock_now()
    worker = Worker.objects.select_for_update().get(pk=worker_id)
    history, excused = _histories([worker.pk])
    figures = figures_for(
        history.get(worker.pk, []),
        excused=excused.get(worker.pk, 0),
        now=now,
        prior=pool_prior(pool_id=worker.organization_id),
        half_life=reliability_half_life_days(),
    )
    always = reason in (ReliabilityReason.NO_SHOW, ReliabilityReason.SHOW, ReliabilityReason.EXCUSED)
    return _apply(
        worker,
        figures,
        reason=reason,
        reason_text=reason_text,
        now=now,
        actor=actor,
        offer=offer,
        shift=shift,
        always=always,
    )


def reliability_recompute_pool(*, pool_id: int, as_of: dt.datetime) -> dict[str, int]:
    """Re-age every history of one pool as of ``as_of``: fit the prior to the pool's decayed counts, then store each
    worker's figures that differ (reason ``recompute``). Idempotent: a second run as of the same moment changes
    nothing. Each worker is its own short transaction, so a large pool never holds one long lock."""
    half_life = reliability_half_life_days()
    worker_ids = list(Worker.objects.filter(organization_id=pool_id).order_by("pk").values_list("pk", flat=True))
    history, excused = _histories(worker_ids)
    counts = [_decayed(history.get(pk, []), now=as_of, half_life=half_life)[:2] for pk in worker_ids if pk in history]
    prior = adapter.prior_fit(counts)
    changed = 0
    for pk in worker_ids:
        figures = figures_for(
            history.get(pk, []), excused=excused.get(pk, 0), now=as_of, prior=prior, half_life=half_life
        )
        with transaction.atomic():
            worker = Worker.objects.select_for_update().get(pk=pk)
            change = _apply(
                worker,
                figures,
                reason=ReliabilityReason.RECOMPUTE,
                reason_text=_("Older shifts weigh less as time passes."),
                now=as_of,
            )
            changed += change is not None
    return {"workers": len(worker_ids), "changed": changed}


def reliability_recompute_all(*, as_of: dt.datetime | None = None) -> dict[str, int]:
    """The nightly recomputation of every pool (see ``reliability_recompute_pool``); returns the totals."""
    as_of = as_of or clock_now()
    totals = {"pools": 0, "workers": 0, "changed": 0}
    pool_ids = Worker.objects.order_by().values_list("organization_id", flat=True).distinct()
    for pool_id in sorted(set(pool_ids)):
        result = reliability_recompute_pool(pool_id=pool_id, as_of=as_of)
        totals["pools"] += 1
        totals["workers"] += result["workers"]
        totals["changed"] += result["changed"]
    return totals


def reliability_night(now: dt.datetime | None = None) -> dt.datetime:
    """The moment the latest nightly recomputation is due: 03:00 in ``TIME_ZONE`` today, or yesterday before it."""
    now = now or clock_now()
    local = timezone.localtime(now)
    due = local.replace(hour=3, minute=0, second=0, microsecond=0)
    if local < due:
        due -= dt.timedelta(days=1)
    return due


def reliability_nightly_kick(now: dt.datetime | None = None) -> dict[str, int]:
    """A periodic sweep (``BRIGADA_SWEEPS``): queue tonight's recomputation once ``reliability_night`` has come, unless
    a run for this night is already queued or done. Two workers racing here may both queue it; the task is
    idempotent, so the second run changes nothing."""
    from django_tasks_db.models import DBTaskResult

    from backend.staffing.tasks import reliability_recompute_task

    night = reliability_night(now)
    queued = DBTaskResult.objects.filter(
        task_path=reliability_recompute_task.module_path, enqueued_at__gte=night
    ).exists()
    if queued:
        return {"reliability_recompute_queued": 0}
    reliability_recompute_task.enqueue(as_of=night.isoformat())
    return {"reliability_recompute_queued": 1}
