"""The analytics warehouse: a folder of Parquet files, one per table, read through DuckDB views.

The warehouse is an export of the operational database (one row per business fact, ids as integers, times as
UTC instants). The analytics library never talks to Django; it reads these files, so notebooks can run on a
laptop over a copy of the data.

Core tables (required columns)
------------------------------

``visits`` — one row per appointment/visit of a service business.

==================  =============  ===================================================================
column              type           meaning
==================  =============  ===================================================================
visit_id            BIGINT         primary key
client_id           BIGINT         the end customer (``clients.client_id``)
organization_id     BIGINT         tenant
branch_id           BIGINT         branch / location
service_id          BIGINT         catalogue service
staff_id            BIGINT         employee who served the visit
started_at          TIMESTAMPTZ    start instant, stored in UTC (naive timestamps are read as UTC)
amount              DOUBLE         amount charged, in major units of ``currency`` (analytics tolerates float)
currency            VARCHAR        ISO 4217 code; the library never mixes currencies, filter first
status              VARCHAR        ``completed`` | ``cancelled`` | ``no_show`` | ``booked``
source              VARCHAR        booking channel (``instagram``, ``google``, ``referral``, ...)
duration_minutes    INTEGER        *optional*: booked minutes, used by staff load %
==================  =============  ===================================================================

Only ``completed`` visits count as purchases (activity, revenue) everywhere in the library.

``clients`` — client_id, organization_id, created_at (TIMESTAMPTZ), source (acquisition channel),
birthday (DATE), gender (VARCHAR).

``shifts`` — staffing orders split into shifts: shift_id, order_id, organization_id, site_id,
start / end (TIMESTAMPTZ), headcount (workers needed), pay_rate and bill_rate (per hour, major units).
*Optional*: ``district`` (VARCHAR, where the site is), ``client_id`` (the business customer who placed the
order; needed for margin per client).

``offers`` — call-ups sent to workers: offer_id, shift_id, worker_id, wave (1 = first round of call-ups),
status (``accepted`` | ``declined`` | ``expired`` | ``cancelled`` | ``offered``: sent, not answered yet),
offered_at, responded_at (TIMESTAMPTZ, null when never answered).

``attendance`` — what happened on the shift: shift_id, worker_id, showed (BOOLEAN), hours (DOUBLE, worked),
quality (DOUBLE 1-10, the foreman's rating of the work).

Optional tables (documented here so KPIs that need them are not dropped)
------------------------------------------------------------------------

``staff_schedule`` — staff_id, branch_id, date (DATE), scheduled_minutes (INTEGER): rostered time, the
denominator of staff load %.

``reviews`` — review_id, visit_id, client_id, staff_id, branch_id, score (1-10, as Brigada collects it), created_at.

``workers`` — worker_id, segment (VARCHAR, e.g. ``new`` / ``regular`` / ``veteran``), district (VARCHAR).

``services`` — service_id, name, duration_minutes, price.
"""

# ruff: noqa: S608 — SQL is assembled from identifiers checked by check_ident/check_tz and typed literals.

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl


@dataclass(frozen=True)
class Column:
    """One documented column of a warehouse table."""

    name: str
    sql_type: str
    description: str
    required: bool = True


def _cols(*spec: tuple[str, str, str] | tuple[str, str, str, bool]) -> tuple[Column, ...]:
    return tuple(Column(*s) for s in spec)


TABLES: dict[str, tuple[Column, ...]] = {
    "visits": _cols(
        ("visit_id", "BIGINT", "primary key"),
        ("client_id", "BIGINT", "end customer"),
        ("organization_id", "BIGINT", "tenant"),
        ("branch_id", "BIGINT", "branch / location"),
        ("service_id", "BIGINT", "catalogue service"),
        ("staff_id", "BIGINT", "employee who served the visit"),
        ("started_at", "TIMESTAMPTZ", "start instant, UTC"),
        ("amount", "DOUBLE", "amount charged in major units"),
        ("currency", "VARCHAR", "ISO 4217 code"),
        ("status", "VARCHAR", "completed | cancelled | no_show | booked"),
        ("source", "VARCHAR", "booking channel"),
        ("duration_minutes", "INTEGER", "booked minutes (staff load %)", False),
    ),
    "clients": _cols(
        ("client_id", "BIGINT", "primary key"),
        ("organization_id", "BIGINT", "tenant"),
        ("created_at", "TIMESTAMPTZ", "when the client record was created"),
        ("source", "VARCHAR", "acquisition channel"),
        ("birthday", "DATE", "date of birth, may be null"),
        ("gender", "VARCHAR", "may be null"),
    ),
    "shifts": _cols(
        ("shift_id", "BIGINT", "primary key"),
        ("order_id", "BIGINT", "the staffing order this shift belongs to"),
        ("organization_id", "BIGINT", "tenant"),
        ("site_id", "BIGINT", "where the work happens"),
        ("start", "TIMESTAMPTZ", "shift start, UTC"),
        ("end", "TIMESTAMPTZ", "shift end, UTC"),
        ("headcount", "INTEGER", "workers needed"),
        ("pay_rate", "DOUBLE", "paid to the worker per hour"),
        ("bill_rate", "DOUBLE", "billed to the customer per hour"),
        ("district", "VARCHAR", "district of the site (no-show by district)", False),
        ("client_id", "BIGINT", "business customer who placed the order (margin per client)", False),
    ),
    "offers": _cols(
        ("offer_id", "BIGINT", "primary key"),
        ("shift_id", "BIGINT", "shift offered"),
        ("worker_id", "BIGINT", "worker called up"),
        ("wave", "INTEGER", "call-up round, 1 = first"),
        ("status", "VARCHAR", "accepted | declined | expired | cancelled | offered (not answered yet)"),
        ("offered_at", "TIMESTAMPTZ", "when the call-up was sent"),
        ("responded_at", "TIMESTAMPTZ", "when the worker answered; null if never"),
    ),
    "attendance": _cols(
        ("shift_id", "BIGINT", "shift"),
        ("worker_id", "BIGINT", "worker booked on the shift"),
        ("showed", "BOOLEAN", "worker turned up"),
        ("hours", "DOUBLE", "hours worked"),
        ("quality", "DOUBLE", "foreman's rating 1-10, may be null"),
    ),
}

