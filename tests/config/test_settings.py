"""Start-up refuses an unsafe production configuration; the environment selects the database and layer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Every test here starts its own process with the environment it sets (DATABASE_URL and REDIS_URL removed or its
# own): the same processes whatever the leg, so the SQLite leg runs them and the PostgreSQL leg does not repeat them.
pytestmark = pytest.mark.embedded_only

ROOT = Path(__file__).resolve().parents[2]


def _load_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DATABASE_URL", "REDIS_URL"}
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="backend.config.settings.base")
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], s.DEBUG)"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=clean)


def test_debug_off_without_secret_key_refuses_to_start(tmp_path: Path) -> None:
    result = _load_settings({"DEBUG": "0", "ALLOWED_HOSTS": "crm.example.org", "BRIGADA_VAR_DIR": str(tmp_path)})

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_off_without_allowed_hosts_refuses_to_start(tmp_path: Path) -> None:
    result = _load_settings({"DEBUG": "0", "SECRET_KEY": "x" * 50, "BRIGADA_VAR_DIR": str(tmp_path)})

    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_embedded_default_is_sqlite_in_wal_mode_and_in_memory_layer(tmp_path: Path) -> None:
    result = _load_settings({"BRIGADA_VAR_DIR": str(tmp_path)})
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    journal = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.db import connection as c;"
            "cur = c.cursor(); cur.execute('PRAGMA journal_mode'); print(cur.fetchone()[0])",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(clean, BRIGADA_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="backend.config.settings.base"),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "True",
    ]
    assert journal.stdout.strip() == "wal", journal.stderr


def test_environment_selects_postgresql_and_redis(tmp_path: Path) -> None:
    result = _load_settings(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "DEBUG": "1",
            "BRIGADA_VAR_DIR": str(tmp_path),
        }
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "channels_redis.core.RedisChannelLayer",
        "True",
    ]


def test_a_production_database_without_debug_means_debug_off_and_requires_a_secret_key(tmp_path: Path) -> None:
    result = _load_settings(
        {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test", "BRIGADA_VAR_DIR": str(tmp_path)}
    )

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_access_tokens_never_live_longer_than_15_minutes(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s;print(s.BRIGADA_ACCESS_TOKEN_TTL)",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(
            clean,
            BRIGADA_ACCESS_TOKEN_TTL="86400",
            BRIGADA_VAR_DIR=str(tmp_path),
            DJANGO_SETTINGS_MODULE="backend.config.settings.base",
        ),
    )

    assert result.stdout.strip() == "900", result.stderr
