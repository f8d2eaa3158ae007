"""A live ASGI server (Daphne: HTTP and WebSocket) inside the test process, for browser tests.

Daphne's Twisted reactor runs in a daemon thread for the whole session (a reactor cannot be restarted), serving the
project's own ``backend.config.asgi.application``. Being in this process, it shares what a test sets up:
pytest-django's test database (on SQLite the in-memory database is opened in shared-cache mode, so the server's
threads see the test's committed rows: use ``transactional_db``) and the in-memory channel layer, so an event
published by a request the server handles reaches the server's sockets as it would in one ``runstack`` process.
On PostgreSQL + Redis it is the same as production: its own connections and the Redis layer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class LiveAsgi:
    url: str  # http://127.0.0.1:PORT

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http") :]


def _start() -> tuple[LiveAsgi, Any]:
    from daphne.server import Server
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from backend.config.asgi import application as project_application

    # Static files from the apps' folders, as `runstack` serves them in development (StaticLiveServerTestCase does
    # the same); every other request, and every socket, goes to the project's application.
    application = ASGIStaticFilesHandler(project_application)
    ready = threading.Event()
    server = Server(
        application,
        endpoints=["tcp:port=0:interface=127.0.0.1"],
        signal_handlers=False,
        verbosity=0,
        ready_callable=ready.set,
    )
    thread = threading.Thread(target=server.run, name="live-asgi", daemon=True)
    thread.start()
    if not ready.wait(timeout=30):
        raise RuntimeError("the live ASGI server did not start in 30 s")
    for _ in range(300):  # the address is recorded by the listen callback, right after ready
        if server.listening_addresses:
            break
        threading.Event().wait(0.01)
    host, port = server.listening_addresses[0]
    logging.getLogger("daphne").setLevel(logging.WARNING)
    return LiveAsgi(url=f"http://{host}:{port}"), thread


@pytest.fixture(scope="session")
def _asgi_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[LiveAsgi]:
    """Started once; stopped before the test database is dropped (this fixture depends on its setup)."""
    from django.db import connection
    from twisted.internet import reactor

    live, thread = _start()
    yield live
    reactor.callFromThread(reactor.stop)  # type: ignore[attr-defined]
    thread.join(timeout=10)
    # The server's worker threads keep their database connections; on PostgreSQL they would stop the test database
    # from being dropped, so they are ended here.
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture
def asgi_live_server(transactional_db: Any, _asgi_server: LiveAsgi) -> LiveAsgi:
    """The session's live ASGI server over this test's database."""
    return _asgi_server