OPTIONAL_TABLES: dict[str, tuple[Column, ...]] = {
    "staff_schedule": _cols(
        ("staff_id", "BIGINT", "employee"),
        ("branch_id", "BIGINT", "branch"),
        ("date", "DATE", "local working day"),
        ("scheduled_minutes", "INTEGER", "rostered minutes that day"),
    ),
    "reviews": _cols(
        ("review_id", "BIGINT", "primary key"),
        ("visit_id", "BIGINT", "reviewed visit"),
        ("client_id", "BIGINT", "author"),
        ("staff_id", "BIGINT", "reviewed employee"),
        ("branch_id", "BIGINT", "branch"),
        ("score", "DOUBLE", "1-10"),
        ("created_at", "TIMESTAMPTZ", "when written"),
    ),
    "workers": _cols(
        ("worker_id", "BIGINT", "primary key"),
        ("segment", "VARCHAR", "worker segment, e.g. new / regular / veteran"),
        ("district", "VARCHAR", "home district"),
    ),
    "services": _cols(
        ("service_id", "BIGINT", "primary key"),
        ("name", "VARCHAR", "service name"),
        ("duration_minutes", "INTEGER", "standard duration"),
        ("price", "DOUBLE", "list price"),
    ),
}

ALL_TABLES: dict[str, tuple[Column, ...]] = {**TABLES, **OPTIONAL_TABLES}


class SchemaError(ValueError):
    """A table lacks a required column."""


def missing_columns(table: str, columns: list[str] | tuple[str, ...]) -> list[str]:
    """Required columns of ``table`` that ``columns`` lacks."""
    have = set(columns)
    return [c.name for c in ALL_TABLES[table] if c.required and c.name not in have]


def validate_columns(table: str, columns: list[str] | tuple[str, ...]) -> None:
    """Raise :class:`SchemaError` if a required column of ``table`` is missing."""
    missing = missing_columns(table, columns)
    if missing:
        raise SchemaError(f"table {table!r} lacks required columns: {', '.join(missing)}")


_MEMORY_RE = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


def _table_path(folder: Path, table: str) -> str | None:
    single = folder / f"{table}.parquet"
    if single.exists():
        return str(single)
    part_dir = folder / table
    if part_dir.is_dir() and any(part_dir.glob("*.parquet")):
        # A folder of part files (e.g. one per month) reads as one table.
        return str(part_dir / "*.parquet")
    return None


def connect(
    folder: str | Path,
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB connection with every Parquet table in ``folder`` as a view.

    ``memory_limit`` (e.g. ``"6GB"``) caps DuckDB's buffer memory; with ``temp_directory`` the large
    aggregates and sorts spill there instead of failing when they do not fit (the 100M-visit benchmark).

    ``folder/visits.parquet`` or ``folder/visits/*.parquet`` become the view ``visits``; the same for every
    documented table (core and optional). Views are lazy: nothing is read until a query runs, and DuckDB
    reads only the columns and row groups a query needs. Core tables are checked for required columns.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"warehouse folder not found: {root}")
    con = duckdb.connect()
    # Periods must not depend on the machine's zone: the library converts explicitly where it must.
    con.execute("SET TimeZone = 'UTC'")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit is not None:
        if not _MEMORY_RE.match(memory_limit):
            raise ValueError(f"not a memory size: {memory_limit!r} (e.g. '6GB')")
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if temp_directory is not None:
        Path(temp_directory).mkdir(parents=True, exist_ok=True)
        con.execute("SET temp_directory = ?", [str(temp_directory)])
    for table in ALL_TABLES:
        path = _table_path(root, table)
        if path is None:
            continue
        escaped = path.replace("'", "''")
        con.execute(f"CREATE VIEW \"{table}\" AS SELECT * FROM read_parquet('{escaped}')")
        validate_columns(table, con.table(table).columns)
    return con


def write_warehouse(folder: str | Path, **tables: pl.DataFrame) -> Path:
    """Write polars frames as ``folder/<table>.parquet`` (used by the synthetic world and tests)."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if name not in ALL_TABLES:
            raise SchemaError(f"unknown warehouse table {name!r}")
        validate_columns(name, frame.columns)
        # Row groups of ~1M rows let DuckDB parallelise a scan across both cores.
        frame.write_parquet(root / f"{name}.parquet", row_group_size=1_000_000, statistics=True)
    return root
