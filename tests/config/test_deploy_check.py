"""With DEBUG off the deploy settings are safe: `check --deploy` is silent, HTTP is redirected behind the proxy,
and a redirect that would loop behind a TLS proxy refuses to start."""

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


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], capture_output=True, text=True, cwd=ROOT, env=env)


@pytest.mark.embedded_only  # a child process without DATABASE_URL: the SQLite leg runs it
@pytest.mark.parametrize(
    "tls", [{"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, {"BRIGADA_TLS_TERMINATED_HERE": "1"}]
)
def test_check_deploy_reports_nothing_with_production_settings(tmp_path: Path, tls: dict[str, str]) -> None:
    # when: behind a TLS proxy that says so, or with TLS terminated by Brigada itself
    result = _manage(_production_env(tmp_path, **tls), "check", "--deploy", "--fail-level", "WARNING")

    # then: not one warning, and none silenced
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr and "?:" not in result.stdout + result.stderr


@pytest.mark.embedded_only  # a child process without DATABASE_URL: the SQLite leg runs it
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


@pytest.mark.embedded_only  # a child process without DATABASE_URL: the SQLite leg runs it
@pytest.mark.parametrize("command", [("check", "--deploy"), ("runstack", "--help"), ("migrate", "--check")])
def test_an_https_redirect_without_the_proxy_header_refuses_to_start(tmp_path: Path, command: tuple[str, ...]) -> None:
    # when: DEBUG off redirects HTTP to HTTPS, but nothing tells Django a request came in over HTTPS
    result = _manage(_production_env(tmp_path), *command)

    # then: refused at settings load (every command and the server), with the ways out named
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "redirected forever" in result.stderr
    for way_out in (
        "SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto",
        "BRIGADA_TLS_TERMINATED_HERE=1",
        "SECURE_SSL_REDIRECT=0",
    ):
        assert way_out in result.stderr


@pytest.mark.embedded_only  # a child process without DATABASE_URL: the SQLite leg runs it
def test_plain_http_behind_something_else_starts_without_the_redirect(tmp_path: Path) -> None:
    # when
    result = _manage(_production_env(tmp_path, SECURE_SSL_REDIRECT="0"), "check")

    # then
    assert result.returncode == 0, result.stderr


@pytest.mark.embedded_only  # a child process without DATABASE_URL: the SQLite leg runs it
def test_production_settings_serve_https_from_the_proxy_and_redirect_plain_http(tmp_path: Path) -> None:
    # when: the production settings module itself (not overridden settings) answers a request
    code = (
        "import django; django.setup(); from django.test import Client; c = Client(HTTP_HOST='crm.example.org');"
        "p = c.get('/admin/login/', headers={'X-Forwarded-Proto': 'https'}); h = c.get('/admin/login/');"
        "print(p.status_code, h.status_code, h['Location'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_production_env(tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto"),
    )

    # then: served, not redirected, when the proxy says HTTPS
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "301", "https://crm.example.org/admin/login/"]


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
