"""The churn summary's dense plan: distinct purchase days per customer without a (customer, day) hash table.

The grouped SQL plan (``churn._summary_grouped_sql``) collapses the rows to distinct (customer, day) pairs in
one hash aggregate: about 9 pairs per customer, 90M entries at 100M visits. That table outgrows the CPU caches
and its cost per row grows with it (ADR 0032, session-8 addendum: 2.5 → 34 CPU s for 10M → 100M visits). Distinct
pairs of different customers never collide, so the pairs can be de-duplicated a slice of customers at a time:

1. DuckDB streams ``(customer - lo_id, day - first_day)`` in Arrow batches; each batch is packed into one int64
   key per row (customer in the high bits, day in the low 16) and scattered by customer slice (a stable radix
   sort on the slice number, then one cut per slice).
2. Each slice (about ``SLICE_ROWS`` rows, whatever the data's size) is sorted and de-duplicated on its own: the
   pairs of a slice fit the caches, so the cost per row stays flat as the data grows. In the sorted keys a
   customer's pairs are contiguous and ordered by day, so the first is the first purchase day and the last of
   the calibration period the last one there.
3. The counts, first and last days land in arrays indexed by ``customer - lo_id``; the summary is read off them.

Integer customer ids only, no NULL id, ids spread over at most ``MAX_IDS`` slots (and at most ``SLACK`` slots per
row), and fewer than 65,536 days of history; without a ``monetary_col`` (the grouped plan keeps that). Otherwise
:func:`eligible` says no and the grouped plan runs. The answers are the grouped plan's, value for value
(``tests/analytics/test_churn_summary.py``).
"""

# ruff: noqa: S608 — SQL is assembled from identifiers checked by check_ident and integer literals.

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from analytics._frames import query

#: Rows per customer slice: the slice's keys (8 bytes a row) are sorted in the caches' reach.
SLICE_ROWS = 1 << 21
#: Rows per Arrow batch streamed from DuckDB.
BATCH_ROWS = 1 << 20
#: Customer-id slots the per-customer arrays may span (four int32 arrays: 512 MB at the cap) ...
MAX_IDS = 1 << 25
#: ... and at most this many slots per row read (very sparse ids would waste the arrays).
SLACK = 8
_DAY_BITS = 16


@dataclass(frozen=True)
class Ids:
    """What the first pass learned about the customer column."""

    lo: int
    hi: int
    nulls: int
    rows: int


def eligible(ids: Ids | None, day_span: int, monetary_col: str | None) -> bool:
    if ids is None or monetary_col is not None or ids.nulls or ids.rows == 0:
        return False
    slots = ids.hi - ids.lo + 1
    return slots <= MAX_IDS and slots <= SLACK * ids.rows + (1 << 16) and 0 <= day_span < (1 << _DAY_BITS) - 1


def _slices(slots: int, rows: int) -> int:
    """The shift that cuts ``slots`` customer ids into slices of about ``SLICE_ROWS`` rows (at most 65,536)."""
    wanted = max(1, math.ceil(rows / SLICE_ROWS))
    shift = max(0, math.ceil(math.log2(slots / wanted))) if slots > wanted else 0
    while ((slots - 1) >> shift) + 1 > 0xFFFF:
        shift += 1
    return shift


def summary_dense(
    rel: duckdb.DuckDBPyRelation,
    *,
    cust: str,
    day: str,
    keep: str,
    ids: Ids,
    first_day: int,
    cal: int,
    obs: int,
    unit: float,
    holdout: bool,
) -> pl.DataFrame:
    """The summary frame the grouped plan returns (same columns, types and values; rows ordered by customer)."""
    slots = ids.hi - ids.lo + 1
    shift = _slices(slots, ids.rows)
    n_slices = ((slots - 1) >> shift) + 1
    pieces: list[list[np.ndarray]] = [[] for _ in range(n_slices)]
    src = query(
        rel,
        "t",
        f'SELECT CAST("{cust}" - {ids.lo} AS BIGINT) AS c, CAST({day} - {first_day} AS BIGINT) AS d '
        f"FROM t WHERE {keep}",
    )
    for batch in src.to_arrow_reader(BATCH_ROWS):
        c = batch.column(0).to_numpy()
        key = c << _DAY_BITS
        key |= batch.column(1).to_numpy()
        part = (c >> shift).astype(np.uint16)
        key = key[np.argsort(part, kind="stable")]  # a radix sort: 16-bit keys
        ends = np.cumsum(np.bincount(part, minlength=n_slices))
        start = 0
        for i, end in enumerate(ends.tolist()):
            if end > start:
                pieces[i].append(key[start:end])
            start = end
    n_cal = np.zeros(slots, np.int64)
    n_hold = np.zeros(slots, np.int64)
    first = np.zeros(slots, np.int64)
    last_cal = np.zeros(slots, np.int64)
    cal_off = cal - first_day
    for i in range(n_slices):
        if not pieces[i]:
            continue
        keys = np.concatenate(pieces[i])
        pieces[i] = []
        keys.sort()
        new = np.empty(len(keys), dtype=bool)
        new[0] = True
        np.not_equal(keys[1:], keys[:-1], out=new[1:])
        keys = keys[new]  # distinct (customer, day) pairs, by customer then day
        who, when = keys >> _DAY_BITS, keys & ((1 << _DAY_BITS) - 1)
        del keys, new
        starts = np.empty(len(who), dtype=bool)
        starts[0] = True
        np.not_equal(who[1:], who[:-1], out=starts[1:])
        first[who[starts]] = when[starts]
        lo, hi = i << shift, min(slots, (i + 1) << shift)
        in_cal = when <= cal_off
        who_cal, when_cal = who[in_cal], when[in_cal]
        if len(who_cal):
            n_cal[lo:hi] += np.bincount(who_cal - lo, minlength=hi - lo)
            ends_cal = np.empty(len(who_cal), dtype=bool)
            ends_cal[-1] = True
            np.not_equal(who_cal[1:], who_cal[:-1], out=ends_cal[:-1])
            last_cal[who_cal[ends_cal]] = when_cal[ends_cal]
        if holdout:
            n_hold[lo:hi] += np.bincount(who[~in_cal] - lo, minlength=hi - lo)
    # A customer is in the table when their first purchase is by the calibration end (the plans' HAVING).
    present = np.flatnonzero(n_cal)
    dtype = query(rel, "t", f'SELECT "{cust}" FROM t LIMIT 0').pl().schema[cust]
    columns: dict[str, pl.Series] = {
        cust: pl.Series(cust, present + ids.lo).cast(dtype),
        "frequency": pl.Series("frequency", n_cal[present] - 1),
        "recency": pl.Series("recency", (last_cal[present] - first[present]).astype(np.float64) / unit),
        "T": pl.Series("T", (cal_off - first[present]).astype(np.float64) / unit),
    }
    if holdout:
        columns["frequency_holdout"] = pl.Series("frequency_holdout", n_hold[present])
        columns["duration_holdout"] = pl.Series("duration_holdout", np.full(len(present), (obs - cal) / unit))
    return pl.DataFrame(columns)
