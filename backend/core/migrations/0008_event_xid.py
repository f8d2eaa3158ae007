"""Events carry the id of the transaction that inserted them (PostgreSQL), so the sync feed cannot skip one that
committed after a later id (decision 0022).

The column is added by hand on both vendors: Django would rebuild ``core_event`` on SQLite for a field with an
expression default, and the rebuild would drop the append-only triggers (decision 0008). A nullable column without
a default is a plain ``ALTER TABLE ... ADD COLUMN`` there. On PostgreSQL the default is set in a second statement so
existing rows stay NULL without rewriting the table (they predate every sync cursor).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

import backend.core.models


def _add_column(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("ALTER TABLE core_event ADD COLUMN xid bigint NULL")
        schema_editor.execute(
            "ALTER TABLE core_event ALTER COLUMN xid SET DEFAULT (pg_current_xact_id()::text::bigint)"
        )
    elif vendor == "sqlite":
        schema_editor.execute("ALTER TABLE core_event ADD COLUMN xid bigint NULL")
    else:
        raise RuntimeError(f"core 0008: no event xid column for {vendor}")


def _drop_column(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute("ALTER TABLE core_event DROP COLUMN xid")


class Migration(migrations.Migration):
    dependencies = [("core", "0007_idempotency_entities")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="event",
                    name="xid",
                    field=models.BigIntegerField(
                        blank=True,
                        db_default=backend.core.models.CurrentTransactionId(),
                        editable=False,
                        null=True,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(_add_column, _drop_column)],
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["xid", "id"], name="event_feed_idx"),
        ),
    ]
