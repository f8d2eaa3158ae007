"""A "C"-collated partial btree on (organization, name_key, id) for the type-ahead's name prefix
(``backend.crm.search._name_prefix``): LIKE 'ab%' becomes a range scan that also yields the rows in order, so a
one- or two-letter prefix among 100,000 clients reads ``limit`` index entries instead of every match.

PostgreSQL only (SQLite compares by code point already; this migration does nothing there). A linguistic
collation (ru_RU, en_US) btree such as ``crm_client_org_name_idx`` cannot serve LIKE prefixes; one in the "C"
collation can. Partial (``deleted_at IS NULL``): the search never looks at deleted clients. On a large live table
create it ``CONCURRENTLY`` by hand first (``IF NOT EXISTS`` then skips it); see ADR 0025.
"""

from typing import Any

from django.db import migrations

NAME = "crm_client_org_name_prefix"


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS {NAME} ON crm_client (organization_id, name_key COLLATE "C", id) '
        "WHERE deleted_at IS NULL"
    )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_search_trigram_indexes"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
