"""``manage.py flush`` that may also empty the append-only event log.

Django's flush deletes (SQLite) or truncates (PostgreSQL) every table; the event-log triggers refuse both unless
the connection says a flush is running. Emptying the whole database is not editing its history, and the test
runner flushes after every transactional test.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import DEFAULT_DB_ALIAS, connections

from backend.core.events import event_log_flush_allowed


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        with event_log_flush_allowed(connection):
            super().handle(**options)
