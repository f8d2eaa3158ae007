"""Churn and lifetime value: BG/NBD, MBG/NBD, inactivity rules, holdout validation, Gamma-Gamma CLV.

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
A customer is flagged *churned* by one of :data:`CHURN_METHODS` (thresholds fixed up front, not tuned on the
test): P(alive) < 0.5 under BG/NBD or MBG/NBD; MBG/NBD probability of no purchase over the horizon > 0.5;
no purchase for ``k = 2`` × the client's mean inter-purchase interval (the population median interval for
one-visit clients); or no purchase for a fixed 90 days. :func:`validate_churn_methods` scores each against
"no purchase in the holdout". :data:`DEFAULT_CHURN_METHOD` is the winner by accuracy of that test on the
synthetic world (``tests/analytics/test_churn_validation.py`` asserts it stays the winner).
"""

# ruff: noqa: S608 — SQL is assembled from identifiers checked by check_ident/check_tz and typed literals.

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from analytics._frames import TableLike, as_relation, bound_sql, check_ident, local_time_sql, query
from analytics._lazy import LazyModule
from analytics.cohorts import PURCHASE_STATUS

if TYPE_CHECKING:
    from scipy import optimize, special
else:  # scipy loads on the first model fit, not on `import analytics` (ADR 0027)
    optimize = LazyModule("scipy.optimize")
    special = LazyModule("scipy.special")

PERIOD_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}
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
) -> pl.DataFrame:
    """Per customer: frequency, recency, T (in ``period`` units) and, with a calibration end, holdout counts.

    ``period`` is ``"D"``, ``"W"`` (default) or ``"M"`` (365.25 / 12 days). ``observation_end`` defaults to
    the last purchase day. With ``calibration_end``: columns ``frequency_holdout`` (distinct purchase days
    after ``calibration_end`` up to ``observation_end``) and ``duration_holdout``; customers whose first
    purchase is after ``calibration_end`` are not in the table. With ``monetary_col``: ``monetary_value``, the
    mean value of repeat purchase days (same-day amounts summed; 0 without repeats), as Gamma-Gamma expects.
    """
    if period not in PERIOD_DAYS:
        raise ValueError(f"period must be one of {sorted(PERIOD_DAYS)}")
    unit = PERIOD_DAYS[period]
    cust = check_ident(customer_col)
    check_ident(time_col)
    rel = as_relation(transactions)
    # Local calendar day as an integer (days since 1970-01-01): cheap to group, compare and subtract.
    day = f"CAST(CAST({local_time_sql(rel, time_col, tz)} AS DATE) - DATE '1970-01-01' AS INTEGER)"
    first_last = query(
        rel,
        "t",
        f"""SELECT {local_time_sql(rel, time_col, tz, expr=f'min("{time_col}")')},
                   {local_time_sql(rel, time_col, tz, expr=f'max("{time_col}")')} FROM t""",
    ).fetchall()[0]
    if first_last[0] is None:
        raise ValueError("no transactions")
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
    if monetary_col is None and 0 <= hi - lo < BITSTRING_MAX_DAYS:
        sql = _summary_bitstring_sql(cust, day, keep, lo, hi, cal_i, obs_i, unit, holdout)
    else:
        sql = _summary_grouped_sql(cust, day, keep, cal_i, obs_i, unit, holdout, monetary_col)
    out = query(rel, "t", sql).pl()
    return out.with_columns(
        pl.col("frequency").cast(pl.Int64), pl.col("recency").cast(pl.Float64), pl.col("T").cast(pl.Float64)
    )


# Above this many days between the first and last purchase the per-customer bitmaps would get large
# (span / 8 bytes per customer and window); the grouped plan is used instead.
BITSTRING_MAX_DAYS = 8192


