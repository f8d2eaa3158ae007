"""Database-vendor pieces of the booking guarantee (decision 0009), used by the booking migrations.

PostgreSQL refuses overlapping active occupancies with exclusion constraints (btree_gist); SQLite with triggers that
do the same check inside the writing statement. Each operation keeps the migration state identical on both
databases and touches only the vendor it is for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.postgres.constraints import ExclusionConstraint
from django.db import migrations

#: The message SQLite's triggers abort with; the appointment services map it to 409 ``slot_taken`` as they map
#: PostgreSQL's SQLSTATE 23P01.
SQLITE_OVERLAP_MESSAGE = "booking_occupancy_overlap"

#: The message SQLite's client triggers abort with; mapped to 409 ``client_busy`` as PostgreSQL's 23P01 on the
#: ``booking_occupancy_client_no_overlap`` constraint is.
SQLITE_CLIENT_OVERLAP_MESSAGE = "booking_client_overlap"

# Half-open intervals: [a, b) and [c, d) overlap when a < d and c < b, so back to back is allowed. Django stores aware
# datetimes on SQLite as UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]", which compares in time order. The messages must
# stay SQLITE_OVERLAP_MESSAGE / SQLITE_CLIENT_OVERLAP_MESSAGE.
_HOLDER_OVERLAP = """WHEN NEW.is_active AND EXISTS (
            SELECT 1 FROM booking_occupancy AS other
            WHERE other.is_active AND other.id IS NOT NEW.id
              AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at
              AND (
                (NEW.staff_id IS NOT NULL AND other.staff_id = NEW.staff_id)
                OR (NEW.resource_id IS NOT NULL AND other.resource_id = NEW.resource_id)
              )
        )
        BEGIN SELECT RAISE(ABORT, 'booking_occupancy_overlap'); END"""
_CLIENT_OVERLAP = """WHEN NEW.is_active AND NEW.client_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM booking_occupancy AS other
            WHERE other.is_active AND other.id IS NOT NEW.id AND other.client_id = NEW.client_id
              AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at
        )
        BEGIN SELECT RAISE(ABORT, 'booking_client_overlap'); END"""

#: The master / resource triggers as migration 0002 created them (before the client column existed).
SQLITE_TRIGGERS_0002 = [
    "CREATE TRIGGER booking_occupancy_no_overlap_insert BEFORE INSERT ON booking_occupancy\n        " + _HOLDER_OVERLAP,
    "CREATE TRIGGER booking_occupancy_no_overlap_update\n"
    "        BEFORE UPDATE OF staff_id, resource_id, starts_at, ends_at, is_active ON booking_occupancy\n        "
    + _HOLDER_OVERLAP,
]
SQLITE_TRIGGERS_0002_DROP = [
    "DROP TRIGGER IF EXISTS booking_occupancy_no_overlap_insert",
    "DROP TRIGGER IF EXISTS booking_occupancy_no_overlap_update",
]

#: Every trigger of the current schema: a migration that rebuilds ``booking_occupancy`` on SQLite must run
#: ``SQLITE_TRIGGERS_DROP`` then ``SQLITE_TRIGGERS`` again (decision 0009).
SQLITE_TRIGGERS = [
    *SQLITE_TRIGGERS_0002,
    "CREATE TRIGGER booking_occupancy_client_no_overlap_insert BEFORE INSERT ON booking_occupancy\n        "
    + _CLIENT_OVERLAP,
    "CREATE TRIGGER booking_occupancy_client_no_overlap_update\n"
    "        BEFORE UPDATE OF client_id, starts_at, ends_at, is_active ON booking_occupancy\n        "
    + _CLIENT_OVERLAP,
]
SQLITE_TRIGGERS_DROP = [
    *SQLITE_TRIGGERS_0002_DROP,
    "DROP TRIGGER IF EXISTS booking_occupancy_client_no_overlap_insert",
    "DROP TRIGGER IF EXISTS booking_occupancy_client_no_overlap_update",
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


@contextmanager
def _exclusion_constraints_hidden(models: list[Any]) -> Iterator[None]:
    saved = [model._meta.constraints for model in models]
    for model in models:
        model._meta.constraints = [c for c in model._meta.constraints if not isinstance(c, ExclusionConstraint)]
    try:
        yield
    finally:
        for model, constraints in zip(models, saved, strict=True):
            model._meta.constraints = constraints


class SqliteRebuildSafe(migrations.operations.base.Operation):
    """Wrap an operation that makes Django rebuild a table on SQLite (a new one-to-one or check constraint, most
    field changes): the rebuilt table is created from the model state, whose PostgreSQL exclusion constraints SQLite
    cannot parse, so they are hidden from the rebuild. Elsewhere the wrapped operation runs as it is. (The rebuild
    also drops the table's triggers: the migration must create them again.)"""

    def __init__(self, operation: Any) -> None:
        self.operation = operation

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.operation], {})

    @property
    def reversible(self) -> bool:  # type: ignore[override]
        return bool(self.operation.reversible)

    def state_forwards(self, app_label: str, state: Any) -> None:
        self.operation.state_forwards(app_label, state)

    def _run(self, forwards: bool, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        run = self.operation.database_forwards if forwards else self.operation.database_backwards
        if schema_editor.connection.vendor != "sqlite":
            run(app_label, schema_editor, from_state, to_state)
            return
        name = self.operation.model_name
        models = [state.apps.get_model(app_label, name) for state in (from_state, to_state)]
        with _exclusion_constraints_hidden(models):
            run(app_label, schema_editor, from_state, to_state)

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self._run(True, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self._run(False, app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"{self.operation.describe()} (SQLite: rebuilt without the exclusion constraints)"
