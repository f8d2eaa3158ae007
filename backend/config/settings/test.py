"""Test settings: fast hasher, local memory cache and mail; same database selection as base."""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "1")

from .base import *  # noqa: F403

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