def _summary_bitstring_sql(
    cust: str, day: str, keep: str, lo: int, hi: int, cal: int, obs: int, unit: float, holdout: bool
) -> str:
    """One pass grouped by customer: distinct purchase days are the set bits of a per-customer day bitmap.

    Grouping by customer alone (1M groups) instead of by (customer, day) (9M groups) is what makes the
    summary cheap; bit_count of the bitmap is the number of distinct days.
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
    """The general plan: collapse to (customer, day) first, then summarise per customer."""
    value = f', sum("{check_ident(monetary_col)}") AS value' if monetary_col else ""
    money = (
        ", CASE WHEN count(*) > 1 THEN (sum(value) - arg_min(value, day)) / (count(*) - 1) ELSE 0 END"
        " AS monetary_value"
        if monetary_col
        else ""
    )
    holdout_cte = (
        f", ho AS (SELECT cust, count(*) AS n FROM days WHERE day > {cal} GROUP BY cust)" if holdout else ""
    )
    return f"""
    WITH days AS (   -- same-day purchases collapse to one purchase day
        SELECT "{cust}" AS cust, {day} AS day{value} FROM t WHERE {keep} GROUP BY ALL
    ),
    cal AS (
        SELECT cust, count(*) - 1 AS frequency, min(day) AS first_day, max(day) AS last_day{money}
        FROM days WHERE day <= {cal} GROUP BY cust
    )
    {holdout_cte}
    SELECT cal.cust AS "{cust}",
           frequency,
           (last_day - first_day) / CAST({unit!r} AS DOUBLE) AS recency,
           ({cal} - first_day) / CAST({unit!r} AS DOUBLE) AS T
           {", monetary_value" if monetary_col else ""}
           {", CAST(coalesce(ho.n, 0) AS BIGINT) AS frequency_holdout" if holdout else ""}
           {f", CAST({(obs - cal) / unit!r} AS DOUBLE) AS duration_holdout" if holdout else ""}
    FROM cal {"LEFT JOIN ho USING (cust)" if holdout else ""}
    """


# --------------------------------------------------------------------------------------------- likelihoods


def _collapse(summary: pl.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Unique (x, t_x, T) rows with their counts: the likelihood only depends on these."""
    g = summary.group_by("frequency", "recency", "T").agg(pl.len().alias("w"))
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
    return np.asarray(
        common + np.logaddexp(alive_c - rx * np.log(alpha + T), dropped_c - rx * np.log(alpha + t_x))
    )


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
    # Two starts: the unit point and one with α on the scale of the observation window.
    for start in (np.zeros(4), np.array([0.0, np.log(scale), 0.0, 0.0])):
        res = optimize.minimize(
            objective, start, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 4, options={"maxiter": 2000}
        )
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    params = np.exp(best.x)
    log_lik = float(np.sum(w * ll(*params, xu, inv, t_x, T)))
    return params, log_lik, bool(best.success)


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

    def expected_purchases(
        self, t: float, frequency: FloatArray, recency: FloatArray, T: FloatArray
    ) -> FloatArray:
        """Expected purchases in (T, T + t] given the history (eq. 10); nan when a ≤ 1 (infinite mean)."""
        x = np.asarray(frequency, float)
        T_ = np.asarray(T, float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if a <= 1:
            return np.full_like(x, np.nan)
        z = t / (alpha + T_ + t)
        tail = np.exp((r + x) * (np.log(alpha + T_) - np.log(alpha + T_ + t)))
        num = (a + b + x - 1) / (a - 1) * (1 - tail * special.hyp2f1(r + x, b + x, a + b + x - 1, z))
        return np.asarray(num * self.p_alive(frequency, recency, T))

    def prob_no_purchase(
        self, t: float, frequency: FloatArray, recency: FloatArray, T: FloatArray
    ) -> FloatArray:
        """P(no purchase in (T, T + t]): dead, or alive with a Poisson silence (λ | alive ~ Γ(r+x, α+T))."""
        x = np.asarray(frequency, float)
        T_ = np.asarray(T, float)
        alive = self.p_alive(frequency, recency, T)
        silent = np.exp((self.r + x) * (np.log(self.alpha + T_) - np.log(self.alpha + T_ + t)))
        return np.asarray(1 - alive + alive * silent)

    def expected_purchases_new(self, t: float) -> float:
        """Expected purchases of a new customer in (0, t] (eq. 9)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + t)
        return float(
            (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, z))
        )


@dataclass(frozen=True)
class MBGNBDFit(BGNBDFit):
    """Fitted MBG/NBD parameters: as :class:`BGNBDFit`, with drop-out possible after the first purchase."""

    def _log_odds_dead(self, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
        x = np.asarray(frequency, float)
        t_x, T_ = np.asarray(recency, float), np.asarray(T, float)
        return np.asarray(
            np.log(self.a)
            - np.log(self.b + x)
            + (self.r + x) * (np.log(self.alpha + T_) - np.log(self.alpha + t_x))
        )

    def expected_purchases(
        self, t: float, frequency: FloatArray, recency: FloatArray, T: FloatArray
    ) -> FloatArray:
        """Expected purchases in (T, T + t]: BG/NBD's formula with the posterior Beta(a, b + x + 1)."""
        x = np.asarray(frequency, float)
        T_ = np.asarray(T, float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if a <= 1:
            return np.full_like(x, np.nan)
        z = t / (alpha + T_ + t)
        tail = np.exp((r + x) * (np.log(alpha + T_) - np.log(alpha + T_ + t)))
        num = (a + b + x) / (a - 1) * (1 - tail * special.hyp2f1(r + x, b + x + 1, a + b + x, z))
        return np.asarray(num * self.p_alive(frequency, recency, T))

    def expected_purchases_new(self, t: float) -> float:
        """Expected purchases of a new customer in (0, t]."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + t)
        return float(b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b + 1, a + b, z)))


def fit_bgnbd(summary: pl.DataFrame, *, penalizer: float = 0.0) -> BGNBDFit:
    """Maximum-likelihood BG/NBD fit on a :func:`summarize` table (columns frequency, recency, T)."""
    (r, alpha, a, b), ll, ok = _fit(_bgnbd_ll, summary, penalizer)
    return BGNBDFit(float(r), float(alpha), float(a), float(b), ll, summary.height, ok)


def fit_mbgnbd(summary: pl.DataFrame, *, penalizer: float = 0.0) -> MBGNBDFit:
    """Maximum-likelihood MBG/NBD fit on a :func:`summarize` table."""
    (r, alpha, a, b), ll, ok = _fit(_mbgnbd_ll, summary, penalizer)
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
    return pl.DataFrame(
        {"customer_id": np.arange(n), "frequency": x.astype(np.int64), "recency": t_x, "T": T_arr}
    )


# ------------------------------------------------------------------------------------------------ churn flags

ChurnMethod = Literal[
    "bgnbd_p_alive", "mbgnbd_p_alive", "mbgnbd_no_purchase", "inactivity_interval", "fixed_window"
]
CHURN_METHODS: tuple[ChurnMethod, ...] = (
    "bgnbd_p_alive",
    "mbgnbd_p_alive",
    "mbgnbd_no_purchase",
    "inactivity_interval",
    "fixed_window",
)
DEFAULT_CHURN_METHOD: ChurnMethod = "mbgnbd_no_purchase"
INTERVAL_MULTIPLIER = 2.0
FIXED_WINDOW_DAYS = 90.0


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
    x, t_x, T = _cols(summary)
    silent = T - t_x
    if fixed_window_days is not None:
        return np.asarray(silent * PERIOD_DAYS[period] > fixed_window_days)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(x > 0, t_x / np.maximum(x, 1), np.nan)
    fallback = float(np.nanmedian(gap)) if np.isfinite(gap).any() else FIXED_WINDOW_DAYS / PERIOD_DAYS[period]
    gap = np.where(np.isnan(gap), fallback, gap)
    return np.asarray(silent > k * gap)


def churn_flags(
    summary: pl.DataFrame,
    method: ChurnMethod = DEFAULT_CHURN_METHOD,
    *,
    horizon: float | None = None,
    period: str = "W",
    bgnbd: BGNBDFit | None = None,
    mbgnbd: MBGNBDFit | None = None,
) -> np.ndarray:
    """Boolean churn flag per row of ``summary`` by ``method`` (see module docstring).

    ``horizon`` (period units) is the look-ahead of ``mbgnbd_no_purchase``; default 90 days. Models are fitted
    on ``summary`` unless fits are passed.
    """
    horizon = FIXED_WINDOW_DAYS / PERIOD_DAYS[period] if horizon is None else horizon
    if method == "bgnbd_p_alive":
        fit = bgnbd or fit_bgnbd(summary)
        return np.asarray(p_alive(fit, summary) < 0.5)
    if method == "mbgnbd_p_alive":
        mfit = mbgnbd or fit_mbgnbd(summary)
        return np.asarray(p_alive(mfit, summary) < 0.5)
    if method == "mbgnbd_no_purchase":
        mfit = mbgnbd or fit_mbgnbd(summary)
        return np.asarray(mfit.prob_no_purchase(horizon, *_cols(summary)) > 0.5)
    if method == "inactivity_interval":
        return inactivity_flags(summary, period=period)
    if method == "fixed_window":
        return inactivity_flags(summary, period=period, fixed_window_days=FIXED_WINDOW_DAYS)
    raise ValueError(f"unknown churn method {method!r}")


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


def validate_churn_methods(
    transactions: TableLike,
    customer_col: str,
    time_col: str,
    *,
    calibration_end: dt.date | dt.datetime,
    observation_end: dt.date | dt.datetime,
    period: str = "W",
    tz: str = "UTC",
    methods: Sequence[ChurnMethod] = CHURN_METHODS,
) -> pl.DataFrame:
    """Score each churn method on a calibration/holdout split against "no purchase in the holdout".

    Models are fitted on the calibration window only; the no-purchase horizon is the holdout length. The
    table is sorted best first by accuracy (then recall); a ``majority_class`` row shows the score of
    flagging everybody or nobody, whichever is more common, so a method must beat it to mean anything.
    """
    summary = summarize(transactions, customer_col, time_col, period, calibration_end, observation_end, tz=tz)
    actual = (summary["frequency_holdout"] == 0).to_numpy()
    horizon = float(summary["duration_holdout"][0]) if summary.height else 0.0
    bg = fit_bgnbd(summary) if any(m.startswith("bgnbd") for m in methods) else None
    mbg = fit_mbgnbd(summary) if any(m.startswith("mbgnbd") for m in methods) else None
    rows: list[dict[str, object]] = []
    for m in methods:
        flags = churn_flags(summary, m, horizon=horizon, period=period, bgnbd=bg, mbgnbd=mbg)
        rows.append({"method": m, **classification_scores(flags, actual)})
    majority = np.full(actual.shape, bool(actual.mean() >= 0.5))
    rows.append({"method": "majority_class", **classification_scores(majority, actual)})
    table = pl.DataFrame(rows).with_columns(
        pl.lit(float(actual.mean()) if actual.size else 0.0).alias("churn_rate"),
        pl.lit(actual.size).alias("n"),
    )
    return table.sort(["accuracy", "recall"], descending=True)


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
    return GammaGammaFit(
        float(p), float(q), float(g), float(np.sum(gamma_gamma_log_likelihood(p, q, g, x, m)))
    )


def clv(
    summary: pl.DataFrame,
    fit: BGNBDFit,
    *,
    horizon: float,
    spend: GammaGammaFit | Literal["client_mean"] | None = None,
) -> pl.DataFrame:
    """CLV over ``horizon`` period units = expected purchases × expected value per purchase (undiscounted).

    ``spend``: a Gamma-Gamma fit (default: fitted on ``summary`` when it is well defined) or
    ``"client_mean"`` (the client's own mean repeat spend, falling back to the population mean for clients
    without repeats). ``summary`` needs ``monetary_value`` (``summarize(..., monetary_col="amount")``).
    """
    x, t_x, T = _cols(summary)
    m = summary["monetary_value"].to_numpy().astype(float)
    purchases_ = fit.expected_purchases(horizon, x, t_x, T)
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
        pl.Series("expected_purchases", purchases_),
        pl.Series("expected_value", value),
        pl.Series("clv", purchases_ * value),
    )
