"""One call per notebook cell: the report notebooks hold no logic, so what takes more than one library call lives here.

* :func:`warehouse_path` / :func:`open_warehouse` — the warehouse folder from ``BRIGADA_WAREHOUSE`` (CI points it
  at a small export), else ``notebooks/warehouse`` (what ``make export-warehouse`` writes); :func:`business_visits`
  — the visits of one business (the largest by default);
* :func:`model_check` — fit a purchase-count model on a calibration window and return the two standard BTYD
  diagnostics (calibration fit, holdout fit) over the holdout that follows;
* :func:`clv_report` — summary, model fit and discounted CLV in one call;
* :func:`headline` — a manager's headline numbers: the last ``days`` against the ``days`` before.
"""

# ruff: noqa: S608 — SQL is assembled from identifiers checked by check_ident/check_tz and typed literals.

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import polars as pl

from analytics._frames import TableLike, as_relation, local_time_sql, query, to_polars
from analytics.churn import BGNBDFit, clv, fit_bgnbd, fit_mbgnbd, purchases, summarize
from analytics.cohorts import PURCHASE_STATUS, default_as_of
from analytics.diagnostics import calibration_fit, holdout_fit
from analytics.pareto import ParetoNBDFit, fit_pareto_nbd
from analytics.schema import connect

WAREHOUSE_ENV = "BRIGADA_WAREHOUSE"
#: Relative to the notebooks folder, where JupyterLab and nbmake run the notebooks.
DEFAULT_WAREHOUSE = "warehouse"

Model = Literal["pareto", "bgnbd", "mbgnbd"]
_FITTERS: dict[str, Callable[[pl.DataFrame], BGNBDFit | ParetoNBDFit]] = {
    "pareto": fit_pareto_nbd,
    "bgnbd": fit_bgnbd,
    "mbgnbd": fit_mbgnbd,
}


def warehouse_path(default: str | Path = DEFAULT_WAREHOUSE) -> Path:
    """The warehouse folder: ``$BRIGADA_WAREHOUSE`` when set (and not empty), else ``default``."""
    return Path(os.environ.get(WAREHOUSE_ENV) or default)


