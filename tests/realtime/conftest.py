from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from asgiref.sync import sync_to_async
from django.db import connections


@pytest.fixture(autouse=True)
async def _close_thread_connections() -> AsyncIterator[None]:
    """Consumers reach the database from asgiref's worker thread; close its connections after each test.

    With ``CONN_MAX_AGE`` (PostgreSQL settings) they would stay open and block dropping the test database.
    """
    yield
    await sync_to_async(connections.close_all)()
