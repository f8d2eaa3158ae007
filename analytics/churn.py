"""Churn and lifetime value: BG/NBD, MBG/NBD (Pareto/NBD in analytics.pareto), back-tested churn flags, CLV.

Customer summary (the BG/NBD literature's x, t_x, T)
----------------------------------------------------
Purchases on the same local day count as one. With ``period="W"`` a day is 1/7 of a unit:

* ``frequency`` — repeat purchase days: distinct purchase days in the window minus one;
* ``recency`` — from the first purchase day to the last purchase day (0 without repeats);
* ``T`` — from the first purchase day to the end of the window.

The window ends at ``calibration_end`` when given (the holdout then runs to ``observation_end``), otherwise at
``observation_end``. Ends are *inclusive local days*: a purchase on ``calibration_end`` is in calibration.

Models
------
* **BG/NBD** (Fader, Hardie & Lee 2005): Poisson purchases with rate λ ~ Gamma(r, α); after each *repeat*
  purchase the customer drops out with probability p ~ Beta(a, b). Nobody can drop out before a repeat
  purchase, so P(alive) = 1 for every customer with frequency 0 — useless for flagging one-visit clients.
* **MBG/NBD** (Batislam, Denizel & Filiztekin 2007): the same, but a drop-out coin is also tossed right after
  the first purchase, so P(alive) falls with time for one-visit clients too.

Both are fitted by maximum likelihood on log-parameters (positivity without constraints) with the
per-customer likelihood assembled in log space (``gammaln``/``betaln`` and a two-term log-sum-exp),
so large frequencies and long windows neither overflow nor underflow. Identical (x, t_x, T) rows are
collapsed with weights first, which makes fitting on a million customers cheap.

Churn flags
-----------
:func:`churn_flags` answers "who makes no purchase in the next ``horizon_days`` after ``as_of``" in one
call. Its default, ``method="auto"``, chooses the rule on the business's own history (ADR 0026): every rule
family — an inactivity window (days), an inactivity multiple of the client's mean interval, P(alive) under
BG/NBD, MBG/NBD or Pareto/NBD, the MBG/NBD probability of no purchase over the horizon — is back-tested on
an earlier split with the same holdout length: the same season a year back when the history allows (each
family's window or threshold tuned there, the best back-test accuracy wins), else the split right before
``as_of`` (another season: the fixed methods at their textbook parameters are ranked instead). The result
reports the winner's back-test accuracy, precision and recall beside the majority-class baseline.
Too little history for a back-test falls back to the literature's 13-week window and says so. The fixed
methods of :data:`CHURN_METHODS` remain available by name; :func:`validate_churn_methods` scores all of them
(and "auto") against "no purchase in the holdout".

CLV
---
:func:`clv`: expected purchases month by month under any of the three models, discounted at a yearly rate,
times the Gamma-Gamma expected value per purchase (Fader, Hardie & Lee 2005, "RFM and CLV").
"""

# ruff: noqa: S608 — SQL is assembled from identifiers checked by check_ident/check_tz and typed literals.

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from analytics import _summary_dense
from analytics._frames import (
    INTEGER_TYPES,
    TableLike,
    as_relation,
    bound_sql,
    check_ident,
    column_type,
    local_time_sql,
    query,
)
from analytics._lazy import LazyModule
from analytics.cohorts import PURCHASE_STATUS
from analytics.pareto import ParetoNBDFit, _nb_pmf, fit_pareto_nbd

if TYPE_CHECKING:
    from scipy import optimize, special
else:  # scipy loads on the first model fit, not on `import analytics` (ADR 0027)
    optimize = LazyModule("scipy.optimize")
    special = LazyModule("scipy.special")

PERIOD_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}
SummaryPlan = Literal["auto", "dense", "grouped", "bitstring"]
FloatArray = np.ndarray


def purchases(visits: TableLike) -> TableLike:
    """Only completed visits: the transactions the churn models see."""
    if isinstance(visits, pl.DataFrame | pl.LazyFrame):
        return visits.filter(pl.col("status") == PURCHASE_STATUS)
    return visits.filter(f"status = '{PURCHASE_STATUS}'")


def _as_date(value: dt.date | dt.datetime, tz: str) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            from zoneinfo import ZoneInfo

            value = value.astimezone(ZoneInfo(tz))
        return value.date()
    return value


def summarize(
    transactions: TableLike,
    customer_col: str,
    time_col: str,
    period: str = "W",
    calibration_end: dt.date | dt.datetime | None = None,
    observation_end: dt.date | dt.datetime | None = None,
    *,
    monetary_col: str | None = None,
    tz: str = "UTC",
    plan: SummaryPlan = "auto",
) -> pl.DataFrame:
    """Per customer: frequency, recency, T (in ``period`` units) and, with a calibration end, holdout counts.

    ``period`` is ``"D"``, ``"W"`` (default) or ``"M"`` (365.25 / 12 days). ``observation_end`` defaults to
    the last purchase day. With ``calibration_end``: columns ``frequency_holdout`` (distinct purchase days
    after ``calibration_end`` up to ``observation_end``) and ``duration_holdout``; customers whose first
    purchase is after ``calibration_end`` are not in the table. With ``monetary_col``: ``monetary_value``, the
    mean value of repeat purchase days (same-day amounts summed; 0 without repeats), as Gamma-Gamma expects.
    ``plan`` picks the plan (ADR 0032): ``"auto"`` (default) is the dense plan (``analytics._summary_dense``:
    distinct days counted a slice of customers at a time, its cost per row flat as the data grows) where it
    applies (integer customer ids, none NULL and not too sparse, no ``monetary_col``), else the grouped SQL
    plan; ``"dense"`` insists (ValueError where it does not apply), ``"grouped"`` forces the SQL plan, and
    ``"bitstring"`` (per-customer day bitmaps, no ``monetary_col``) stays selectable so the benchmark can
    re-measure every plan. All give identical answers.
    """
    if period not in PERIOD_DAYS:
        raise ValueError(f"period must be one of {sorted(PERIOD_DAYS)}")
    if plan not in ("auto", "dense", "grouped", "bitstring"):
        raise ValueError("plan must be 'auto', 'dense', 'grouped' or 'bitstring'")
    unit = PERIOD_DAYS[period]
    cust = check_ident(customer_col)
    check_ident(time_col)
    rel = as_relation(transactions)
    # Local calendar day as an integer (days since 1970-01-01): cheap to group, compare and subtract.
    day = f"CAST(CAST({local_time_sql(rel, time_col, tz)} AS DATE) - DATE '1970-01-01' AS INTEGER)"
    # The dense plan needs the id range too: read in the same pass as the first and last purchase.
    integer_ids = column_type(rel, customer_col).upper() in INTEGER_TYPES
    id_stats = f', min("{cust}"), max("{cust}"), count(*) - count("{cust}"), count(*)' if integer_ids else ""
    first_last = query(
        rel,
        "t",
        f"""SELECT {local_time_sql(rel, time_col, tz, expr=f'min("{time_col}")')},
                   {local_time_sql(rel, time_col, tz, expr=f'max("{time_col}")')}{id_stats} FROM t""",
    ).fetchall()[0]
    if first_last[0] is None:
        raise ValueError("no transactions")
    # (every id NULL: min and max are NULL, and the NULL count rules the dense plan out)
    ids = _summary_dense.Ids(*(0 if v is None else int(v) for v in first_last[2:6])) if integer_ids else None
    first_date, last_date = first_last[0].date(), first_last[1].date()
    obs = last_date if observation_end is None else _as_date(observation_end, tz)
    cal = _as_date(calibration_end, tz) if calibration_end is not None else obs
    if cal > obs:
        raise ValueError("calibration_end is after observation_end")
    epoch = dt.date(1970, 1, 1)
    cal_i, obs_i = (cal - epoch).days, (obs - epoch).days
    lo, hi = (first_date - epoch).days, min((last_date - epoch).days, obs_i)
    # Rows after the observation end are dropped on the raw column (Parquet statistics can skip them).
    keep = f'"{time_col}" < {bound_sql(rel, time_col, obs + dt.timedelta(days=1), tz)}'
    holdout = calibration_end is not None
    bitstring_ok = monetary_col is None and 0 <= hi - lo < BITSTRING_MAX_DAYS
    if plan == "bitstring" and not bitstring_ok:
        raise ValueError(
            f"the bitstring plan needs no monetary_col and fewer than {BITSTRING_MAX_DAYS} days of history"
        )
    dense_ok = _summary_dense.eligible(ids, (last_date - first_date).days, monetary_col)
    if plan == "dense" and not dense_ok:
        raise ValueError(
            "the dense plan needs integer customer ids (no NULL, not too sparse), no monetary_col and fewer "
            "than 65,535 days of history"
        )
    if plan in ("auto", "dense") and dense_ok and ids is not None:
        out = _summary_dense.summary_dense(
            rel, cust=cust, day=day, keep=keep, ids=ids, first_day=lo, cal=cal_i, obs=obs_i, unit=unit, holdout=holdout
        )
    elif plan == "bitstring":
        out = query(rel, "t", _summary_bitstring_sql(cust, day, keep, lo, hi, cal_i, obs_i, unit, holdout)).pl()
    else:
        out = query(rel, "t", _summary_grouped_sql(cust, day, keep, cal_i, obs_i, unit, holdout, monetary_col)).pl()
    return out.with_columns(
        pl.col("frequency").cast(pl.Int64), pl.col("recency").cast(pl.Float64), pl.col("T").cast(pl.Float64)
    )


