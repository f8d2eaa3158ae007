"""Test settings: fast hasher, local memory cache and mail; same database selection as base."""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "1")

# Under pytest-xdist each worker gets its own databases: pytest-django suffixes the test database's name
# (``_gw0``, ``_gw1``), and here each worker moves to its own Redis database (the given one plus the worker's number),
# so channel-layer groups and cache keys of two workers never meet. The environment is rewritten too: tests that
# build their own layer from REDIS_URL, and the servers they start, use the worker's database.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and os.environ.get("REDIS_URL"):
    from urllib.parse import urlsplit, urlunsplit

    _url = urlsplit(os.environ["REDIS_URL"])
    _base = int(_url.path.lstrip("/") or 0)
    os.environ["REDIS_URL"] = urlunsplit(_url._replace(path=f"/{(_base + int(_worker[2:])) % 16}"))

from .base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "memory"
TELEGRAM_BACKEND = "memory"
LANGUAGE_CODE = "en"
BRIGADA_THROTTLE_ANON = os.environ.get("BRIGADA_THROTTLE_ANON", "100000/s")
BRIGADA_THROTTLE_USER = os.environ.get("BRIGADA_THROTTLE_USER", "100000/s")

# Several test runs may share one PostgreSQL server: each can pick its own test database name.
if os.environ.get("BRIGADA_TEST_DB_NAME"):
    from .base import DATABASES

    DATABASES["default"]["TEST"] = {"NAME": os.environ["BRIGADA_TEST_DB_NAME"]}
