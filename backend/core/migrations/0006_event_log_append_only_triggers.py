"""The database itself refuses UPDATE and DELETE on the event log (decision 0008).

The ``Event`` model already refuses ``save()`` of an existing row and ``delete()``, but ``QuerySet.update()``,
``QuerySet.delete()`` and raw SQL never reach the model. Triggers do, on both supported databases. Emptying the
table is let through only while ``manage.py flush`` runs on the connection
(``backend.core.events.event_log_flush_allowed``): TRUNCATE on PostgreSQL, DELETE on SQLite (what Django's flush
uses on each). Wiping the whole database is not editing its history, and the test runner's teardown depends on it.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

POSTGRESQL_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION core_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- Django's flush empties PostgreSQL tables with TRUNCATE only: a row DELETE is never let through.
        IF TG_OP = 'TRUNCATE' AND current_setting('brigada.events_flush', true) = 'on' THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION 'core_event is append-only: % refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER core_event_append_only_rows BEFORE UPDATE OR DELETE ON core_event
        FOR EACH ROW EXECUTE FUNCTION core_event_append_only()
    """,
    # TRUNCATE fires no row trigger, so it gets its own statement trigger.
    """
    CREATE TRIGGER core_event_append_only_truncate BEFORE TRUNCATE ON core_event
        FOR EACH STATEMENT EXECUTE FUNCTION core_event_append_only()
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS core_event_append_only_truncate ON core_event",
    "DROP TRIGGER IF EXISTS core_event_append_only_rows ON core_event",
    "DROP FUNCTION IF EXISTS core_event_append_only()",
]

# SQLite has no session variables: the DELETE guard asks a function that Brigada registers on every connection
# it opens (backend.core.apps). A connection without it (the sqlite3 shell, another program) fails with
# "no such function", so the guard fails closed.
SQLITE_FORWARD = [
    """
    CREATE TRIGGER core_event_append_only_update BEFORE UPDATE ON core_event
    BEGIN
        SELECT RAISE(ABORT, 'core_event is append-only: UPDATE refused');
    END
    """,
    """
    CREATE TRIGGER core_event_append_only_delete BEFORE DELETE ON core_event
    WHEN brigada_events_flush_allowed() IS NOT 1
    BEGIN
        SELECT RAISE(ABORT, 'core_event is append-only: DELETE refused');
    END
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS core_event_append_only_delete",
    "DROP TRIGGER IF EXISTS core_event_append_only_update",
]


def _run(statements: dict[str, list[str]]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        if vendor not in statements:
            raise RuntimeError(f"No append-only triggers for the {vendor} database: add them before using it.")
        for sql in statements[vendor]:
            schema_editor.execute(sql, params=None)  # None: the "%" in the PL/pgSQL is not a placeholder

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0005_event_actions_privileged_and_export"),
    ]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
            elidable=False,
        ),
    ]
