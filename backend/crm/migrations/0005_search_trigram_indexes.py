"""Trigram (pg_trgm GIN) indexes for the staff type-ahead (``backend.crm.search``): names, phone digits, plates.

PostgreSQL only; on SQLite this migration does nothing and the search runs as plain LIKE. Raw SQL because a
``GinIndex`` in ``Meta.indexes`` would be created on SQLite too. On a large live table, build them by hand with
``CREATE INDEX CONCURRENTLY`` first (``IF NOT EXISTS`` below then skips them); see ADR 0025.
``fastupdate = off``: a type-ahead reads far more often than clients are written, and GIN's pending list (inserts
not yet merged into the index) is scanned linearly by every search until a vacuum merges it: 13-19 ms per query
measured on 100k fresh rows with it on.
"""

from typing import Any

from django.db import migrations

INDEXES = (
    ("crm_client_search_trgm", "crm_client", "search_text"),
    ("crm_client_phone_trgm", "crm_client", "phone"),
    ("crm_vehicle_plate_trgm", "crm_vehicle", "plate"),
)


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops) WITH (fastupdate = off)"
        )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_name_key_unique"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
