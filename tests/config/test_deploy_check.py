"""With DEBUG off the deploy settings are safe: `check --deploy` is silent, HTTP is redirected behind the proxy."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

from backend.config.settings.base import proxy_ssl_header

ROOT = Path(__file__).resolve().parents[2]


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}}
    env.update(
        DJANGO_SETTINGS_MODULE="backend.config.settings.base",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),  # 67 random characters
        ALLOWED_HOSTS="crm.example.org",
        BRIGADA_VAR_DIR=str(tmp_path),
        **extra,
    )
    return env


@pytest.mark.parametrize("proxy_header", ["", "X-Forwarded-Proto"])
def test_check_deploy_reports_nothing_with_production_settings(tmp_path: Path, proxy_header: str) -> None:
    # when
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_production_env(tmp_path, SECURE_PROXY_SSL_HEADER=proxy_header),
    )

    # then: not one warning, and none silenced
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr and "?:" not in result.stdout + result.stderr


def test_production_settings_are_https_only(tmp_path: Path) -> None:
    # when
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS >= 31536000, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_production_env(tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto"),
    )

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True True True ('HTTP_X_FORWARDED_PROTO', 'https')"


def test_the_proxy_header_setting_accepts_both_spellings() -> None:
    assert proxy_ssl_header("") is None
    assert proxy_ssl_header("X-Forwarded-Proto") == ("HTTP_X_FORWARDED_PROTO", "https")
    assert proxy_ssl_header("HTTP_X_FORWARDED_PROTO, https") == ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_behind_the_proxy_plain_http_is_redirected_and_https_is_served() -> None:
    # when
    plain = Client().get("/admin/login/")
    proxied = Client().get("/admin/login/", headers={"X-Forwarded-Proto": "https"})
    health = Client().get("/healthz")

    # then
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/admin/login/"
    assert proxied.status_code == 200
    assert health.status_code != 301  # load balancers probe over HTTP inside the network
