"""Database-vendor pieces of the booking guarantee (decision 0009), used by the booking migrations.

PostgreSQL refuses overlapping active occupancies with exclusion constraints (btree_gist); SQLite with triggers that
do the same check inside the writing statement. Each operation keeps the migration state identical on both
databases and touches only the vendor it is for.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

#: The message SQLite's triggers abort with; the appointment services map it to 409 ``slot_taken`` as they map
#: PostgreSQL's SQLSTATE 23P01.
SQLITE_OVERLAP_MESSAGE = "booking_occupancy_overlap"

# Half-open intervals: [a, b) and [c, d) overlap when a < d and c < b, so back to back is allowed. Django stores aware
# datetimes on SQLite as UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]", which compares in time order. The message must
# stay SQLITE_OVERLAP_MESSAGE.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER booking_occupancy_no_overlap_insert BEFORE INSERT ON booking_occupancy
        WHEN NEW.is_active AND EXISTS (
            SELECT 1 FROM booking_occupancy AS other
            WHERE other.is_active AND other.id IS NOT NEW.id
              AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at
              AND (
                (NEW.staff_id IS NOT NULL AND other.staff_id = NEW.staff_id)
                OR (NEW.resource_id IS NOT NULL AND other.resource_id = NEW.resource_id)
              )
        )
        BEGIN SELECT RAISE(ABORT, 'booking_occupancy_overlap'); END""",
    """CREATE TRIGGER booking_occupancy_no_overlap_update
        BEFORE UPDATE OF staff_id, resource_id, starts_at, ends_at, is_active ON booking_occupancy
        WHEN NEW.is_active AND EXISTS (
            SELECT 1 FROM booking_occupancy AS other
            WHERE other.is_active AND other.id IS NOT NEW.id
              AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at
              AND (
                (NEW.staff_id IS NOT NULL AND other.staff_id = NEW.staff_id)
                OR (NEW.resource_id IS NOT NULL AND other.resource_id = NEW.resource_id)
              )
        )
        BEGIN SELECT RAISE(ABORT, 'booking_occupancy_overlap'); END""",
]
SQLITE_TRIGGERS_DROP = [
    "DROP TRIGGER IF EXISTS booking_occupancy_no_overlap_insert",
    "DROP TRIGGER IF EXISTS booking_occupancy_no_overlap_update",
]


class PostgresOnlyAddConstraint(migrations.AddConstraint):
    """``AddConstraint`` for a PostgreSQL-only constraint (an exclusion constraint): the state always gets it, the
    database only on PostgreSQL."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class SqliteOnlyRunSQL(migrations.RunSQL):
    """``RunSQL`` that runs on SQLite only (PostgreSQL has the exclusion constraints instead)."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "sqlite":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "sqlite":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
