"""A synthetic Brigada world for tests, the benchmark and the demo notebooks.

Visits are *not* drawn from BG/NBD: clients of service businesses come back at fairly regular intervals
(a haircut every ~5 weeks), so each client has a personal mean interval (log-normal, median 35 days) and a
regularity (Gamma-distributed gaps with shape 1 = Poisson-like or 4 = regular), and drops out after any
visit with a personal probability p ~ Beta(1.2, 8). Acquisition grows over the window. Using a process the
churn models do not assume keeps the churn validation honest.

Everything is vectorised numpy so 10 million visits take seconds; the same seed gives the same world.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from analytics.schema import write_warehouse

SOURCES = ("instagram", "google", "referral", "walk_in", "telegram", "website")
SOURCE_WEIGHTS = (0.25, 0.2, 0.15, 0.15, 0.1, 0.15)
DISTRICTS = ("north", "south", "east", "west", "centre")
SEGMENTS = ("new", "regular", "veteran")
_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class WorldSize:
    """How big a synthetic world is."""

    clients: int = 2_000
    visits: int = 20_000
    branches: int = 5
    services: int = 60
    staff: int = 40
    shifts: int = 400
    workers: int = 300


@dataclass(frozen=True)
class WorldShape:
    """How clients behave: the knobs the churn back-test tests turn to get worlds of different shapes.

    ``dropout`` is the Beta(a, b) of the per-visit drop-out probability (mean a / (a + b));
    ``median_interval_days`` the median personal mean gap (then rescaled to hit the visit target);
    ``regular_share`` the share of clients with regular (Gamma shape 4) rather than Poisson-like gaps;
    ``seasonality`` the amplitude A of a yearly visit intensity 1 + A·sin(2π·day / 365.25), 0 ≤ A < 1;
    ``growth`` how much faster acquisition runs at the end of the window than at its start (1 = flat).
    """

    dropout: tuple[float, float] = (1.2, 8.0)
    median_interval_days: float = 35.0
    regular_share: float = 0.5
    seasonality: float = 0.0
    growth: float = 2.0


def _labels(labels: tuple[str, ...], codes: np.ndarray) -> pl.Series:
    """String column of ``labels[codes]``."""
    return pl.Series(labels, dtype=pl.String).gather(pl.Series(codes.astype(np.uint32)))


def _season_warp(days: np.ndarray, span_days: float, amplitude: float) -> np.ndarray:
    """Map "operational" days to calendar days so visit intensity is 1 + A·sin(2π·day / 365.25).

    Λ(t) = t + A·365.25/(2π)·(1 - cos(2πt/365.25)) is the operational time of calendar day t; it is
    increasing for A < 1 and inverted on a grid.
    """
    if amplitude == 0.0:
        return days
    grid = np.linspace(0.0, span_days * 1.5 + 400.0, 200_001)
    lam = grid + amplitude * 365.25 / (2 * np.pi) * (1 - np.cos(2 * np.pi * grid / 365.25))
    return np.asarray(np.interp(days, lam, grid))


def _client_paths(
    rng: np.random.Generator,
    n_clients: int,
    span_days: float,
    interval_scale: float,
    shape_: WorldShape | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(client index, day offset) of every visit; first visits at acquisition, then renewal gaps."""
    world = shape_ or WorldShape()
    # Acquisition density grows linearly (a business that is growing): inverse-CDF of f(u) ∝ 1 + (g-1)u.
    u = rng.random(n_clients)
    g = world.growth - 1.0
    acq = span_days * u if abs(g) < 1e-12 else span_days * (np.sqrt(1 + (g * g + 2 * g) * u) - 1) / g
    mean_gap = interval_scale * np.exp(rng.normal(np.log(world.median_interval_days), 0.55, n_clients))
    shape = np.where(rng.random(n_clients) < 1.0 - world.regular_share, 1.0, 4.0)
    p_drop = rng.beta(*world.dropout, n_clients)
    lifetime = rng.geometric(p_drop)  # visits after the first before dropping out
    room = span_days - acq
    # Enough candidate gaps to cover the remaining window with high probability, capped by the lifetime.
    n_cand = np.minimum(lifetime, np.ceil(room / mean_gap * 1.6 + 4).astype(np.int64))
    owner = np.repeat(np.arange(n_clients), n_cand)
    gaps = rng.gamma(shape[owner], mean_gap[owner] / shape[owner])
    csum = np.cumsum(gaps)
    starts = np.concatenate([[0], np.cumsum(n_cand)[:-1]])
    base = np.concatenate([[0.0], csum])[starts]
    offsets = csum - np.repeat(base, n_cand) + acq[owner]
    if world.seasonality:
        # Gaps run in operational time from the (calendar) acquisition day, then map back to the calendar.
        lam0 = acq + world.seasonality * 365.25 / (2 * np.pi) * (1 - np.cos(2 * np.pi * acq / 365.25))
        offsets = _season_warp(offsets - acq[owner] + lam0[owner], span_days, world.seasonality)
    keep = offsets < span_days
    clients = np.concatenate([np.arange(n_clients), owner[keep]])
    days = np.concatenate([acq, offsets[keep]])
    return clients, days