# The bitstring plan's per-customer bitmaps take span / 8 bytes per customer and window; above this many
# days between the first and last purchase it is refused.
BITSTRING_MAX_DAYS = 8192


def _summary_bitstring_sql(
    cust: str, day: str, keep: str, lo: int, hi: int, cal: int, obs: int, unit: float, holdout: bool
) -> str:
    """One pass grouped by customer: distinct purchase days are the set bits of a per-customer day bitmap.

    Groups by customer alone (1M groups) instead of by (customer, day) (9M groups), but every customer
    carries a bitmap of the whole span; measured slower than the grouped plan at 10M visits (ADR 0032).
    bit_count of the bitmap is the number of distinct days.
    """
    days = f"bitstring_agg(day, {lo}, {hi})"
    extra = (
        f""", CAST(coalesce(bit_count({days} FILTER (WHERE day > {cal})), 0) AS BIGINT) AS frequency_holdout,
               CAST({(obs - cal) / unit!r} AS DOUBLE) AS duration_holdout"""
        if holdout
        else ""
    )
    return f"""
    SELECT cust AS "{cust}",
           bit_count({days} FILTER (WHERE day <= {cal})) - 1 AS frequency,
           (max(day) FILTER (WHERE day <= {cal}) - min(day)) / CAST({unit!r} AS DOUBLE) AS recency,
           ({cal} - min(day)) / CAST({unit!r} AS DOUBLE) AS T{extra}
    FROM (SELECT "{cust}" AS cust, {day} AS day FROM t WHERE {keep})
    GROUP BY cust
    HAVING min(day) <= {cal}
    """


def _summary_grouped_sql(
    cust: str, day: str, keep: str, cal: int, obs: int, unit: float, holdout: bool, monetary_col: str | None
) -> str:
    """The default plan: collapse to (customer, day), then one aggregate per customer.

    Calibration and holdout are FILTERed columns of that one aggregate: no second pass, no join. A
    customer's first purchase day is the overall minimum (``HAVING`` keeps those who bought by ``cal``).
    """
    value = f', sum("{check_ident(monetary_col)}") AS value' if monetary_col else ""
    in_cal = f" FILTER (WHERE day <= {cal})" if holdout else ""  # without a holdout every row is in it
    n_cal = f"count(*){in_cal}"
    money = (
        f""", CASE WHEN {n_cal} > 1 THEN (sum(value){in_cal} - arg_min(value, day)) / ({n_cal} - 1)
                   ELSE 0 END AS monetary_value"""
        if monetary_col
        else ""
    )
    extra = (
        f""", CAST(count(*) FILTER (WHERE day > {cal}) AS BIGINT) AS frequency_holdout,
               CAST({(obs - cal) / unit!r} AS DOUBLE) AS duration_holdout"""
        if holdout
        else ""
    )
    return f"""
    WITH days AS (   -- same-day purchases collapse to one purchase day
        SELECT "{cust}" AS cust, {day} AS day{value} FROM t WHERE {keep} GROUP BY ALL
    )
    SELECT cust AS "{cust}",
           {n_cal} - 1 AS frequency,
           (max(day){in_cal} - min(day)) / CAST({unit!r} AS DOUBLE) AS recency,
           ({cal} - min(day)) / CAST({unit!r} AS DOUBLE) AS T{money}{extra}
    FROM days
    GROUP BY cust
    HAVING min(day) <= {cal}
    """


# --------------------------------------------------------------------------------------------- likelihoods