def open_warehouse(folder: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """:func:`analytics.schema.connect` on ``folder`` (default :func:`warehouse_path`), with a hint when missing."""
    root = Path(folder) if folder is not None else warehouse_path()
    if not (root / "visits.parquet").exists() and not (root / "visits").is_dir():
        raise FileNotFoundError(
            f"no warehouse in {root}: run `make export-warehouse` (or set {WAREHOUSE_ENV} to an exported folder)"
        )
    return connect(root)


def business_visits(con: duckdb.DuckDBPyConnection, organization_id: int | None = None) -> duckdb.DuckDBPyRelation:
    """The ``visits`` of one business: ``organization_id``, or by default the one with the most visits.

    A warehouse exported from a network holds several businesses (a salon, a car service), often in different
    currencies; the library never mixes them, so a notebook looks at one at a time.
    """
    visits = con.table("visits")
    if organization_id is None:
        rows = visits.aggregate("organization_id, count(*) AS n").order("n DESC, organization_id").limit(1).fetchall()
        if not rows:
            raise ValueError(
                "the warehouse has no visits: seed the demo (`make demo` or `manage.py seed_demo`) and export again, "
                "or write a synthetic one with analytics.synthetic.write_notebook_world(folder)"
            )
        organization_id = int(rows[0][0])
    return visits.filter(f"organization_id = {int(organization_id)}")


def _fit(model: Model, summary: pl.DataFrame) -> BGNBDFit | ParetoNBDFit:
    if model not in _FITTERS:
        raise ValueError(f"model must be one of {sorted(_FITTERS)}")
    return _FITTERS[model](summary)


@dataclass(frozen=True)
class ModelCheck:
    """A model fitted on the calibration window, and its two diagnostics over the holdout after it."""

    model: Model
    fit: BGNBDFit | ParetoNBDFit
    calibration_end: dt.date
    observation_end: dt.date
    summary: pl.DataFrame
    calibration: pl.DataFrame  # analytics.diagnostics.calibration_fit
    holdout: pl.DataFrame  # analytics.diagnostics.holdout_fit

    def __str__(self) -> str:
        total = self.holdout["actual_total"].sum(), self.holdout["predicted_total"].sum()
        return (
            f"{self.model} fitted on {self.summary.height:,} customers up to {self.calibration_end}; "
            f"holdout to {self.observation_end}: {total[0]:,.0f} purchases actual vs {total[1]:,.1f} predicted"
        )


def _last_day(visits: TableLike, tz: str) -> dt.date:
    return (default_as_of(visits, tz=tz) - dt.timedelta(microseconds=1)).date()


def model_check(
    visits: TableLike,
    *,
    model: Model = "pareto",
    holdout_days: int = 90,
    observation_end: dt.date | None = None,
    period: str = "W",
    max_frequency: int = 7,
    tz: str = "UTC",
) -> ModelCheck:
    """Fit ``model`` on completed visits up to ``observation_end - holdout_days`` and check it on the holdout.

    ``observation_end`` defaults to the last visit's day. A history shorter than two holdouts gets a holdout of
    a third of it (at least one day), so a young business still gets a picture, with the dates saying which.
    """
    rel = as_relation(purchases(as_relation(visits)))
    end = observation_end or _last_day(rel, tz)
    first_sql = local_time_sql(rel, "started_at", tz, expr='min("started_at")')
    first = query(rel, "v", f"SELECT {first_sql} FROM v").fetchall()[0][0].date()
    span = (end - first).days
    holdout = holdout_days if span >= 2 * holdout_days else max(span // 3, 1)
    cal_end = end - dt.timedelta(days=holdout)
    summary = summarize(rel, "client_id", "started_at", period, cal_end, end, tz=tz)
    fit = _fit(model, summary)
    return ModelCheck(
        model,
        fit,
        cal_end,
        end,
        summary,
        calibration_fit(fit, summary, max_frequency=max_frequency),
        holdout_fit(fit, summary, max_frequency=max_frequency),
    )


def clv_report(
    visits: TableLike,
    *,
    model: Model = "pareto",
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    as_of: dt.date | None = None,
    period: str = "W",
    tz: str = "UTC",
) -> pl.DataFrame:
    """Per client: the :func:`analytics.churn.summarize` columns, P(alive), expected purchases and discounted CLV.

    Completed visits up to ``as_of`` (default: the last visit's day), ``model`` fitted on them, spend from a
    Gamma-Gamma fit (:func:`analytics.churn.clv`), sorted by CLV, highest first.
    """
    rel = purchases(as_relation(visits))
    summary = summarize(rel, "client_id", "started_at", period, observation_end=as_of, monetary_col="amount", tz=tz)
    fit = _fit(model, summary)
    out = clv(summary, fit, horizon_months=horizon_months, discount_rate=discount_rate, period=period)
    return out.sort("clv", descending=True)


def headline(
    visits: TableLike,
    shifts: TableLike | None = None,
    offers: TableLike | None = None,
    attendance: TableLike | None = None,
    *,
    days: int = 30,
    as_of: dt.date | None = None,
    tz: str = "UTC",
) -> pl.DataFrame:
    """The last ``days`` (ending on ``as_of``, default the last completed visit's day) against the ``days`` before.

    Rows (metric, current, previous, change): revenue, completed visits, average check, active clients, new
    clients (first completed visit ever in the window), no-show rate of visits (no-shows ÷ completed and
    no-shows); with the staffing tables also shifts, fill rate and the workers' no-show rate (shifts starting in
    the window). ``change`` is current ÷ previous − 1 (null when previous is 0).
    """
    from analytics.staffing import fill_rate

    v = to_polars(visits).with_columns(pl.col("started_at").dt.convert_time_zone(tz).dt.date().alias("_day"))
    # Future bookings are in the export too: the window ends on the last completed visit's day.
    end = as_of or _last_day(v.filter(pl.col("status") == PURCHASE_STATUS), tz)
    windows = {
        "current": (end - dt.timedelta(days=days - 1), end),
        "previous": (end - dt.timedelta(days=2 * days - 1), end - dt.timedelta(days=days)),
    }
    done = v.filter(pl.col("status") == PURCHASE_STATUS)
    first_day = done.group_by("client_id").agg(pl.col("_day").min().alias("first_day"))
    values: dict[str, dict[str, float | None]] = {}
    for name, (lo, hi) in windows.items():
        in_window = pl.col("_day").is_between(lo, hi)
        d = done.filter(in_window)
        attended = v.filter(in_window & pl.col("status").is_in([PURCHASE_STATUS, "no_show"]))
        revenue = float(d["amount"].sum())
        row: dict[str, float | None] = {
            "revenue": revenue,
            "visits": float(d.height),
            "average check": revenue / d.height if d.height else None,
            "active clients": float(d["client_id"].n_unique()),
            "new clients": float(first_day.filter(pl.col("first_day").is_between(lo, hi)).height),
            "visit no-show rate": (
                float((attended["status"] == "no_show").sum()) / attended.height if attended.height else None
            ),
        }
        if shifts is not None and offers is not None and attendance is not None:
            s = to_polars(shifts).filter(pl.col("start").dt.convert_time_zone(tz).dt.date().is_between(lo, hi))
            f = fill_rate(s, offers, attendance) if s.height else None
            row["shifts"] = float(s.height)
            row["fill rate"] = float(f["fill_rate"][0]) if f is not None and f.height else None
            row["worker no-show rate"] = (
                f["no_show_rate"][0] if f is not None and f.height and f["no_show_rate"][0] is not None else None
            )
        values[name] = row
    metrics = list(values["current"])
    current = [values["current"][m] for m in metrics]
    previous = [values["previous"][m] for m in metrics]
    return pl.DataFrame(
        {"metric": metrics, "current": current, "previous": previous}, schema_overrides={"current": pl.Float64}
    ).with_columns(
        pl.when(pl.col("previous") != 0)
        .then(pl.col("current") / pl.col("previous") - 1)
        .otherwise(None)
        .alias("change")
    )


__all__ = [
    "DEFAULT_WAREHOUSE",
    "WAREHOUSE_ENV",
    "ModelCheck",
    "business_visits",
    "clv_report",
    "headline",
    "model_check",
    "open_warehouse",
    "warehouse_path",
]