def generate_visits(
    *,
    clients: int,
    visits: int,
    start: dt.datetime = dt.datetime(2023, 1, 1, tzinfo=dt.UTC),
    years: float = 3.0,
    branches: int = 20,
    services: int = 150,
    staff: int = 400,
    seed: int = 0,
    shape: WorldShape | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(visits, clients)`` frames with the warehouse schema; exactly ``visits`` rows when reachable.

    Every client has at least one visit (their first). The interval scale is calibrated on a pilot so that
    the expected number of visits is slightly above the target; surplus repeat visits are then thinned at
    random. Raises ``ValueError`` if ``visits < clients``. ``shape`` changes how clients behave
    (:class:`WorldShape`; the default is the library's reference world).
    """
    if visits < clients:
        raise ValueError("need at least one visit per client")
    rng = np.random.default_rng(seed)
    span = 365.25 * years
    pilot_n = min(clients, 20_000)
    scale = 1.0
    for _ in range(4):
        c, _d = _client_paths(np.random.default_rng(seed + 1), pilot_n, span, scale, shape)
        per_client = c.size / pilot_n
        wanted = visits / clients
        if per_client >= wanted * 1.02:
            break
        # Repeat visits scale roughly with 1 / interval; aim a little high and thin later.
        scale *= max((per_client - 1) / max(wanted * 1.05 - 1, 1e-9), 0.05)
    owner, day = _client_paths(rng, clients, span, scale, shape)
    n_first = clients
    if owner.size > visits:
        surplus = owner.size - visits
        drop = n_first + rng.choice(owner.size - n_first, surplus, replace=False)
        mask = np.ones(owner.size, bool)
        mask[drop] = False
        owner, day = owner[mask], day[mask]
    order = np.lexsort((day, owner))
    owner, day = owner[order], day[order]
    n = owner.size
    # Visits happen in opening hours: whole day plus 08:00-19:59, in UTC for simplicity.
    whole_days = np.floor(day).astype(np.int64)
    minute = rng.integers(8 * 60, 20 * 60, n)
    t0 = int(start.timestamp() * 1_000_000)
    started_us = t0 + whole_days * _US_PER_DAY + minute.astype(np.int64) * 60_000_000
    client_branch = rng.integers(1, branches + 1, clients)
    svc_weights = 1.0 / np.arange(1, services + 1) ** 0.9
    svc_weights /= svc_weights.sum()
    client_service = rng.choice(services, clients, p=svc_weights) + 1
    other_service = rng.choice(services, n, p=svc_weights) + 1
    service = np.where(rng.random(n) < 0.7, client_service[owner], other_service)
    base_price = 20 + 180 * rng.random(services + 1) ** 2
    amount = np.round(base_price[service] * np.exp(rng.normal(0, 0.12, n)), 2)
    branch = client_branch[owner]
    staff_per_branch = max(staff // branches, 1)
    staff_id = (branch - 1) * staff_per_branch + rng.integers(1, staff_per_branch + 1, n)
    # Categorical columns are drawn as codes and decoded by a polars gather: the same draws as choosing
    # from the labels, without building (and converting) millions of numpy strings.
    status = _labels(("completed", "cancelled", "no_show"), rng.choice(3, n, p=[0.9, 0.06, 0.04]))
    # A visit still in the future at the end of the window would be "booked"; the synthetic window is past.
    source_code = rng.choice(len(SOURCES), clients, p=SOURCE_WEIGHTS)
    visit_frame = pl.DataFrame(
        {
            "visit_id": np.arange(1, n + 1, dtype=np.int64),
            "client_id": (owner + 1).astype(np.int64),
            "organization_id": np.ones(n, dtype=np.int64),
            "branch_id": branch.astype(np.int64),
            "service_id": service.astype(np.int64),
            "staff_id": staff_id.astype(np.int64),
            "started_at": pl.Series(started_us).cast(pl.Datetime("us", "UTC")),
            "amount": amount,
            "status": status,
            "source": _labels(SOURCES, source_code[owner]),
            "duration_minutes": (30 + 15 * (service % 5)).astype(np.int32),
        }
    ).with_columns(pl.lit("EUR").alias("currency"))
    firsts = visit_frame.group_by("client_id").agg(pl.col("started_at").min().alias("created_at"))
    client_frame = (
        pl.DataFrame(
            {
                "client_id": np.arange(1, clients + 1, dtype=np.int64),
                "organization_id": np.ones(clients, dtype=np.int64),
                "source": _labels(SOURCES, source_code),
                "birthday": pl.Series((rng.integers(-15_000, 10_000, clients)).astype(np.int32)).cast(pl.Date),
                "gender": _labels(("f", "m", "x"), rng.choice(3, clients, p=[0.6, 0.37, 0.03])),
            }
        )
        .join(firsts, on="client_id", how="left")
        .select("client_id", "organization_id", "created_at", "source", "birthday", "gender")
    )
    return visit_frame, client_frame


def generate_staffing(
    *,
    shifts: int = 400,
    workers: int = 300,
    start: dt.datetime = dt.datetime(2025, 1, 6, tzinfo=dt.UTC),
    days: int = 90,
    seed: int = 0,
) -> dict[str, pl.DataFrame]:
    """``shifts``, ``offers``, ``attendance`` and ``workers`` frames for the staffing KPIs.

    Each shift calls up workers in waves of about 1.5 × the missing headcount until full or three waves
    are out; acceptance and show-up depend on the worker's segment and on the lead time.
    """
    rng = np.random.default_rng(seed)
    worker_segment = rng.choice(np.array(SEGMENTS), workers, p=[0.3, 0.5, 0.2])
    worker_district = rng.choice(np.array(DISTRICTS), workers)
    show_p = {"new": 0.78, "regular": 0.9, "veteran": 0.96}
    shift_rows, offer_rows, att_rows = [], [], []
    offer_id = 1
    t0 = start
    for s in range(1, shifts + 1):
        begin = t0 + dt.timedelta(days=int(rng.integers(0, days)), hours=int(rng.integers(6, 18)))
        length = int(rng.integers(4, 11))
        headcount = int(rng.integers(1, 9))
        pay = float(np.round(rng.uniform(12, 20), 2))
        bill = float(np.round(pay * rng.uniform(1.2, 1.6), 2))
        district = str(rng.choice(np.array(DISTRICTS)))
        shift_rows.append(
            {
                "shift_id": s,
                "order_id": (s + 1) // 2,
                "organization_id": 1,
                "site_id": int(rng.integers(1, 30)),
                "start": begin,
                "end": begin + dt.timedelta(hours=length),
                "headcount": headcount,
                "pay_rate": pay,
                "bill_rate": bill,
                "district": district,
                "client_id": int(rng.integers(1, 40)),
            }
        )
        lead_hours = float(rng.choice(np.array([4, 20, 48, 120])))
        accepted: list[int] = []
        pool = rng.permutation(workers)
        cursor = 0
        for wave in (1, 2, 3):
            missing = headcount - len(accepted)
            if missing <= 0:
                break
            n_call = int(np.ceil(missing * 1.5))
            sent = begin - dt.timedelta(hours=lead_hours - 2 * (wave - 1))
            for w in pool[cursor : cursor + n_call]:
                seg = str(worker_segment[w])
                accept = rng.random() < (0.45 if seg == "new" else 0.55)
                responded = sent + dt.timedelta(minutes=int(rng.integers(1, 90))) if rng.random() < 0.85 else None
                status = "accepted" if (accept and responded is not None) else ("declined" if responded else "expired")
                offer_rows.append(
                    {
                        "offer_id": offer_id,
                        "shift_id": s,
                        "worker_id": int(w) + 1,
                        "wave": wave,
                        "status": status,
                        "offered_at": sent,
                        "responded_at": responded,
                    }
                )
                offer_id += 1
                if status == "accepted":
                    accepted.append(int(w))
            cursor += n_call
        for w in accepted:
            seg = str(worker_segment[w])
            p = show_p[seg] - (0.08 if lead_hours >= 100 else 0.0)
            showed = bool(rng.random() < p)
            att_rows.append(
                {
                    "shift_id": s,
                    "worker_id": w + 1,
                    "showed": showed,
                    "hours": float(length) if showed else 0.0,
                    "quality": float(np.round(rng.uniform(3, 5), 1)) if showed else None,
                }
            )
    ts = pl.Datetime("us", "UTC")
    return {
        "shifts": pl.DataFrame(shift_rows).with_columns(pl.col("start").cast(ts), pl.col("end").cast(ts)),
        "offers": pl.DataFrame(offer_rows, schema_overrides={"responded_at": ts, "offered_at": ts}),
        "attendance": pl.DataFrame(
            att_rows,
            schema={
                "shift_id": pl.Int64,
                "worker_id": pl.Int64,
                "showed": pl.Boolean,
                "hours": pl.Float64,
                "quality": pl.Float64,
            },
        ),
        "workers": pl.DataFrame(
            {
                "worker_id": np.arange(1, workers + 1, dtype=np.int64),
                "segment": worker_segment,
                "district": worker_district,
            }
        ),
    }


def generate_schedule_and_reviews(
    visits: pl.DataFrame, *, seed: int = 0, review_share: float = 0.08
) -> dict[str, pl.DataFrame]:
    """``staff_schedule`` (8 h for each staff member and day worked) and ``reviews`` for some visits."""
    rng = np.random.default_rng(seed)
    schedule = (
        visits.select("staff_id", "branch_id", pl.col("started_at").dt.date().alias("date"))
        .unique()
        .sort("staff_id", "date")
        .with_columns(pl.lit(480, dtype=pl.Int32).alias("scheduled_minutes"))
    )
    done = visits.filter(pl.col("status") == "completed")
    pick = done.filter(pl.Series(rng.random(done.height) < review_share))
    scores = np.clip(np.round(rng.normal(8.6, 1.3, pick.height)), 1, 10)
    reviews = pick.select(
        pl.int_range(1, pick.height + 1, dtype=pl.Int64).alias("review_id"),
        "visit_id",
        "client_id",
        "staff_id",
        "branch_id",
        pl.Series("score", scores),
        (pl.col("started_at") + pl.duration(hours=3)).alias("created_at"),
    )
    return {"staff_schedule": schedule, "reviews": reviews}


def generate_services(services: int = 150, *, seed: int = 0) -> pl.DataFrame:
    """The ``services`` catalogue matching :func:`generate_visits` durations."""
    ids = np.arange(1, services + 1, dtype=np.int64)
    return pl.DataFrame(
        {
            "service_id": ids,
            "name": [f"service {i}" for i in ids],
            "duration_minutes": (30 + 15 * (ids % 5)).astype(np.int32),
            "price": np.round(20 + 180 * np.random.default_rng(seed).random(services) ** 2, 2),
        }
    )


def write_world(folder: str | Path, size: WorldSize | None = None, *, seed: int = 0, years: float = 3.0) -> Path:
    """Generate a complete small world and write it as a warehouse folder."""
    size = size or WorldSize()
    visits, clients = generate_visits(
        clients=size.clients,
        visits=size.visits,
        years=years,
        branches=size.branches,
        services=size.services,
        staff=size.staff,
        seed=seed,
    )
    staffing = generate_staffing(shifts=size.shifts, workers=size.workers, seed=seed)
    extra = generate_schedule_and_reviews(visits, seed=seed)
    return write_warehouse(
        folder,
        visits=visits,
        clients=clients,
        services=generate_services(size.services, seed=seed),
        **staffing,
        **extra,
    )


#: The notebooks' fallback world (CI, or before any export): small enough to run every notebook in seconds.
NOTEBOOK_WORLD = WorldSize(clients=1_500, visits=12_000, branches=3, services=40, staff=24, shifts=300, workers=200)


def write_notebook_world(
    folder: str | Path,
    size: WorldSize = NOTEBOOK_WORLD,
    *,
    seed: int = 0,
    years: float = 2.0,
    end: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    staffing_days: int = 120,
) -> Path:
    """A warehouse for the report notebooks: visits over ``years`` ending at ``end`` (a mild yearly season), and
    staffing over the last ``staffing_days`` of the same window, so headline numbers cover both businesses."""
    start = end - dt.timedelta(days=round(365.25 * years))
    visits, clients = generate_visits(
        clients=size.clients,
        visits=size.visits,
        start=start,
        years=years,
        branches=size.branches,
        services=size.services,
        staff=size.staff,
        seed=seed,
        shape=WorldShape(seasonality=0.3),
    )
    staffing = generate_staffing(
        shifts=size.shifts,
        workers=size.workers,
        start=end - dt.timedelta(days=staffing_days),
        days=staffing_days,
        seed=seed,
    )
    extra = generate_schedule_and_reviews(visits, seed=seed)
    return write_warehouse(
        folder,
        visits=visits,
        clients=clients,
        services=generate_services(size.services, seed=seed),
        **staffing,
        **extra,
    )
