"""Accept polars frames or DuckDB relations alike, and build SQL for local periods."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Literal

import duckdb
import polars as pl

TableLike = pl.DataFrame | pl.LazyFrame | duckdb.DuckDBPyRelation
Period = Literal["month", "week", "day", "quarter", "year"]

_local = threading.local()
_TZ_RE = re.compile(r"^[A-Za-z0-9_+\-/]+$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def local_connection() -> duckdb.DuckDBPyConnection:
    """A per-thread in-memory connection that hosts relations built from polars frames."""
    con = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        _local.con = con
    return con


def as_relation(data: TableLike) -> duckdb.DuckDBPyRelation:
    """A DuckDB relation over ``data`` without copying (Arrow hand-over for polars frames)."""
    if isinstance(data, duckdb.DuckDBPyRelation):
        return data
    if isinstance(data, pl.LazyFrame):
        data = data.collect()
    if isinstance(data, pl.DataFrame):
        return local_connection().from_arrow(data.to_arrow())
    raise TypeError(f"expected a polars DataFrame/LazyFrame or a DuckDB relation, got {type(data).__name__}")


def query(data: TableLike, name: str, sql: str) -> duckdb.DuckDBPyRelation:
    """Run ``sql`` over ``data`` exposed as table ``name`` on the data's own connection (stays lazy)."""
    rel = as_relation(data).query(name, sql)
    if rel is None:  # only statements without a result return None; every query here is a SELECT
        raise RuntimeError("query returned no relation")
    return rel


def to_polars(data: TableLike) -> pl.DataFrame:
    """Materialise ``data`` as a polars DataFrame."""
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    return data.pl()


def run_sql(sql: str, **tables: TableLike) -> duckdb.DuckDBPyRelation:
    """Run ``sql`` with each keyword available as a table name.

    One table: the query runs on the relation's own connection (a warehouse view stays lazy, DuckDB pushes
    projections into the Parquet scan). Several tables: relations may come from different connections, so
    each is handed over through Arrow to one fresh connection; this is meant for the small staffing tables.
    """
    if len(tables) == 1:
        ((name, data),) = tables.items()
        return query(data, name, sql)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, data in tables.items():
        if isinstance(data, duckdb.DuckDBPyRelation):
            con.register(name, data.to_arrow_table())
        else:
            con.register(name, to_polars(data).to_arrow())
    return con.sql(sql)


def check_ident(name: str) -> str:
    """Column names are spliced into SQL, so only plain identifiers are allowed."""
    if not _IDENT_RE.match(name):
        raise ValueError(f"not a plain column name: {name!r}")
    return name


def check_tz(tz: str) -> str:
    """Zone names are spliced into SQL; reject anything that is not an IANA-looking name."""
    if not _TZ_RE.match(tz):
        raise ValueError(f"not a time zone name: {tz!r}")
    return tz


#: DuckDB's integer type names (a column of one of these can index a dense array).
INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


def column_type(rel: duckdb.DuckDBPyRelation, column: str) -> str:
    """The DuckDB type name of ``column``."""
    for name, typ in zip(rel.columns, rel.types, strict=True):
        if name == column:
            return str(typ)
    raise KeyError(f"column {column!r} not found; have {rel.columns}")


def local_time_sql(rel: duckdb.DuckDBPyRelation, column: str, tz: str, expr: str | None = None) -> str:
    """SQL for ``column`` (or ``expr`` of the same type, e.g. ``max(col)``) as a naive wall-clock time in ``tz``.

    Instants (TIMESTAMPTZ) are converted; naive TIMESTAMPs are read as UTC (the warehouse stores UTC); DATEs
    are already local days. For UTC the conversion is done with epoch arithmetic, which needs no ICU lookups.
    """
    check_ident(column)
    check_tz(tz)
    typ = column_type(rel, column).upper()
    col = expr if expr is not None else f'"{column}"'
    utc = tz in ("UTC", "Etc/UTC")
    if typ.startswith("TIMESTAMP WITH TIME ZONE") or typ == "TIMESTAMPTZ":
        return f"make_timestamp(epoch_us({col}))" if utc else f"timezone('{tz}', {col})"
    if typ.startswith("TIMESTAMP"):
        base = f"CAST({col} AS TIMESTAMP)"
        return base if utc else f"timezone('{tz}', timezone('UTC', {base}))"
    if typ == "DATE":
        return f"CAST({col} AS TIMESTAMP)"
    raise TypeError(f"column {column!r} has type {typ}, expected a timestamp or date")


def bound_sql(rel: duckdb.DuckDBPyRelation, column: str, value: dt.datetime | dt.date, tz: str) -> str:
    """A literal comparable with the *raw* ``column`` for a boundary given in the business's zone.

    Comparing the stored column with a converted constant (instead of converting every row) is cheaper
    and lets DuckDB skip Parquet row groups by their min/max statistics. Naive boundaries are local
    wall-clock times in ``tz``; dates mean local midnight.
    """
    from zoneinfo import ZoneInfo

    check_tz(tz)
    typ = column_type(rel, column).upper()
    if typ == "DATE":
        return sql_literal_ts(value, tz)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(tz))
    else:
        aware = dt.datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(tz))
    utc = aware.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    if typ.startswith("TIMESTAMP WITH TIME ZONE") or typ == "TIMESTAMPTZ":
        return f"TIMESTAMPTZ '{utc}+00'"
    if typ.startswith("TIMESTAMP"):
        return f"TIMESTAMP '{utc}'"
    raise TypeError(f"column {column!r} has type {typ}, expected a timestamp or date")


def trunc_sql(period: str, expr: str) -> str:
    """SQL truncating a naive timestamp to the start of its period (weeks start on Monday)."""
    if period not in ("month", "week", "day", "quarter", "year"):
        raise ValueError(f"unknown period {period!r}")
    return f"CAST(date_trunc('{period}', {expr}) AS DATE)"


def period_index_sql(period: str, start: str, end: str) -> str:
    """SQL for the whole number of periods from period-start date ``start`` to period-start date ``end``."""
    if period == "month":
        return f"((year({end}) - year({start})) * 12 + month({end}) - month({start}))"
    if period == "quarter":
        return f"((year({end}) - year({start})) * 4 + quarter({end}) - quarter({start}))"
    if period == "year":
        return f"(year({end}) - year({start}))"
    if period == "week":
        return f"(datediff('day', {start}, {end}) // 7)"
    if period == "day":
        return f"datediff('day', {start}, {end})"
    raise ValueError(f"unknown period {period!r}")


def add_periods(period: str, start: dt.date, n: int) -> dt.date:
    """``start`` moved by ``n`` periods (used in Python where a grid is built)."""
    if period == "day":
        return start + dt.timedelta(days=n)
    if period == "week":
        return start + dt.timedelta(days=7 * n)
    months = {"month": 1, "quarter": 3, "year": 12}[period] * n
    y, m = divmod(start.month - 1 + months, 12)
    return start.replace(year=start.year + y, month=m + 1)


def sql_literal_ts(value: dt.datetime | dt.date, tz: str) -> str:
    """A naive local-timestamp SQL literal for a boundary given as a date or an (aware) datetime."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            from zoneinfo import ZoneInfo

            value = value.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    return f"TIMESTAMP '{value.isoformat()} 00:00:00'"
