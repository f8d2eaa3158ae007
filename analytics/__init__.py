"""Brigada analytics: a pure DuckDB/polars library that the report notebooks import.

No Django, no ``backend``: it reads a warehouse folder of Parquet files (see :mod:`analytics.schema`) or any
polars frame / DuckDB relation with the same columns, and returns polars DataFrames.

Modules: ``schema`` (tables, :func:`connect`), ``cohorts``, ``abc`` (ABC / XYZ), ``rfm``, ``churn``
(summaries, BG/NBD, MBG/NBD, back-tested churn flags, discounted CLV), ``pareto`` (Pareto/NBD),
``diagnostics`` (model checks as frames), ``kpis``, ``staffing``, ``plots`` (matplotlib, imported on its
own), ``synthetic`` (a generated world for tests, benchmark and demos). ``import analytics`` loads neither
scipy nor matplotlib; scipy loads on the first model fit.
"""

from analytics.abc import abc_analysis, abc_xyz, xyz_analysis
from analytics.churn import (
    CHURN_METHODS,
    DEFAULT_CHURN_METHOD,
    BGNBDFit,
    ChurnChoice,
    ChurnFlags,
    ChurnRule,
    MBGNBDFit,
    choose_churn_rule,
    churn_flags,
    clv,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_mbgnbd,
    flag_summary,
    p_alive,
    purchases,
    summarize,
    validate_churn_methods,
)
from analytics.cohorts import cohort_matrix, cohort_retention
from analytics.pareto import ParetoNBDFit, fit_pareto_nbd
from analytics.rfm import rfm
from analytics.schema import connect

__all__ = [
    "CHURN_METHODS",
    "DEFAULT_CHURN_METHOD",
    "BGNBDFit",
    "ChurnChoice",
    "ChurnFlags",
    "ChurnRule",
    "MBGNBDFit",
    "ParetoNBDFit",
    "abc_analysis",
    "abc_xyz",
    "choose_churn_rule",
    "churn_flags",
    "clv",
    "cohort_matrix",
    "cohort_retention",
    "connect",
    "expected_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_mbgnbd",
    "fit_pareto_nbd",
    "flag_summary",
    "p_alive",
    "purchases",
    "rfm",
    "summarize",
    "validate_churn_methods",
    "xyz_analysis",
]