def _collapse(summary: pl.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Unique (x, t_x, T) rows with their counts: the likelihood only depends on these."""
    # Sorted: group_by's order is arbitrary, and a different summation order would move the optimum in
    # the last digits (fits must be reproducible).
    g = summary.group_by("frequency", "recency", "T").agg(pl.len().alias("w")).sort("frequency", "recency", "T")
    return (
        g["frequency"].to_numpy().astype(float),
        g["recency"].to_numpy().astype(float),
        g["T"].to_numpy().astype(float),
        g["w"].to_numpy().astype(float),
    )


def _bgnbd_ll(
    r: float,
    alpha: float,
    a: float,
    b: float,
    xu: FloatArray,
    inv: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    # Terms that depend on x only are computed once per distinct frequency (a few hundred values at most)
    # and gathered: the special functions then cost nothing next to the two logs per customer.
    common = (special.gammaln(r + xu) - special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b))[inv]
    alive_c = special.betaln(a, b + xu)[inv]
    # The drop-out term exists only after a repeat purchase; b + x - 1 is guarded so x = 0 stays finite.
    dropped_c = np.where(xu > 0, special.betaln(a + 1, b + np.maximum(xu - 1, 0)), -np.inf)[inv]
    rx = r + xu[inv]
    still_alive = alive_c - rx * np.log(alpha + T)
    dropped = dropped_c - rx * np.log(alpha + t_x)
    # log(e^u + e^v) without overflow: the two-term log-sum-exp.
    return np.asarray(common + np.logaddexp(still_alive, dropped))


def _mbgnbd_ll(
    r: float,
    alpha: float,
    a: float,
    b: float,
    xu: FloatArray,
    inv: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    common = (special.gammaln(r + xu) - special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b))[inv]
    alive_c = special.betaln(a, b + xu + 1)[inv]
    dropped_c = special.betaln(a + 1, b + xu)[inv]
    rx = r + xu[inv]
    return np.asarray(common + np.logaddexp(alive_c - rx * np.log(alpha + T), dropped_c - rx * np.log(alpha + t_x)))


def _unique_x(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    xu, inv = np.unique(np.asarray(x, float), return_inverse=True)
    return xu, inv.reshape(-1)


def bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """Per-customer log-likelihood of BG/NBD (Fader, Hardie & Lee 2005, eq. 6), in log space."""
    xu, inv = _unique_x(x)
    t_x, T = np.broadcast_arrays(np.asarray(t_x, float), np.asarray(T, float), inv)[:2]
    return _bgnbd_ll(r, alpha, a, b, xu, inv, t_x, T)


def mbgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """Per-customer log-likelihood of MBG/NBD (Batislam et al. 2007), in log space."""
    xu, inv = _unique_x(x)
    t_x, T = np.broadcast_arrays(np.asarray(t_x, float), np.asarray(T, float), inv)[:2]
    return _mbgnbd_ll(r, alpha, a, b, xu, inv, t_x, T)


def _fit(
    ll: Callable[..., FloatArray],
    summary: pl.DataFrame,
    penalizer: float,
    start: Sequence[float] | None = None,
) -> tuple[np.ndarray, float, bool]:
    x, t_x, T, w = _collapse(summary)
    if w.sum() == 0:
        raise ValueError("empty summary")
    n = w.sum()
    xu, inv = _unique_x(x)
    # np.sum, not np.dot: a BLAS call per evaluation spun threads and cost 100x on a busy machine.

    def objective(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        total = float(np.sum(w * ll(r, alpha, a, b, xu, inv, t_x, T)))
        if not np.isfinite(total):
            return 1e100
        # Mean (not total) negative log-likelihood keeps the optimiser's tolerances independent of n.
        return -total / n + penalizer * float(np.sum(np.exp(log_params) ** 2))

    best: optimize.OptimizeResult | None = None
    scale = max(float(np.average(T, weights=w)), 1e-3)
    # Two starts: the unit point and one with α on the scale of the observation window; a warm start
    # (parameters fitted on a neighbouring window, as the churn back-test does) replaces both.
    starts = (
        [np.log(np.clip(np.asarray(start, float), 1e-5, 1e5))]
        if start is not None
        else [np.zeros(4), np.array([0.0, np.log(scale), 0.0, 0.0])]
    )
    for x0 in starts:
        res = optimize.minimize(objective, x0, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 4, options={"maxiter": 2000})
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    params = np.exp(best.x)
    log_lik = float(np.sum(w * ll(*params, xu, inv, t_x, T)))
    return params, log_lik, bool(best.success)


def _off_one(a: float) -> float:
    """a, moved off 1 by 1e-9: the expectations' (a - 1) factors cancel there (a removable singularity)."""
    return a + 1e-9 if abs(a - 1.0) < 1e-9 else a


@dataclass(frozen=True)
class BGNBDFit:
    """Fitted BG/NBD parameters; methods score customers from their (frequency, recency, T)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int = 0
    converged: bool = True

    def _log_odds_dead(self, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
        x = np.asarray(frequency, float)
        t_x, T_ = np.asarray(recency, float), np.asarray(T, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = (
                np.log(self.a)
                - np.log(np.maximum(self.b + x - 1, 1e-300))
                + (self.r + x) * (np.log(self.alpha + T_) - np.log(self.alpha + t_x))
            )
        return np.where(x > 0, lo, -np.inf)

    def p_alive(self, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
        """P(still active at T | history); exactly 1 without a repeat purchase (a BG/NBD property)."""
        return np.asarray(special.expit(-self._log_odds_dead(frequency, recency, T)))

    def expected_purchases(self, t: float, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
        """Expected purchases in (T, T + t] given the history (eq. 10).

        Finite for every a > 0 (the hypergeometric factor changes sign with a - 1); a = 1 exactly is a
        removable singularity, stepped over by 1e-9. With the CDNOW estimates of Fader, Hardie & Lee
        (2005), a = 0.793 < 1, this gives the paper's 1.226 (tests/analytics/test_pareto.py).
        """
        x = np.asarray(frequency, float)
        T_ = np.asarray(T, float)
        r, alpha, a, b = self.r, self.alpha, _off_one(self.a), self.b
        z = t / (alpha + T_ + t)
        tail = np.exp((r + x) * (np.log(alpha + T_) - np.log(alpha + T_ + t)))
        num = (a + b + x - 1) / (a - 1) * (1 - tail * special.hyp2f1(r + x, b + x, a + b + x - 1, z))
        return np.asarray(num * self.p_alive(frequency, recency, T))

    def prob_no_purchase(self, t: float, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
        """P(no purchase in (T, T + t]): dead, or alive with a Poisson silence (λ | alive ~ Γ(r+x, α+T))."""
        x = np.asarray(frequency, float)
        T_ = np.asarray(T, float)
        alive = self.p_alive(frequency, recency, T)
        silent = np.exp((self.r + x) * (np.log(self.alpha + T_) - np.log(self.alpha + T_ + t)))
        return np.asarray(1 - alive + alive * silent)

    def prob_purchases(self, x: int, t: FloatArray) -> FloatArray:
        """P(X(t) = x): x repeat purchases in (0, t] for a new customer (FHL 2005, eq. 8).

        Alive after x purchases with P = E[(1-p)^x] and NB(x) purchases, or dropped right after the x-th
        (x ≥ 1) with E[p (1-p)^(x-1)] having had at least x purchase opportunities.
        """
        return self._prob_purchases(x, t, alive_b=self.b + x, dead=(self.a + 1, self.b + x - 1) if x > 0 else None)

    def _prob_purchases(self, x: int, t: FloatArray, *, alive_b: float, dead: tuple[float, float] | None) -> FloatArray:
        t = np.asarray(t, float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        nb = _nb_pmf(x, r, alpha, t)
        out = np.exp(special.betaln(a, alive_b) - special.betaln(a, b)) * nb
        if dead is not None:
            # P(N(t) ≥ x) = 1 - Σ_{j<x} NB(j): the negative binomial survival function.
            at_least = special.betainc(x, r, t / (alpha + t)) if x > 0 else np.ones_like(t)
            out = out + np.exp(special.betaln(*dead) - special.betaln(a, b)) * at_least
        return np.asarray(out)

    def expected_purchases_new(self, t: float) -> float:
        """Expected purchases of a new customer in (0, t] (eq. 9)."""
        r, alpha, a, b = self.r, self.alpha, _off_one(self.a), self.b
        z = t / (alpha + t)
        return float((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, z)))


@dataclass(frozen=True)
class MBGNBDFit(BGNBDFit):
    """Fitted MBG/NBD parameters: as :class:`BGNBDFit`, with drop-out possible after the first purchase."""

    def _log_odds_dead(self, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
        x = np.asarray(frequency, float)
        t_x, T_ = np.asarray(recency, float), np.asarray(T, float)
        return np.asarray(
            np.log(self.a) - np.log(self.b + x) + (self.r + x) * (np.log(self.alpha + T_) - np.log(self.alpha + t_x))
        )

    def expected_purchases(self, t: float, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
        """Expected purchases in (T, T + t]: BG/NBD's formula with the posterior Beta(a, b + x + 1)."""
        x = np.asarray(frequency, float)
        T_ = np.asarray(T, float)
        r, alpha, a, b = self.r, self.alpha, _off_one(self.a), self.b
        z = t / (alpha + T_ + t)
        tail = np.exp((r + x) * (np.log(alpha + T_) - np.log(alpha + T_ + t)))
        num = (a + b + x) / (a - 1) * (1 - tail * special.hyp2f1(r + x, b + x + 1, a + b + x, z))
        return np.asarray(num * self.p_alive(frequency, recency, T))

    def prob_purchases(self, x: int, t: FloatArray) -> FloatArray:
        """P(X(t) = x) for a new customer: alive through x + 1 coins (one at time 0), or dropped after the
        x-th purchase (the 0-th: at time 0) having had at least x purchase opportunities."""
        return self._prob_purchases(x, t, alive_b=self.b + x + 1, dead=(self.a + 1, self.b + x))

    def expected_purchases_new(self, t: float) -> float:
        """Expected purchases of a new customer in (0, t]."""
        r, alpha, a, b = self.r, self.alpha, _off_one(self.a), self.b
        z = t / (alpha + t)
        return float(b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b + 1, a + b, z)))


