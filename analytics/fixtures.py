"""Tiny hand-written warehouse rows for tests and examples (the synthetic world is in ``synthetic``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

_visit_ids = iter(range(1, 1_000_000_000))


def visit(
    client_id: int,
    when: dt.datetime | str,
    amount: float = 10.0,
    *,
    service_id: int = 1,
    staff_id: int = 1,
    branch_id: int = 1,
    status: str = "completed",
    source: str = "google",
    duration_minutes: int = 60,
) -> dict[str, Any]:
    """One ``visits`` row; ``when`` as an aware datetime or an ISO string read as UTC."""
    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return {
        "visit_id": next(_visit_ids),
        "client_id": client_id,
        "organization_id": 1,
        "branch_id": branch_id,
        "service_id": service_id,
        "staff_id": staff_id,
        "started_at": when,
        "amount": float(amount),
        "currency": "EUR",
        "status": status,
        "source": source,
        "duration_minutes": duration_minutes,
    }


VISIT_SCHEMA: dict[str, pl.DataType] = {
    "visit_id": pl.Int64(),
    "client_id": pl.Int64(),
    "organization_id": pl.Int64(),
    "branch_id": pl.Int64(),
    "service_id": pl.Int64(),
    "staff_id": pl.Int64(),
    "started_at": pl.Datetime("us", "UTC"),
    "amount": pl.Float64(),
    "currency": pl.String(),
    "status": pl.String(),
    "source": pl.String(),
    "duration_minutes": pl.Int32(),
}


def visits_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A ``visits`` frame with warehouse dtypes (works for an empty list too)."""
    return pl.DataFrame(rows, schema=VISIT_SCHEMA)
