"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987): fit, P(alive), expected purchases, simulation.

While alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); the lifetime is exponential
with rate μ ~ Gamma(s, β), independent of λ. Unlike BG/NBD, a customer can die at any moment, so a
one-visit client's P(alive) falls with time too.

Numerics (ADR 0027). Every expression reduces to one integral,

    I(ρ; lo, hi) = ∫_lo^hi (α + τ)^-ρ (β + τ)^-(s+1) dτ,   ρ = r + x,

which has the closed form of Fader & Hardie (2005, "A note on deriving the Pareto/NBD model and related
expressions", eq. 19-22): with m = max(α, β), k = ρ + s, b = s + 1 if α ≥ β else ρ,

    I = [F(lo) - F(hi)] / k,   F(y) = (m + y)^-k · 2F1(k, b; k + 1; |α - β| / (m + y)).

F is taken in log space. The Gauss function is evaluated through Euler's transformation
2F1(k, b; k + 1; z) = (1 - z)^-b · 2F1(1, b; k + 1; z / (z - 1)): the right-hand 2F1 lies in (0, 1] for
every argument (no overflow however large x is), and its first factor is an exact log1p. With α = β the
argument is 0 and F is a plain power, so α ≈ β needs no special case (the formula is continuous there;
choosing m = max(α, β) keeps the argument in [0, 1)). The difference F(lo) - F(hi) is formed as
log F(lo) + log(-expm1(log F(hi) - log F(lo))), exact down to lo = hi.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from analytics._lazy import LazyModule

if TYPE_CHECKING:
    from scipy import special
else:
    special = LazyModule("scipy.special")

FloatArray = np.ndarray


def _log_2f1_k_b_k1(k: FloatArray, b: FloatArray, z: FloatArray) -> FloatArray:
    """log 2F1(k, b; k + 1; z) for 0 ≤ z < 1 via Euler's transformation (see the module docstring)."""
    w = z / (z - 1.0)
    return np.asarray(-b * np.log1p(-z) + np.log(special.hyp2f1(1.0, b, k + 1.0, w)))


def _log_F(rho: FloatArray, s: float, alpha: float, beta: float, y: FloatArray) -> FloatArray:
    k = rho + s
    if alpha >= beta:
        m, b = alpha, np.full_like(rho, s + 1.0)
    else:
        m, b = beta, rho
    z = abs(alpha - beta) / (m + y)
    return np.asarray(-k * np.log(m + y) + _log_2f1_k_b_k1(k, b, z))


def log_tail_integral(
    rho: FloatArray, s: float, alpha: float, beta: float, lo: FloatArray | float, hi: FloatArray | float
) -> FloatArray:
    """log ∫_lo^hi (α + τ)^-ρ (β + τ)^-(s+1) dτ (−inf when lo = hi), stable for any ρ and α vs β."""
    rho, lo, hi = np.broadcast_arrays(np.asarray(rho, float), np.asarray(lo, float), np.asarray(hi, float))
    f_lo = _log_F(rho, s, alpha, beta, lo)
    f_hi = _log_F(rho, s, alpha, beta, hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = np.log(-np.expm1(np.minimum(f_hi - f_lo, 0.0)))
    out = f_lo + diff - np.log(rho + s)
    return np.asarray(np.where(hi > lo, out, -np.inf))


def _pareto_ll(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    xu: FloatArray,
    inv: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    x = xu[inv]
    rho = r + x
    # The optimiser may probe parameters where a term under/overflows; the fit treats non-finite as "bad".
    with np.errstate(all="ignore"):
        common = (special.gammaln(r + xu) - special.gammaln(r))[inv] + r * np.log(alpha) + s * np.log(beta)
        alive = -rho * np.log(alpha + T) - s * np.log(beta + T)
        died = np.log(s) + log_tail_integral(rho, s, alpha, beta, t_x, T)
        return np.asarray(common + np.logaddexp(alive, died))


def pareto_nbd_log_likelihood(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """Per-customer log-likelihood of Pareto/NBD (Fader & Hardie 2005 note, eq. 22), in log space."""
    xu, inv = np.unique(np.asarray(x, float), return_inverse=True)
    inv = inv.reshape(-1)
    t_x, T = np.broadcast_arrays(np.asarray(t_x, float), np.asarray(T, float), inv)[:2]
    return _pareto_ll(r, alpha, s, beta, xu, inv, t_x, T)


def _lomax_mean_time(s: float, beta: FloatArray, t: float) -> FloatArray:
    """E[min(τ, t)] for τ ~ Lomax(s, β): β / (s - 1) · (1 - (β / (β + t))^(s-1)), with the s = 1 limit."""
    beta = np.asarray(beta, float)
    lr = np.log(beta) - np.log(beta + t)  # ≤ 0
    if abs(s - 1.0) < 1e-9:
        return np.asarray(-beta * lr)
    return np.asarray(beta * -np.expm1((s - 1.0) * lr) / (s - 1.0))


@dataclass(frozen=True)
class ParetoNBDFit:
    """Fitted Pareto/NBD parameters: purchase rate λ ~ Γ(r, α), drop-out rate μ ~ Γ(s, β).

    Methods take a customer's (frequency, recency, T) in the summary's period units, like
    :class:`analytics.churn.BGNBDFit`, so every churn, CLV and diagnostic function accepts either fit.
    """

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    n_customers: int = 0
    converged: bool = True

    def _log_odds_dead(self, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
        x = np.asarray(frequency, float)
        t_x, T_ = np.broadcast_arrays(np.asarray(recency, float), np.asarray(T, float), x)[:2]
        rho = self.r + x
        alive = -rho * np.log(self.alpha + T_) - self.s * np.log(self.beta + T_)
        died = np.log(self.s) + log_tail_integral(rho, self.s, self.alpha, self.beta, t_x, T_)
        return np.asarray(died - alive)

    def p_alive(self, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
        """P(still alive at T | x, t_x, T): the alive term's share of the likelihood."""
        return np.asarray(special.expit(-self._log_odds_dead(frequency, recency, T)))

    def expected_purchases(self, t: float, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
        """Expected purchases in (T, T + t] given the history (Fader & Hardie 2005 note, eq. 23)."""
        x = np.asarray(frequency, float)
        T_ = np.asarray(T, float)
        rate = (self.r + x) / (self.alpha + T_)  # E[λ | alive, history]
        lifetime = _lomax_mean_time(self.s, self.beta + T_, t)  # E[min(τ - T, t) | alive at T]
        return np.asarray(rate * lifetime * self.p_alive(frequency, recency, T))

    def prob_no_purchase(self, t: float, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
        """P(no purchase in (T, T + t] | history): dead already, or alive and silent until death or T + t.

        Given alive at T the posteriors are λ ~ Γ(r + x, α + T), μ ~ Γ(s, β + T); silence has probability
        E[e^-(λ+μ)t] + ∫_0^t E[μ e^-μu] E[e^-λu] du, the second term again the tail integral.
        """
        x = np.asarray(frequency, float)
        T_ = np.broadcast_arrays(np.asarray(T, float), x)[0]
        rho = self.r + x
        a_, b_ = self.alpha + T_, self.beta + T_
        survive = rho * (np.log(a_) - np.log(a_ + t)) + self.s * (np.log(b_) - np.log(b_ + t))
        # The integral's α and β are per customer here; T is the same for many rows, so group by T.
        died = np.empty_like(survive)
        for value in np.unique(T_):
            rows = np.equal(T_, value)
            died[rows] = (
                np.log(self.s)
                + rho[rows] * np.log(self.alpha + value)
                + self.s * np.log(self.beta + value)
                + log_tail_integral(rho[rows], self.s, self.alpha + value, self.beta + value, 0.0, t)
            )
        silent = np.exp(np.logaddexp(survive, died))
        alive = self.p_alive(frequency, recency, T)
        return np.asarray(1 - alive + alive * np.minimum(silent, 1.0))

    def expected_purchases_new(self, t: float) -> float:
        """Expected purchases of a new customer in (0, t]: r / α · E[min(τ, t)]."""
        return float(self.r / self.alpha * _lomax_mean_time(self.s, np.asarray(self.beta), t))

    def prob_purchases(self, x: int, t: FloatArray) -> FloatArray:
        """P(X(t) = x) for a new customer: x repeat purchases in (0, t] (for the calibration diagnostic).

        Alive throughout with probability (β / (β + t))^s, else dead at u ~ Lomax(s, β) having bought
        NB(r, α / (α + u)); the mixture over u is integrated with Gauss-Legendre in v = log(1 + u / β),
        where the Lomax density becomes s·e^(-s v) and the integrand is smooth.
        """
        t_arr = np.asarray(t, float)
        nodes, weights = np.polynomial.legendre.leggauss(48)
        v_max = np.log1p(t_arr / self.beta)[..., None]
        v = (nodes + 1) / 2 * v_max
        u = self.beta * np.expm1(v)
        dead = np.sum(weights * v_max / 2 * self.s * np.exp(-self.s * v) * _nb_pmf(x, self.r, self.alpha, u), -1)
        alive = np.exp(self.s * (np.log(self.beta) - np.log(self.beta + t_arr)))
        return np.asarray(alive * _nb_pmf(x, self.r, self.alpha, t_arr) + dead)


def _nb_pmf(x: int, r: float, alpha: float, t: FloatArray) -> FloatArray:
    """P(N(t) = x) when N is Poisson(λt), λ ~ Γ(r, α): NB with success probability α / (α + t)."""
    t = np.asarray(t, float)
    with np.errstate(divide="ignore"):  # t = 0 (first purchase on the last day): P(N = x > 0) = 0 exactly
        return _nb_pmf_log(x, r, alpha, t)


def _nb_pmf_log(x: int, r: float, alpha: float, t: FloatArray) -> FloatArray:
    log_p = (
        special.gammaln(r + x)
        - special.gammaln(r)
        - special.gammaln(x + 1.0)
        + r * (np.log(alpha) - np.log(alpha + t))
        + (x * (np.log(t) - np.log(alpha + t)) if x > 0 else 0.0)
    )
    return np.asarray(np.exp(log_p))


def fit_pareto_nbd(
    summary: pl.DataFrame, *, penalizer: float = 0.0, start: Sequence[float] | None = None
) -> ParetoNBDFit:
    """Maximum-likelihood Pareto/NBD fit on a :func:`analytics.churn.summarize` table.

    Same optimiser as BG/NBD: log-parameters, identical (x, t_x, T) rows collapsed with weights, two starts
    (or one: ``start`` = (r, α, s, β)).

    >>> fit = fit_pareto_nbd(summarize(purchases(visits), "client_id", "started_at"))  # doctest: +SKIP
    >>> fit.p_alive(summary["frequency"], summary["recency"], summary["T"])  # doctest: +SKIP
    """
    from analytics.churn import _fit

    (r, alpha, s, beta), ll, ok = _fit(_pareto_ll, summary, penalizer, start)
    return ParetoNBDFit(float(r), float(alpha), float(s), float(beta), ll, summary.height, ok)


def simulate_pareto_nbd(
    n: int,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    *,
    T: float | FloatArray = 52.0,
    seed: int = 0,
) -> pl.DataFrame:
    """Draw (frequency, recency, T) for ``n`` customers from the Pareto/NBD process (exact, vectorised).

    Given the lifetime τ, the repeat purchases are Poisson(λ·min(τ, T)) uniform on (0, min(τ, T)], so the
    last one is min(τ, T)·Beta(x, 1).
    """
    rng = np.random.default_rng(seed)
    T_arr = np.broadcast_to(np.asarray(T, float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    tau = rng.exponential(1.0 / mu)
    active = np.minimum(tau, T_arr)
    x = rng.poisson(lam * active)
    t_x = np.zeros(n)
    pos = x > 0
    t_x[pos] = active[pos] * rng.beta(x[pos], 1.0)
    return pl.DataFrame({"customer_id": np.arange(n), "frequency": x.astype(np.int64), "recency": t_x, "T": T_arr})