def fit_bgnbd(summary: pl.DataFrame, *, penalizer: float = 0.0, start: Sequence[float] | None = None) -> BGNBDFit:
    """Maximum-likelihood BG/NBD fit on a :func:`summarize` table (columns frequency, recency, T).

    ``start``: optional (r, α, a, b) to start the optimiser from (one start instead of two).
    """
    (r, alpha, a, b), ll, ok = _fit(_bgnbd_ll, summary, penalizer, start)
    return BGNBDFit(float(r), float(alpha), float(a), float(b), ll, summary.height, ok)


def fit_mbgnbd(summary: pl.DataFrame, *, penalizer: float = 0.0, start: Sequence[float] | None = None) -> MBGNBDFit:
    """Maximum-likelihood MBG/NBD fit on a :func:`summarize` table (``start`` as in :func:`fit_bgnbd`)."""
    (r, alpha, a, b), ll, ok = _fit(_mbgnbd_ll, summary, penalizer, start)
    return MBGNBDFit(float(r), float(alpha), float(a), float(b), ll, summary.height, ok)


def _cols(summary: pl.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
    return (
        summary["frequency"].to_numpy().astype(float),
        summary["recency"].to_numpy().astype(float),
        summary["T"].to_numpy().astype(float),
    )


def p_alive(fit: BGNBDFit, summary: pl.DataFrame) -> FloatArray:
    """P(alive) for every row of a :func:`summarize` table under ``fit`` (BG/NBD or MBG/NBD)."""
    return fit.p_alive(*_cols(summary))


def expected_purchases(fit: BGNBDFit, t: float, summary: pl.DataFrame) -> FloatArray:
    """Expected purchases in the next ``t`` period units for every row of a :func:`summarize` table."""
    return fit.expected_purchases(t, *_cols(summary))


# -------------------------------------------------------------------------------------- simulation (tests)


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    T: float | FloatArray = 52.0,
    seed: int = 0,
    modified: bool = False,
) -> pl.DataFrame:
    """Draw (frequency, recency, T) for ``n`` customers from the BG/NBD (or, ``modified``, MBG/NBD) process.

    Exact and vectorised: given N ~ Poisson(λT) events uniform on (0, T], the customer makes the first
    min(N, K) of them, where K is the number of repeat purchases before drop-out (geometric); the x-th of N
    uniform order statistics is Beta(x, N - x + 1).
    """
    rng = np.random.default_rng(seed)
    T_arr = np.broadcast_to(np.asarray(T, float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    # BG/NBD: the coin is tossed after each repeat purchase, so K >= 1; MBG/NBD also tosses at time 0.
    k = rng.geometric(p) - (1 if modified else 0)
    events = rng.poisson(lam * T_arr)
    x = np.minimum(events, k)
    t_x = np.zeros(n)
    pos = x > 0
    t_x[pos] = T_arr[pos] * rng.beta(x[pos], events[pos] - x[pos] + 1)
    return pl.DataFrame({"customer_id": np.arange(n), "frequency": x.astype(np.int64), "recency": t_x, "T": T_arr})


# ------------------------------------------------------------------------------------------------ churn flags

FixedChurnMethod = Literal[
    "bgnbd_p_alive",
    "mbgnbd_p_alive",
    "mbgnbd_no_purchase",
    "pareto_p_alive",
    "inactivity_interval",
    "fixed_window",
    "window_13w",
]
ChurnMethod = Literal[
    "auto",
    "bgnbd_p_alive",
    "mbgnbd_p_alive",
    "mbgnbd_no_purchase",
    "pareto_p_alive",
    "inactivity_interval",
    "fixed_window",
    "window_13w",
]
CHURN_METHODS: tuple[FixedChurnMethod, ...] = (
    "bgnbd_p_alive",
    "mbgnbd_p_alive",
    "mbgnbd_no_purchase",
    "pareto_p_alive",
    "inactivity_interval",
    "fixed_window",
    "window_13w",
)
DEFAULT_CHURN_METHOD: ChurnMethod = "auto"
# Used by "auto" when the history is too short to back-test: the literature's 13-week window (the best
# fixed rule on the public retail data set the v1 default lost on; ADR 0026).
FALLBACK_CHURN_METHOD: FixedChurnMethod = "window_13w"
INTERVAL_MULTIPLIER = 2.0
FIXED_WINDOW_DAYS = 90.0
DEFAULT_HORIZON_DAYS = 91
# A back-test needs at least this many customers in its calibration and at least one horizon of history
# before its calibration end; otherwise "auto" falls back to FALLBACK_CHURN_METHOD.
MIN_BACKTEST_CUSTOMERS = 50

RuleFamily = Literal[
    "inactivity_window",
    "inactivity_interval",
    "bgnbd_p_alive",
    "mbgnbd_p_alive",
    "pareto_p_alive",
    "mbgnbd_no_purchase",
]
# Order matters only for exact ties in back-test accuracy: the simpler rule first.
RULE_FAMILIES: tuple[RuleFamily, ...] = (
    "inactivity_window",
    "inactivity_interval",
    "mbgnbd_no_purchase",
    "mbgnbd_p_alive",
    "pareto_p_alive",
    "bgnbd_p_alive",
)
_PARAM_MEANING: dict[RuleFamily, str] = {
    "inactivity_window": "days without a purchase",
    "inactivity_interval": "x the client's mean interval",
    "bgnbd_p_alive": "P(alive) below",
    "mbgnbd_p_alive": "P(alive) below",
    "pareto_p_alive": "P(alive) below",
    "mbgnbd_no_purchase": "P(no purchase in the horizon) above",
}


@dataclass(frozen=True)
class ChurnRule:
    """A churn rule: a family and its one parameter (a window in days, a multiplier or a threshold).

    ``family`` is one of :data:`RULE_FAMILIES`; flagged = score > cut, where the score is the days since
    the last purchase, the silence in units of the client's mean interval, 1 - P(alive) or P(no purchase
    over the horizon).
    """

    family: RuleFamily
    param: float

    def describe(self) -> str:
        meaning = _PARAM_MEANING[self.family]
        if self.family == "inactivity_window":
            return f"{self.family}: {self.param:g} {meaning}"
        if self.family == "inactivity_interval":
            return f"{self.family}: {self.param:.3g} {meaning}"
        return f"{self.family}: {meaning} {self.param:.3g}"

    @property
    def cut(self) -> float:
        return 1.0 - self.param if self.family.endswith("p_alive") else self.param


FIXED_RULES: dict[FixedChurnMethod, ChurnRule] = {
    "bgnbd_p_alive": ChurnRule("bgnbd_p_alive", 0.5),
    "mbgnbd_p_alive": ChurnRule("mbgnbd_p_alive", 0.5),
    "mbgnbd_no_purchase": ChurnRule("mbgnbd_no_purchase", 0.5),
    "pareto_p_alive": ChurnRule("pareto_p_alive", 0.5),
    "inactivity_interval": ChurnRule("inactivity_interval", INTERVAL_MULTIPLIER),
    "fixed_window": ChurnRule("inactivity_window", FIXED_WINDOW_DAYS),
    "window_13w": ChurnRule("inactivity_window", 91.0),
}


def _interval_ratio(summary: pl.DataFrame, period: str) -> FloatArray:
    """Silence (T - t_x) in units of the client's mean inter-purchase interval (population median if none)."""
    x, t_x, T = _cols(summary)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(x > 0, t_x / np.maximum(x, 1), np.nan)
    fallback = float(np.nanmedian(gap)) if np.isfinite(gap).any() else FIXED_WINDOW_DAYS / PERIOD_DAYS[period]
    gap = np.where(np.isnan(gap), fallback, gap)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((T - t_x) / np.maximum(gap, 1e-12))


def inactivity_flags(
    summary: pl.DataFrame,
    *,
    k: float = INTERVAL_MULTIPLIER,
    period: str = "W",
    fixed_window_days: float | None = None,
) -> np.ndarray:
    """Inactivity rule: silent for more than k × the client's mean interval, or for a fixed number of days.

    The client's interval is recency ÷ frequency (mean gap between purchase days); one-visit clients have
    none, so they get the population median. ``fixed_window_days`` switches to the fixed window instead.
    """
    _x, t_x, T = _cols(summary)
    if fixed_window_days is not None:
        return np.asarray((T - t_x) * PERIOD_DAYS[period] > fixed_window_days)
    return np.asarray(_interval_ratio(summary, period) > k)


# Models inside churn_flags / the back-test are fitted on at most this many customers (a seeded sample);
# every customer is still scored. Four parameters need far fewer, and it bounds the cost at network scale.
MAX_FIT_CUSTOMERS = 100_000


@dataclass
class _Fits:
    """Models fitted on one summary, each only when a rule needs it (on a sample above MAX_FIT_CUSTOMERS)."""

    summary: pl.DataFrame
    bgnbd: BGNBDFit | None = None
    mbgnbd: MBGNBDFit | None = None
    pareto: ParetoNBDFit | None = None
    warm: _Fits | None = None  # fits of a neighbouring window: their parameters start the optimiser

    @property
    def sample(self) -> pl.DataFrame:
        if self.summary.height <= MAX_FIT_CUSTOMERS:
            return self.summary
        # Sorted first: the summary's row order is arbitrary, the sample must not be.
        return self.summary.sort("frequency", "recency", "T").sample(MAX_FIT_CUSTOMERS, seed=0)

    def get(self, family: RuleFamily) -> BGNBDFit | ParetoNBDFit:
        w = self.warm
        if family == "bgnbd_p_alive":
            if self.bgnbd is None:
                start = _params(w.bgnbd) if w and w.bgnbd else None
                self.bgnbd = fit_bgnbd(self.sample, start=start)
            return self.bgnbd
        if family in ("mbgnbd_p_alive", "mbgnbd_no_purchase"):
            if self.mbgnbd is None:
                start = _params(w.mbgnbd) if w and w.mbgnbd else None
                self.mbgnbd = fit_mbgnbd(self.sample, start=start)
            return self.mbgnbd
        if self.pareto is None:
            start = _params(w.pareto) if w and w.pareto else None
            self.pareto = fit_pareto_nbd(self.sample, start=start)
        return self.pareto


def _params(fit: BGNBDFit | ParetoNBDFit) -> tuple[float, float, float, float]:
    if isinstance(fit, ParetoNBDFit):
        return (fit.r, fit.alpha, fit.s, fit.beta)
    return (fit.r, fit.alpha, fit.a, fit.b)


def _rule_score(family: RuleFamily, fits: _Fits, *, horizon: float, period: str) -> FloatArray:
    summary = fits.summary
    if family == "inactivity_window":
        _x, t_x, T = _cols(summary)
        return np.asarray((T - t_x) * PERIOD_DAYS[period])
    if family == "inactivity_interval":
        return _interval_ratio(summary, period)
    fit = fits.get(family)
    if family == "mbgnbd_no_purchase":
        return np.asarray(fit.prob_no_purchase(horizon, *_cols(summary)))
    return np.asarray(1.0 - fit.p_alive(*_cols(summary)))


def flag_summary(
    summary: pl.DataFrame,
    method: FixedChurnMethod | ChurnRule,
    *,
    horizon: float | None = None,
    period: str = "W",
    bgnbd: BGNBDFit | None = None,
    mbgnbd: MBGNBDFit | None = None,
    pareto: ParetoNBDFit | None = None,
) -> np.ndarray:
    """Boolean churn flag per row of a :func:`summarize` table by a fixed method or a :class:`ChurnRule`.

    ``horizon`` (period units) is the look-ahead of ``mbgnbd_no_purchase``; default 90 days. Models are fitted
    on ``summary`` unless fits are passed. For the back-tested choice use :func:`churn_flags`.
    """
    horizon = FIXED_WINDOW_DAYS / PERIOD_DAYS[period] if horizon is None else horizon
    if isinstance(method, ChurnRule):
        rule = method
    elif method in FIXED_RULES:
        rule = FIXED_RULES[method]
    else:
        raise ValueError(f"unknown churn method {method!r}")
    fits = _Fits(summary, bgnbd, mbgnbd, pareto)
    return np.asarray(_rule_score(rule.family, fits, horizon=horizon, period=period) > rule.cut)


def classification_scores(flagged: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of ``flagged`` against ``actual`` (churned = True)."""
    flagged, actual = np.asarray(flagged, bool), np.asarray(actual, bool)
    tp = float(np.sum(flagged & actual))
    fp = float(np.sum(flagged & ~actual))
    fn = float(np.sum(~flagged & actual))
    n = float(actual.size)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "accuracy": float(np.sum(flagged == actual)) / n if n else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "flagged_share": float(flagged.mean()) if n else 0.0,
    }


def best_cut(score: FloatArray, actual: np.ndarray) -> tuple[float, float]:
    """(cut, accuracy): the cut on ``score`` (flag score > cut) with the best accuracy against ``actual``.

    Every distinct score is a candidate boundary, plus "flag nobody" (+inf) and "flag everybody" (-inf);
    the cut is the midpoint between the scores either side of the boundary, so it transfers to new data.
    Ties in accuracy go to the boundary that flags fewer customers.
    """
    score = np.asarray(score, float)
    actual = np.asarray(actual, bool)
    n = score.size
    if n == 0:
        return float("inf"), 0.0
    score = np.where(np.isnan(score), -np.inf, score)
    order = np.argsort(-score, kind="stable")
    s, a = score[order], actual[order]
    negatives = float(n - a.sum())
    tp = np.cumsum(a)
    fp = np.cumsum(~a)
    acc_top = (tp + (negatives - fp)) / n  # flag the first i + 1
    boundary = np.r_[s[:-1] != s[1:], True]  # only between distinct scores
    acc_top = np.where(boundary, acc_top, -1.0)
    i = int(np.argmax(acc_top))
    none_acc = negatives / n
    if none_acc >= acc_top[i]:
        return float("inf"), float(none_acc)
    cut = float("-inf") if i == n - 1 else float((s[i] + s[i + 1]) / 2)
    if not np.isfinite(cut) and i < n - 1:  # an infinite score beside a finite one
        cut = float(s[i + 1]) if np.isfinite(s[i + 1]) else float(s[i])
    return cut, float(acc_top[i])


def _rule_from_cut(family: RuleFamily, cut: float) -> ChurnRule:
    return ChurnRule(family, 1.0 - cut if family.endswith("p_alive") else cut)


@dataclass(frozen=True)
class ChurnChoice:
    """What the back-test chose and how every candidate scored on it.

    ``table``: one row per rule family (``tuned``: its tuned parameter and back-test accuracy, precision,
    recall, F1), one per fixed method of :data:`CHURN_METHODS` at its textbook parameter, and a
    ``majority_class`` row; ``split`` the back-test's (calibration end, holdout end); ``fallback`` the
    reason when no back-test was possible (then ``rule`` is :data:`FALLBACK_CHURN_METHOD`'s and the scores
    are nan); ``note`` why a preferred (season-matched) split was skipped; ``tuned`` whether the winner's
    parameter was tuned (season-matched split) or is a fixed method's textbook one (off-season split).
    """

    rule: ChurnRule
    accuracy: float
    precision: float
    recall: float
    baseline_accuracy: float
    table: pl.DataFrame
    split: tuple[dt.date, dt.date] | None
    n_customers: int
    churn_rate: float
    fallback: str | None = None
    note: str | None = None
    tuned: bool = False


def _table_schema() -> dict[str, type[pl.DataType] | pl.DataType]:
    return {
        "method": pl.String,
        "tuned": pl.Boolean,
        "param": pl.Float64,
        "rule": pl.String,
        "accuracy": pl.Float64,
        "precision": pl.Float64,
        "recall": pl.Float64,
        "f1": pl.Float64,
        "flagged_share": pl.Float64,
    }


# The back-test split is the question shifted back by k whole holdout lengths: k·horizon ≈ 52 weeks when
# the history allows (the same season a year earlier), else k = 1 (ADR 0026).
SEASON_DAYS = 364


def backtest_splits(as_of: dt.date, horizon_days: int, *, seasonal: bool = True) -> list[tuple[dt.date, dt.date]]:
    """Candidate back-test splits as (calibration end, holdout end), in order of preference.

    The question (calibration to ``as_of``, holdout of ``horizon_days``) is shifted back by k holdout
    lengths. With ``seasonal`` the first candidate takes k = round(364 / horizon) so the back-test's
    holdout falls in the same season a year earlier (k = 4 for 13 weeks); the last is always k = 1, the
    split right before the question: calibration to ``as_of - horizon``, holdout to ``as_of``.
    """
    ks = [max(1, round(SEASON_DAYS / horizon_days))] if seasonal else []
    ks = [k for k in ks if k > 1] + [1]
    out = []
    for k in ks:
        cal_end = as_of - dt.timedelta(days=k * horizon_days)
        out.append((cal_end, cal_end + dt.timedelta(days=horizon_days)))
    return out


def same_season(split: tuple[dt.date, dt.date], as_of: dt.date) -> bool:
    """Whether a back-test split's holdout lies a year (± a month) before the question's holdout."""
    return abs((as_of - split[1]).days + (split[1] - split[0]).days - SEASON_DAYS) <= 31


def choose_churn_rule(
    transactions: TableLike,
    customer_col: str,
    time_col: str,
    *,
    as_of: dt.date,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    period: str = "W",
    tz: str = "UTC",
    families: Sequence[RuleFamily] = RULE_FAMILIES,
    seasonal: bool = True,
    tune: bool | None = None,
) -> ChurnChoice:
    """Back-test every rule family on an earlier split of the same data and tune its parameter there.

    The question "who makes no purchase in the ``horizon_days`` after ``as_of``" is asked again on an
    earlier split with the same holdout length (:func:`backtest_splits`): a year earlier, in the same
    season, when the history allows, otherwise one horizon earlier (calibration to ``as_of - horizon``,
    holdout to ``as_of``); nothing after ``as_of`` is read. Each family's models are fitted on the split's
    calibration and its parameter (window, multiplier or threshold) is set by :func:`best_cut` on the split's
    holdout. On a season-matched split the tuned rule with the best back-test accuracy wins; on the split
    right before ``as_of`` (another season) the best of the fixed methods at their textbook parameters
    wins, because tuned parameters did not transfer across seasons (ADR 0026). ``tune=True`` / ``False``
    overrides that (always tune / never tune). A split is usable with at least one
    horizon of history before its calibration end, :data:`MIN_BACKTEST_CUSTOMERS` customers and a holdout
    where some but not all churned; with none usable the choice falls back to
    :data:`FALLBACK_CHURN_METHOD` and says why in ``fallback``.
    """
    return _choose(transactions, customer_col, time_col, as_of, horizon_days, period, tz, families, seasonal, tune)[0]


def _choose(
    transactions: TableLike,
    customer_col: str,
    time_col: str,
    as_of: dt.date,
    horizon_days: int,
    period: str,
    tz: str,
    families: Sequence[RuleFamily],
    seasonal: bool,
    tune: bool | None = None,
) -> tuple[ChurnChoice, _Fits | None]:
    nan = float("nan")
    horizon = horizon_days / PERIOD_DAYS[period]
    reasons: list[str] = []
    summary: pl.DataFrame | None = None
    split: tuple[dt.date, dt.date] | None = None
    for cal_end, obs_end in backtest_splits(as_of, horizon_days, seasonal=seasonal):
        try:
            candidate = summarize(transactions, customer_col, time_col, period, cal_end, obs_end, tz=tz)
        except ValueError as exc:  # no purchases at all, or none before this split's calibration end
            reasons.append(f"split {cal_end}..{obs_end}: {exc}")
            continue
        reason = _unusable(candidate, cal_end, horizon_days, period)
        if reason is None:
            summary, split = candidate, (cal_end, obs_end)
            break
        reasons.append(f"split {cal_end}..{obs_end}: {reason}")
    if summary is None or split is None:
        empty = pl.DataFrame(schema=_table_schema())
        rule = FIXED_RULES[FALLBACK_CHURN_METHOD]
        return ChurnChoice(rule, nan, nan, nan, nan, empty, None, 0, nan, "; ".join(reasons)), None
    actual = (summary["frequency_holdout"] == 0).to_numpy()
    rate = float(actual.mean())
    fits = _Fits(summary)
    rows: list[dict[str, object]] = []
    best: tuple[float, ChurnRule, dict[str, float]] | None = None
    scores: dict[RuleFamily, FloatArray] = {}
    for family in families:
        try:
            score = _rule_score(family, fits, horizon=horizon, period=period)
        except (ValueError, FloatingPointError):  # a model that cannot be fitted here is not a candidate
            continue
        scores[family] = score
        cut, _acc = best_cut(score, actual)
        rule = _rule_from_cut(family, cut)
        metrics = classification_scores(score > cut, actual)
        rows.append({"method": family, "tuned": True, "param": rule.param, "rule": rule.describe(), **metrics})
        if best is None or metrics["accuracy"] > best[0] + 1e-12:
            best = (metrics["accuracy"], rule, metrics)
    # The fixed methods with their textbook parameters, for comparison (a tuned family can only do better
    # on the back-test itself, so they never win it; the table shows by how much tuning helped).
    for method, rule in FIXED_RULES.items():
        if rule.family in scores:
            metrics = classification_scores(scores[rule.family] > rule.cut, actual)
            rows.append({"method": method, "tuned": False, "param": rule.param, "rule": rule.describe(), **metrics})
    tuned = same_season(split, as_of) if tune is None else tune
    if not tuned:
        # Off-season split: a window or threshold tuned on another season does not transfer (ADR 0026), so
        # the back-test only ranks the fixed methods at their textbook parameters.
        best = None
        for rule in FIXED_RULES.values():
            if rule.family in scores:
                metrics = classification_scores(scores[rule.family] > rule.cut, actual)
                if best is None or metrics["accuracy"] > best[0] + 1e-12:
                    best = (metrics["accuracy"], rule, metrics)
    base = classification_scores(np.full(actual.shape, rate >= 0.5), actual)
    rows.append({"method": "majority_class", "tuned": False, "param": nan, "rule": "flag the majority class", **base})
    table = pl.DataFrame(rows, schema=_table_schema()).sort("accuracy", descending=True, maintain_order=True)
    assert best is not None  # the inactivity families need no model
    acc, rule, metrics = best
    note = "; ".join(reasons) or None  # a season-matched split that was skipped, for the record
    choice = ChurnChoice(
        rule,
        acc,
        metrics["precision"],
        metrics["recall"],
        base["accuracy"],
        table,
        split,
        int(actual.size),
        rate,
        None,
        note,
        tuned,
    )
    return choice, fits


def _unusable(summary: pl.DataFrame, cal_end: dt.date, horizon_days: int, period: str) -> str | None:
    """Why a back-test split cannot be used, or None."""
    if summary.height == 0:
        return f"no customer purchased before {cal_end} (the back-test's calibration end)"
    history_days = float(summary["T"].to_numpy().max()) * PERIOD_DAYS[period]
    if history_days < horizon_days:
        return (
            f"only {history_days:.0f} days of history before {cal_end}; a back-test needs at least one "
            f"horizon ({horizon_days} days)"
        )
    if summary.height < MIN_BACKTEST_CUSTOMERS:
        return f"{summary.height} customers in the back-test, fewer than {MIN_BACKTEST_CUSTOMERS}"
    rate = float((summary["frequency_holdout"] == 0).to_numpy().mean())
    if rate in (0.0, 1.0):
        return f"the back-test holdout after {cal_end} has churn rate {rate:.0%}: nothing to tune on"
    return None


@dataclass(frozen=True)
class ChurnFlags:
    """The answer of :func:`churn_flags`: a frame with a ``churned`` column and how the rule was chosen.

    ``frame``: one row per customer (the :func:`summarize` columns, ``churn_score`` and ``churned``).
    ``method`` is the method asked for (``"auto"`` or a fixed one), ``rule`` the rule applied; with
    ``"auto"``, ``choice`` holds the back-test (winner's accuracy, precision, recall, the majority-class
    baseline, every candidate's row) or the fallback reason. ``str(result)`` is a one-paragraph report.
    """

    frame: pl.DataFrame
    method: ChurnMethod
    rule: ChurnRule
    as_of: dt.date
    horizon_days: int
    choice: ChurnChoice | None = None

    @property
    def flags(self) -> np.ndarray:
        """The ``churned`` column as a boolean array."""
        return self.frame["churned"].to_numpy()

    @property
    def fallback(self) -> str | None:
        return self.choice.fallback if self.choice else None

    def __str__(self) -> str:
        flagged = int(self.frame["churned"].sum())
        head = (
            f"churn as of {self.as_of}, horizon {self.horizon_days} days: {flagged:,} of {self.frame.height:,} "
            f"customers flagged by {self.rule.describe()}"
        )
        c = self.choice
        if c is None:
            return head + f" (method {self.method!r}, not back-tested)"
        if c.fallback:
            return head + f"; auto fell back to {FALLBACK_CHURN_METHOD}: {c.fallback}"
        assert c.split is not None
        how = "tuned on a split a year earlier" if c.tuned else "textbook parameter (off-season split)"
        return head + (
            f"; chosen by a back-test, {how} (calibration to {c.split[0]}, holdout to {c.split[1]}, "
            f"{c.n_customers:,} customers, churn rate {c.churn_rate:.1%}): accuracy {c.accuracy:.3f}, "
            f"precision {c.precision:.3f}, recall {c.recall:.3f} vs majority class {c.baseline_accuracy:.3f}"
        )


def churn_flags(
    transactions: TableLike,
    method: ChurnMethod = DEFAULT_CHURN_METHOD,
    *,
    customer_col: str = "client_id",
    time_col: str = "started_at",
    as_of: dt.date | dt.datetime | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    period: str = "W",
    tz: str = "UTC",
    seasonal: bool = True,
    tune: bool | None = None,
) -> ChurnFlags:
    """Flag customers who will make no purchase in the ``horizon_days`` after ``as_of``, in one call.

    ``transactions``: purchases (e.g. ``purchases(con.table("visits"))``), a polars frame or DuckDB relation.
    ``as_of`` defaults to the last purchase day; nothing after it is read. ``method="auto"`` (the default)
    back-tests every rule family one horizon earlier on the same data, tunes windows and thresholds there
    (:func:`choose_churn_rule`) and applies the winner, refitting its model on the history up to ``as_of``;
    a fixed method (:data:`CHURN_METHODS`) is applied as is. ``seasonal=False`` back-tests on the split
    right before ``as_of`` even when a year of history would allow the same season a year earlier;
    ``tune`` as in :func:`choose_churn_rule`.

    >>> result = churn_flags(purchases(con.table("visits")), as_of=dt.date(2025, 9, 30))  # doctest: +SKIP
    >>> print(result)               # which rule won the back-test, its accuracy/precision/recall vs baseline
    >>> result.frame.filter(pl.col("churned"))   # the customers flagged
    >>> result.choice.table         # every candidate's back-test row
    """
    rel = as_relation(transactions)
    summary = summarize(rel, customer_col, time_col, period, observation_end=as_of, tz=tz).sort(customer_col)
    as_of_date = _observation_end(rel, time_col, as_of, tz)
    choice: ChurnChoice | None = None
    warm: _Fits | None = None
    if method == "auto":
        choice, warm = _choose(
            rel, customer_col, time_col, as_of_date, horizon_days, period, tz, RULE_FAMILIES, seasonal, tune
        )
        rule = choice.rule
    elif method in FIXED_RULES:
        rule = FIXED_RULES[method]
    else:
        raise ValueError(f"unknown churn method {method!r}; use 'auto' or one of {CHURN_METHODS}")
    fits = _Fits(summary, warm=warm)
    score = _rule_score(rule.family, fits, horizon=horizon_days / PERIOD_DAYS[period], period=period)
    frame = summary.with_columns(
        pl.Series("churn_score", score), pl.Series("churned", score > rule.cut, dtype=pl.Boolean)
    )
    return ChurnFlags(frame, method, rule, as_of_date, horizon_days, choice)


def _observation_end(rel: TableLike, time_col: str, as_of: dt.date | dt.datetime | None, tz: str) -> dt.date:
    if as_of is not None:
        return _as_date(as_of, tz)
    relation = as_relation(rel)
    last = local_time_sql(relation, check_ident(time_col), tz, expr=f'max("{time_col}")')
    value = query(relation, "t", f"SELECT {last} FROM t").fetchall()[0][0]
    if value is None:
        raise ValueError("no transactions")
    return value.date()  # type: ignore[no-any-return]


def validate_churn_methods(
    transactions: TableLike,
    customer_col: str,
    time_col: str,
    *,
    calibration_end: dt.date | dt.datetime,
    observation_end: dt.date | dt.datetime,
    period: str = "W",
    tz: str = "UTC",
    methods: Sequence[ChurnMethod] = ("auto", *CHURN_METHODS),
    seasonal: bool = True,
    tune: bool | None = None,
) -> pl.DataFrame:
    """Score churn methods on a calibration/holdout split against "no purchase in the holdout".

    Models are fitted on the calibration window only; the no-purchase horizon is the holdout length.
    ``"auto"`` is scored honestly: its back-test reads only data up to ``calibration_end``, and its
    ``rule`` column says what it chose. The table is sorted best first by
    accuracy (then recall); a ``majority_class`` row shows the score of flagging everybody or nobody,
    whichever is more common, so a method must beat it to mean anything.
    """
    rel = as_relation(transactions)
    summary = summarize(rel, customer_col, time_col, period, calibration_end, observation_end, tz=tz)
    actual = (summary["frequency_holdout"] == 0).to_numpy()
    horizon = float(summary["duration_holdout"][0]) if summary.height else 0.0
    cal = _as_date(calibration_end, tz)
    horizon_days = (_as_date(observation_end, tz) - cal).days
    fits = _Fits(summary)
    rows: list[dict[str, object]] = []
    for m in methods:
        if m == "auto":
            choice, warm = _choose(
                rel, customer_col, time_col, cal, horizon_days, period, tz, RULE_FAMILIES, seasonal, tune
            )
            rule = choice.rule
            fits.warm = fits.warm or warm
            label = rule.describe() + (
                f" (fallback: {choice.fallback})"
                if choice.fallback or choice.split is None
                else f" [back-test {choice.split[0]}..{choice.split[1]}]"
            )
        elif m in FIXED_RULES:
            rule, label = FIXED_RULES[m], FIXED_RULES[m].describe()
        else:
            raise ValueError(f"unknown churn method {m!r}")
        flags = _rule_score(rule.family, fits, horizon=horizon, period=period) > rule.cut
        rows.append({"method": m, "rule": label, **classification_scores(flags, actual)})
    majority = np.full(actual.shape, bool(actual.mean() >= 0.5))
    rows.append(
        {"method": "majority_class", "rule": "flag the majority class", **classification_scores(majority, actual)}
    )
    table = pl.DataFrame(rows).with_columns(
        pl.lit(float(actual.mean()) if actual.size else 0.0).alias("churn_rate"),
        pl.lit(actual.size).alias("n"),
    )
    return table.sort(["accuracy", "recall"], descending=True, maintain_order=True)


# --------------------------------------------------------------------------------------------- monetary / CLV


@dataclass(frozen=True)
class GammaGammaFit:
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005): value per purchase ~ Γ(p, ν), ν ~ Γ(q, γ)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float

    def expected_value(self, frequency: FloatArray, monetary_value: FloatArray) -> FloatArray:
        """E[value per purchase | x repeat purchases averaging m]: shrinks m towards the population mean."""
        x = np.asarray(frequency, float)
        m = np.asarray(monetary_value, float)
        p, q, g = self.p, self.q, self.gamma
        return np.asarray((p * (g + x * m)) / (p * x + q - 1))


def gamma_gamma_log_likelihood(p: float, q: float, g: float, x: FloatArray, m: FloatArray) -> FloatArray:
    """Per-customer log-likelihood of the mean spend m over x purchases."""
    return np.asarray(
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(g + m * x)
    )


def fit_gamma_gamma(summary: pl.DataFrame) -> GammaGammaFit:
    """Fit Gamma-Gamma on customers with repeat purchases and positive ``monetary_value``."""
    rows = summary.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
    if rows.height < 3:
        raise ValueError("Gamma-Gamma needs at least three customers with repeat purchases")
    x = rows["frequency"].to_numpy().astype(float)
    m = rows["monetary_value"].to_numpy().astype(float)

    def objective(lp: np.ndarray) -> float:
        p_, q_, g_ = np.exp(lp)
        val = float(np.mean(gamma_gamma_log_likelihood(p_, q_, g_, x, m)))
        return -val if np.isfinite(val) else 1e100

    start = np.array([0.0, np.log(2.0), np.log(max(float(np.mean(m)), 1e-3))])
    res = optimize.minimize(objective, start, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 3)
    p, q, g = np.exp(res.x)
    return GammaGammaFit(float(p), float(q), float(g), float(np.sum(gamma_gamma_log_likelihood(p, q, g, x, m))))


def clv(
    summary: pl.DataFrame,
    fit: BGNBDFit | ParetoNBDFit,
    *,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    period: str = "W",
    spend: GammaGammaFit | Literal["client_mean"] | None = None,
) -> pl.DataFrame:
    """Discounted CLV over ``horizon_months``: Σ_m E[purchases in month m] / (1 + d)^(m/12) × value.

    ``fit``: BG/NBD, MBG/NBD or Pareto/NBD on the same ``summary`` (which needs ``monetary_value``:
    ``summarize(..., monetary_col="amount")``; ``period`` must be the summary's). ``discount_rate`` is
    yearly (0.10 = 10 %); month m's purchases are discounted at its end, the usual monthly convention,
    and ``discount_rate=0`` gives the undiscounted expected purchases × value. ``spend``: a Gamma-Gamma fit
    (default: fitted on ``summary`` when it is well defined) or ``"client_mean"`` (the client's own mean
    repeat spend, falling back to the population mean for clients without repeats).

    Columns added: ``p_alive``, ``expected_purchases`` (undiscounted, over the horizon), ``discounted_purchases``,
    ``expected_value`` (per purchase) and ``clv``.

    >>> summary = summarize(purchases(visits), "client_id", "started_at", monetary_col="amount")  # doctest: +SKIP
    >>> clv(summary, fit_pareto_nbd(summary), horizon_months=24, discount_rate=0.12)  # doctest: +SKIP
    """
    if horizon_months < 1:
        raise ValueError("horizon_months must be at least 1")
    if discount_rate <= -1:
        raise ValueError("discount_rate must be above -100 %")
    x, t_x, T = _cols(summary)
    m = summary["monetary_value"].to_numpy().astype(float)
    month = PERIOD_DAYS["M"] / PERIOD_DAYS[period]
    previous = np.zeros_like(x)
    discounted = np.zeros_like(x)
    for k in range(1, horizon_months + 1):
        cumulative = fit.expected_purchases(k * month, x, t_x, T)
        discounted += (cumulative - previous) / (1.0 + discount_rate) ** (k / 12.0)
        previous = cumulative
    if spend is None:
        try:
            spend = fit_gamma_gamma(summary)
        except ValueError:
            spend = "client_mean"
    if isinstance(spend, GammaGammaFit) and spend.q > 1:
        value = spend.expected_value(x, m)
        value = np.where(x > 0, value, spend.p * spend.gamma / (spend.q - 1))
    else:
        pop = float(np.mean(m[x > 0])) if np.any(x > 0) else 0.0
        value = np.where(x > 0, m, pop)
    return summary.with_columns(
        pl.Series("p_alive", fit.p_alive(x, t_x, T)),
        pl.Series("expected_purchases", previous),
        pl.Series("discounted_purchases", discounted),
        pl.Series("expected_value", value),
        pl.Series("clv", discounted * value),
    )
