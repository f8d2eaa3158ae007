"""Export the operational database to the analytics warehouse (Parquet files the notebooks read).

The column contract is ``analytics.schema``; this module only maps Brigada's models onto it. Tables whose
source does not exist yet (visits before booking, shifts/offers/attendance before staffing) are written empty
with the right columns, so notebooks and DuckDB views open the same folder either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from analytics.schema import ALL_TABLES, write_warehouse
from backend.catalog.models import Service
from backend.crm.models import Client

_POLARS_TYPES: dict[str, Any] = {
    "BIGINT": pl.Int64,
    "INTEGER": pl.Int32,
    "DOUBLE": pl.Float64,
    "VARCHAR": pl.Utf8,
    "BOOLEAN": pl.Boolean,
    "DATE": pl.Date,
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
}


def _frame(table: str, rows: Iterable[dict[str, Any]]) -> pl.DataFrame:
    schema = {c.name: _POLARS_TYPES[c.sql_type] for c in ALL_TABLES[table]}
    return pl.DataFrame(list(rows), schema=schema, orient="row")


def _clients(organization_ids: set[int] | None) -> Iterable[dict[str, Any]]:
    # Deleted clients stay in the warehouse: they are part of the history every cohort counts.
    qs = Client.objects.all()
    if organization_ids is not None:
        qs = qs.filter(organization_id__in=organization_ids)
    for c in qs.select_related("source").order_by("id").iterator(chunk_size=5000):
        yield {
            "client_id": c.pk,
            "organization_id": c.organization_id,
            "created_at": c.created_at,
            "source": c.source.name if c.source else None,
            "birthday": c.birthday,
            "gender": c.gender or None,
        }


def _services(organization_ids: set[int] | None) -> Iterable[dict[str, Any]]:
    qs = Service.objects.all()
    if organization_ids is not None:
        qs = qs.filter(organization_id__in=organization_ids)
    for s in qs.order_by("id").iterator(chunk_size=5000):
        yield {"service_id": s.pk, "name": s.name, "duration_minutes": s.duration_minutes, "price": float(s.price)}


_SOURCES: dict[str, Callable[[set[int] | None], Iterable[dict[str, Any]]]] = {
    "clients": _clients,
    "services": _services,
}
# Written empty until their domains exist (booking: visits, reviews, staff_schedule; staffing: the rest).
_EMPTY_FOR_NOW = ("visits", "shifts", "offers", "attendance", "staff_schedule", "reviews", "workers")


@dataclass(frozen=True)
class ExportReport:
    folder: Path
    rows: dict[str, int]


def warehouse_export(*, out: Path, organization_ids: set[int] | None = None) -> ExportReport:
    """Write every warehouse table to ``out`` (all organizations, or only ``organization_ids``)."""
    frames = {name: _frame(name, source(organization_ids)) for name, source in _SOURCES.items()}
    frames.update({name: _frame(name, []) for name in _EMPTY_FOR_NOW})
    write_warehouse(out, **frames)
    return ExportReport(folder=out, rows={name: frame.height for name, frame in frames.items()})
