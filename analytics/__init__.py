"""Brigada analytics: a pure DuckDB/polars library that the report notebooks import.

No Django, no ``backend``: it reads a warehouse folder of Parquet files (see :mod:`analytics.schema`) or any
polars frame / DuckDB relation with the same columns, and returns polars DataFrames.

Modules: ``schema`` (tables, :func:`connect`), ``cohorts``, ``abc`` (ABC / XYZ), ``rfm``, ``churn``
(summaries, BG/NBD, MBG/NBD, churn flags, CLV), ``kpis``, ``staffing``, ``plots``, ``synthetic`` (a
generated world for tests, benchmark and demos).
"""

from analytics.abc import abc_analysis, abc_xyz, xyz_analysis
from analytics.churn import (
    DEFAULT_CHURN_METHOD,
    BGNBDFit,
    MBGNBDFit,
    churn_flags,
    clv,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_mbgnbd,
    p_alive,
    purchases,
    summarize,
    validate_churn_methods,
)
from analytics.cohorts import cohort_matrix, cohort_retention
from analytics.rfm import rfm
from analytics.schema import connect

__all__ = [
    "DEFAULT_CHURN_METHOD",
    "BGNBDFit",
    "MBGNBDFit",
    "abc_analysis",
    "abc_xyz",
    "churn_flags",
    "clv",
    "cohort_matrix",
    "cohort_retention",
    "connect",
    "expected_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_mbgnbd",
    "p_alive",
    "purchases",
    "rfm",
    "summarize",
    "validate_churn_methods",
    "xyz_analysis",
]
