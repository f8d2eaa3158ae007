"""Staffing KPIs: fill rate, no-shows, wasted call-ups, margin, and the fill-rate frontier by wave.

Definitions
-----------
* A shift needs ``headcount`` workers. **accepted** = distinct workers with an accepted offer; **booked** =
  workers in ``attendance``; **showed** = booked workers with ``showed``.
* **fill rate** = min(accepted, headcount) ÷ headcount (did call-ups find enough people?); **show fill
  rate** = min(showed, headcount) ÷ headcount (were the places actually worked?). Aggregates weight shifts
  by headcount: Σ min(·, headcount) ÷ Σ headcount.
* **no-show rate** = booked workers who did not show ÷ booked workers.
* **wasted call-up** = an offer sent after the shift already had ``headcount`` acceptances, or an accepted
  offer beyond ``headcount`` (the worker answered yes and is not needed). Both cost the worker's attention
  and the agency's credibility.
* **lead time** of a booking = shift start − the worker's acceptance, bucketed < 12 h, 12-24 h, 1-3 d, > 3 d.
* **margin** = Σ hours × (bill_rate − pay_rate) over workers who showed.
* The **fill-rate frontier**: after each call-up wave, call-ups sent per needed place versus the fill
  rate reached — how much calling buys how much filling.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from analytics._frames import TableLike, to_polars

LEAD_TIME_BUCKETS = ("< 12h", "12-24h", "1-3d", "> 3d")
NoShowBy = Literal["segment", "district", "weekday", "lead_time"]


def _accepted(offers: pl.DataFrame) -> pl.DataFrame:
    """One accepted offer per (shift, worker) — the earliest, so a double tap is not counted twice."""
    return (
        offers.filter(pl.col("status") == "accepted")
        .sort("responded_at", "offer_id", nulls_last=True)
        .unique(["shift_id", "worker_id"], keep="first", maintain_order=True)
    )


def shift_fill(shifts: TableLike, offers: TableLike, attendance: TableLike) -> pl.DataFrame:
    """Per shift: headcount, offers_sent, accepted, showed, fill_rate, show_fill_rate, wasted_call_ups."""
    s, o, a = to_polars(shifts), to_polars(offers), to_polars(attendance)
    acc = _accepted(o).join(s.select("shift_id", "headcount"), on="shift_id")
    acc = acc.with_columns(
        pl.col("responded_at").rank("ordinal").over("shift_id").alias("nth"),
    )
    filled_at = acc.filter(pl.col("nth") == pl.col("headcount")).select(
        "shift_id", pl.col("responded_at").alias("filled_at")
    )
    extra = acc.filter(pl.col("nth") > pl.col("headcount")).select("offer_id", pl.lit(True).alias("extra"))
    # An offer is wasted once, whether it was sent late, accepted beyond headcount, or both.
    wasted = (
        o.join(filled_at, on="shift_id", how="left")
        .join(extra, on="offer_id", how="left")
        .filter((pl.col("offered_at") > pl.col("filled_at")).fill_null(False) | pl.col("extra").fill_null(False))
        .group_by("shift_id")
        .agg(pl.len().alias("wasted_call_ups"))
    )
    sent = o.group_by("shift_id").agg(pl.len().alias("offers_sent"))
    accepted = acc.group_by("shift_id").agg(pl.len().alias("accepted"))
    showed = a.group_by("shift_id").agg(pl.col("showed").sum().alias("showed"), pl.len().alias("booked"))
    out = s.select("shift_id", "headcount")
    for part in (sent, accepted, showed, wasted):
        out = out.join(part, on="shift_id", how="left")
    counts = ["offers_sent", "accepted", "showed", "booked", "wasted_call_ups"]
    out = out.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in counts)
    return out.with_columns(
        (pl.min_horizontal("accepted", "headcount") / pl.col("headcount")).alias("fill_rate"),
        (pl.min_horizontal("showed", "headcount") / pl.col("headcount")).alias("show_fill_rate"),
    ).sort("shift_id")


def fill_rate(
    shifts: TableLike, offers: TableLike, attendance: TableLike, *, by: str | None = None, tz: str = "UTC"
) -> pl.DataFrame:
    """Headcount-weighted fill rate, show fill rate, no-show rate and wasted call-ups, overall or ``by``.

    ``by`` is a shifts column (``district``, ``site_id``, ``client_id``, ...) or ``"weekday"`` (of the shift
    start in ``tz``; 1 = Monday).
    """
    s = to_polars(shifts)
    per = shift_fill(s, offers, attendance)
    keys: list[str] = []
    if by == "weekday":
        s = s.with_columns(pl.col("start").dt.convert_time_zone(tz).dt.weekday().alias("weekday"))
        keys = ["weekday"]
    elif by is not None:
        keys = [by]
    per = per.join(s.select("shift_id", *keys), on="shift_id")
    agg = [
        pl.len().alias("shifts"),
        pl.col("headcount").sum().alias("headcount"),
        (pl.min_horizontal("accepted", "headcount").sum() / pl.col("headcount").sum()).alias("fill_rate"),
        (pl.min_horizontal("showed", "headcount").sum() / pl.col("headcount").sum()).alias("show_fill_rate"),
        ((pl.col("booked") - pl.col("showed")).sum() / pl.col("booked").sum()).alias("no_show_rate"),
        pl.col("offers_sent").sum().alias("offers_sent"),
        pl.col("wasted_call_ups").sum().alias("wasted_call_ups"),
    ]
    return per.group_by(keys).agg(agg).sort(keys) if keys else per.select(agg)


def _lead_bucket(hours: pl.Expr) -> pl.Expr:
    return (
        pl.when(hours < 12)
        .then(pl.lit(LEAD_TIME_BUCKETS[0]))
        .when(hours < 24)
        .then(pl.lit(LEAD_TIME_BUCKETS[1]))
        .when(hours < 72)
        .then(pl.lit(LEAD_TIME_BUCKETS[2]))
        .when(hours.is_not_null())
        .then(pl.lit(LEAD_TIME_BUCKETS[3]))
        .otherwise(None)
    )


def bookings(
    shifts: TableLike,
    offers: TableLike,
    attendance: TableLike,
    workers: TableLike | None = None,
    *,
    tz: str = "UTC",
) -> pl.DataFrame:
    """One row per booked worker with segment, district, weekday, lead time and whether they showed."""
    s, a = to_polars(shifts), to_polars(attendance)
    acc = _accepted(to_polars(offers)).select("shift_id", "worker_id", "responded_at")
    shift_cols = ["shift_id", "start"] + (["district"] if "district" in s.columns else [])
    out = (
        a.join(s.select(shift_cols), on="shift_id", how="left")
        .join(acc, on=["shift_id", "worker_id"], how="left")
        .with_columns(
            pl.col("start").dt.convert_time_zone(tz).dt.weekday().alias("weekday"),
            ((pl.col("start") - pl.col("responded_at")).dt.total_seconds() / 3600).alias("lead_hours"),
        )
        .with_columns(_lead_bucket(pl.col("lead_hours")).alias("lead_time"))
    )
    if workers is not None:
        w = to_polars(workers).select("worker_id", "segment", *(["district"] if "district" not in out.columns else []))
        out = out.join(w, on="worker_id", how="left")
    return out


def no_show_rates(
    shifts: TableLike,
    offers: TableLike,
    attendance: TableLike,
    workers: TableLike | None = None,
    *,
    by: NoShowBy = "segment",
    tz: str = "UTC",
) -> pl.DataFrame:
    """No-show rate by worker ``segment`` (needs ``workers``), shift ``district``, ``weekday`` or ``lead_time``."""
    b = bookings(shifts, offers, attendance, workers, tz=tz)
    if by not in b.columns:
        raise ValueError(f"no column {by!r}: pass the workers table for segments, or a district on shifts")
    return (
        b.group_by(by)
        .agg(
            pl.len().alias("booked"),
            (~pl.col("showed")).sum().alias("no_shows"),
            (~pl.col("showed")).mean().alias("no_show_rate"),
        )
        .sort(by)
    )


def margin(shifts: TableLike, attendance: TableLike, *, by: Literal["order", "client"] = "order") -> pl.DataFrame:
    """Revenue, cost and margin (bill − pay) × hours over workers who showed, per order or per client."""
    key = {"order": "order_id", "client": "client_id"}[by]
    s = to_polars(shifts)
    if key not in s.columns:
        raise ValueError(f"shifts has no {key!r} column (optional in the schema; needed for margin by {by})")
    worked = to_polars(attendance).filter(pl.col("showed")).join(s, on="shift_id")
    return (
        worked.group_by(key)
        .agg(
            pl.col("hours").sum().alias("hours"),
            (pl.col("hours") * pl.col("bill_rate")).sum().alias("revenue"),
            (pl.col("hours") * pl.col("pay_rate")).sum().alias("cost"),
        )
        .with_columns((pl.col("revenue") - pl.col("cost")).alias("margin"))
        .with_columns((pl.col("margin") / pl.col("revenue")).alias("margin_share"))
        .sort(key)
    )


def fill_rate_frontier(shifts: TableLike, offers: TableLike, *, by: str | None = None) -> pl.DataFrame:
    """After each wave: call-ups per needed place so far and the fill rate reached (headcount-weighted).

    Rows are (``by`` group,) wave, call_ups_per_place, fill_rate; the curve flattens where more calling
    stops buying more filling.
    """
    s, o = to_polars(shifts), to_polars(offers)
    keys = [by] if by else []
    max_wave = int(o.select(pl.col("wave").max().fill_null(0).cast(pl.Int64)).item()) if o.height else 0
    acc = _accepted(o)
    rows = []
    for wave in range(1, max_wave + 1):
        sent = o.filter(pl.col("wave") <= wave).group_by("shift_id").agg(pl.len().alias("sent"))
        got = acc.filter(pl.col("wave") <= wave).group_by("shift_id").agg(pl.len().alias("accepted"))
        per = (
            s.select("shift_id", "headcount", *keys)
            .join(sent, on="shift_id", how="left")
            .join(got, on="shift_id", how="left")
            .with_columns(pl.col("sent", "accepted").fill_null(0))
        )
        agg = [
            (pl.col("sent").sum() / pl.col("headcount").sum()).alias("call_ups_per_place"),
            (pl.min_horizontal("accepted", "headcount").sum() / pl.col("headcount").sum()).alias("fill_rate"),
        ]
        part = per.group_by(keys).agg(agg) if keys else per.select(agg)
        rows.append(part.with_columns(pl.lit(wave).alias("wave")))
    if not rows:
        return pl.DataFrame(schema={"wave": pl.Int32, "call_ups_per_place": pl.Float64, "fill_rate": pl.Float64})
    return pl.concat(rows).select(*keys, "wave", "call_ups_per_place", "fill_rate").sort(*keys, "wave")
