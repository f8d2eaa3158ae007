"""Prepared-statement bulk writes for imports: one INSERT or UPDATE statement sent with ``executemany``.

``QuerySet.bulk_create`` compiles every value of every row through the ORM and ``bulk_update`` builds a
``CASE WHEN`` per row and column; at tens of thousands of rows with ~30 columns that cost more than the database
itself. These helpers take model instances that the caller has already validated and write them with one
parameterised statement executed many times, the fast path on both SQLite and PostgreSQL.

They bypass ``save()`` and signals by design: the calling service records its own events in the same transaction.
Columns derived from another (``NameKeyField``) are computed here as ``save()`` would, so no bulk write stores a
name without its key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models

from backend.core.names import NameKeyField

# Values the database drivers take as they are; dates and times need the backend's conversion.
_PLAIN_FIELDS = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey)


def db_params(objs: Sequence[models.Model], fields: Sequence[models.Field[Any, Any]]) -> list[list[Any]]:
    """Row values of ``fields`` ready for the driver, one list per object."""
    getters: list[tuple[str, models.Field[Any, Any] | None]] = []
    for f in fields:
        if isinstance(f, NameKeyField):
            getters.append((f.attname, f))
        elif isinstance(f, _PLAIN_FIELDS) and not isinstance(f, models.DateField):
            getters.append((f.attname, None))
        else:
            getters.append((f.attname, f))
    return [[_value(o, a, f) for a, f in getters] for o in objs]


def _value(obj: models.Model, attname: str, field: models.Field[Any, Any] | None) -> Any:
    if field is None:
        return getattr(obj, attname)
    if isinstance(field, NameKeyField):
        return field.pre_save(obj, add=obj._state.adding)
    return field.get_db_prep_save(getattr(obj, attname), connection)


def rows_insert(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """INSERT every concrete non-primary-key column of ``objs``; primary keys are not read back.

    The caller finds the new ids through a unique key of its own (one query), which is cheaper than
    ``RETURNING`` row by row and works the same on every backend.
    """
    if not objs:
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, db_params(objs, fields))


def rows_update(model: type[models.Model], objs: Sequence[models.Model], field_names: Sequence[str]) -> None:
    """UPDATE ``field_names`` of each object by primary key, one prepared statement for all rows."""
    if not objs:
        return
    meta = model._meta
    fields: list[Any] = [meta.get_field(name) for name in field_names]
    # A changed name changes its key: write the key with it.
    fields += [
        f for f in meta.concrete_fields if isinstance(f, NameKeyField) and f.source in field_names and f not in fields
    ]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    params = [[*row, o.pk] for row, o in zip(db_params(objs, fields), objs, strict=True)]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def links_insert(through: type[models.Model], columns: tuple[str, str], links: Sequence[tuple[int, int]]) -> None:
    """INSERT many-to-many link rows ``(left_id, right_id)`` into ``through`` (column names in ``columns``)."""
    if not links:
        return
    quote = connection.ops.quote_name
    left, right = (quote(str(getattr(through._meta.get_field(c), "column", c))) for c in columns)
    sql = f"INSERT INTO {quote(through._meta.db_table)} ({left}, {right}) VALUES (%s, %s)"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, [list(link) for link in links])


@dataclass
class UpsertResult:
    """Counts of a bulk upsert, notes on skipped rows and row errors (any error means nothing was written)."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    notes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
