from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _connection_prepare(sender: Any, connection: Any, **kwargs: Any) -> None:
    from .events import sqlite_event_guard_install

    sqlite_event_guard_install(connection)


class CoreConfig(AppConfig):
    name = "backend.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # The append-only trigger on SQLite calls a function that must exist on every connection.
        connection_created.connect(_connection_prepare, dispatch_uid="brigada.core.sqlite_event_guard")
