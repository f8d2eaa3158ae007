"""Scan the whole database for a clear-text secret: every column of every table, raw as stored."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.apps import apps
from django.db import connection
from django_tasks_db.models import DBTaskResult

# SQLite hands timestamps back as text; their microseconds could spell any six digits, and no timestamp column can
# hold a secret, so such values are not compared.
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?)?$")


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dt.date | dt.time | dt.timedelta):
        return None
    if isinstance(value, memoryview | bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    text = str(value)
    return None if isinstance(value, str) and _TIMESTAMP.match(text) else text


def scanned_tables() -> set[str]:
    """Every table in the database (all models' tables, the task queue's and Django's own)."""
    return set(connection.introspection.table_names())


def rows_holding(secret: str) -> list[str]:
    """``table.column`` of every stored value containing ``secret`` (numbers: equal to it)."""
    tables = scanned_tables()
    expected = {model._meta.db_table for model in apps.get_models(include_auto_created=True)}
    assert expected <= tables and DBTaskResult._meta.db_table in tables  # the scan covers every model
    hits: list[str] = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in sorted(tables):
            columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
            cursor.execute(f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)}")
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, int | Decimal) and not isinstance(value, bool):
                        # A code kept as a number; short ones would collide with ids and counters, so only
                        # six-digit values are compared.
                        if secret.isdigit() and int(secret) >= 100_000 and value == int(secret):
                            hits.append(f"{table}.{column}")
                        continue
                    text = _text(value)
                    if text is not None and secret in text:
                        hits.append(f"{table}.{column}")
    return hits
