"""Brigada settings, read from the environment.

The embedded default (no variables set) is a development setup: SQLite in WAL mode under ``var/``,
the in-memory channel layer and the database-backed task queue. ``DATABASE_URL`` selects PostgreSQL,
``REDIS_URL`` the Redis channel layer. With ``DEBUG`` off, ``SECRET_KEY`` and ``ALLOWED_HOSTS`` are required.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from backend.config.channel_layers import redis_layer

BASE_DIR = Path(__file__).resolve().parents[3]
VAR_DIR = Path(os.environ.get("BRIGADA_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean flag; accepts 1/0, true/false, yes/no, on/off."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DATABASE_URL = os.environ.get("DATABASE_URL", "")
# The embedded default (no DATABASE_URL) is a development setup and runs with DEBUG on; a production-shaped setup
# (DATABASE_URL given) runs with DEBUG off unless told otherwise, so forgetting DEBUG=0 cannot expose debug pages.
DEBUG = env_bool("DEBUG", not DATABASE_URL)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")

INSTALLED_APPS = [
    "daphne",
    # Before django.contrib.auth: its createsuperuser and changepassword replace Django's with audited ones
    # (management commands of an app listed earlier win).
    "backend.accounts",
    # The back office: its templates override the admin's, so it comes first; then Django's admin with our site.
    "backend.backoffice",
    "backend.backoffice.admin_config.BrigadaAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_tasks",
    "django_tasks_db",
    "backend.core",
    "backend.organizations",
    "backend.catalog",
    "backend.booking",
    "backend.staffing",
    "backend.crm",
    "backend.imports",
    "backend.notifications",
    "backend.realtime",
    "backend.demo",
    "backend.warehouse",
    "bots",
    "backend.mobile",
    "backend.devices",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mobile_api.idempotency.IdempotencyMiddleware",
    "mobile_api.etag.ApiETagMiddleware",
]

ROOT_URLCONF = "backend.config.urls"
ASGI_APPLICATION = "backend.config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Deployment: with DEBUG off, HTTPS only ---------------------------------------------------------
# Brigada runs behind a TLS-terminating reverse proxy. Each default below is the safe one for DEBUG off;
# `manage.py check --deploy` passes with no warning (tests/config/test_deploy_check.py).
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 365 * 24 * 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    # Sends the "preload" directive only; being on the browsers' list takes a separate submission by the operator.
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# Load balancers probe over plain HTTP inside the network: the health check is not redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]


def proxy_ssl_header(raw: str) -> tuple[str, str] | None:
    """``"X-Forwarded-Proto"`` or ``"HTTP_X_FORWARDED_PROTO"`` (optionally ``",https"``) -> Django's setting.

    Set it only when the proxy always overwrites that header: otherwise a client could claim HTTPS itself.
    """
    if not raw.strip():
        return None
    header, _sep, value = raw.partition(",")
    name = header.strip().upper().replace("-", "_")
    if not name.startswith("HTTP_"):
        name = f"HTTP_{name}"
    return name, (value.strip() or "https")


SECURE_PROXY_SSL_HEADER = proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))
# Behind a TLS-terminating proxy every request reaches Django as plain HTTP: redirecting to HTTPS without knowing
# the proxy's header would redirect forever. Refused here rather than in a deploy check, because daphne and
# runserver never run deploy checks.
BRIGADA_TLS_TERMINATED_HERE = env_bool("BRIGADA_TLS_TERMINATED_HERE", False)
if not DEBUG and SECURE_SSL_REDIRECT and SECURE_PROXY_SSL_HEADER is None and not BRIGADA_TLS_TERMINATED_HERE:
    raise ImproperlyConfigured(
        "With DEBUG off, HTTP is redirected to HTTPS, but SECURE_PROXY_SSL_HEADER is not set: behind a "
        "TLS-terminating proxy every request would look like HTTP and be redirected forever. Either set "
        "SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (the header your proxy always sets), or, if Brigada itself "
        "terminates TLS, set BRIGADA_TLS_TERMINATED_HERE=1; to serve plain HTTP behind something else that "
        "redirects, set SECURE_SSL_REDIRECT=0."
    )
# Origins (scheme://host) allowed to POST forms when they differ from the host, e.g. behind a proxy on another port.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Database -------------------------------------------------------------------------------------
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "brigada.sqlite3"),
            # WAL + BEGIN IMMEDIATE + a long busy timeout: several processes (web, task worker) write
            # without "database is locked" (measured in FIELD-NOTES: 48-73 tasks/s default vs 180-212 tuned).
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                    " PRAGMA busy_timeout=20000;"
                ),
            },
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- Channels ---------------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {"default": redis_layer(REDIS_URL)}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Throttle counters and other short-lived shared state must be shared by every ASGI process.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Background work --------------------------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "outbox"]}}

# --- i18n -------------------------------------------------------------------------------------------
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("kk", _("Kazakh")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "backend" / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Moscow")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

# --- Brigada ----------------------------------------------------------------------------------------
# Lifetimes of auth artefacts (seconds).
# Access tokens live at most 15 minutes whatever the environment says (refresh tokens carry the session).
BRIGADA_ACCESS_TOKEN_TTL = min(int(os.environ.get("BRIGADA_ACCESS_TOKEN_TTL", 15 * 60)), 15 * 60)
BRIGADA_REFRESH_TOKEN_TTL = int(os.environ.get("BRIGADA_REFRESH_TOKEN_TTL", 30 * 24 * 3600))
BRIGADA_OTP_TTL = int(os.environ.get("BRIGADA_OTP_TTL", 5 * 60))
BRIGADA_OTP_MAX_ATTEMPTS = 5
BRIGADA_IDEMPOTENCY_TTL = 48 * 3600
# Retention jobs run hourly by every `run_worker` (each is idempotent, so several workers may run them).
BRIGADA_HOUSEKEEPING = [
    "backend.core.services.idempotency_purge",
    "backend.core.services.task_results_purge",
    "backend.accounts.services.otp_challenges_purge",
    "backend.accounts.lockout.login_throttles_purge",
    "bots.state.processed_updates_purge",
    "bots.state.flow_states_purge",
]
BRIGADA_HOUSEKEEPING_INTERVAL = float(os.environ.get("BRIGADA_HOUSEKEEPING_INTERVAL", 3600))
# Periodic sweeps every `run_worker` runs each `--sweep-interval` seconds (idempotent; each returns counts).
# Registered here so that backend.core, which runs them, imports no app.
BRIGADA_SWEEPS = [
    "backend.notifications.dispatch.outbox_sweep",
    "backend.staffing.services.confirmations.confirmations_due_run",
    "backend.staffing.services.reliability.reliability_nightly_kick",
    "backend.booking.tasks.comms_sweep",  # hourly birthday run; waiting-list holds and entries past their end
]

# Throttle rates ("N/s", "N/m", "N/h"); bound when routes are created, so tests set them via env.
BRIGADA_THROTTLE_ANON = os.environ.get("BRIGADA_THROTTLE_ANON", "60/m")
BRIGADA_THROTTLE_USER = os.environ.get("BRIGADA_THROTTLE_USER", "600/m")
BRIGADA_OTP_SEND_PER_PHONE = os.environ.get("BRIGADA_OTP_SEND_PER_PHONE", "5/h")
BRIGADA_OTP_SEND_PER_IP = os.environ.get("BRIGADA_OTP_SEND_PER_IP", "30/h")
# Seconds before the same phone may ask for another code (the "resend in 59 s" timer); 0 turns it off.
BRIGADA_OTP_RESEND_INTERVAL = int(os.environ.get("BRIGADA_OTP_RESEND_INTERVAL", 60))
# Back-office (admin) password sign-in: wrong passwords allowed per account and per IP in a window, then a lock.
BRIGADA_ADMIN_LOGIN_ACCOUNT_RATE = os.environ.get("BRIGADA_ADMIN_LOGIN_ACCOUNT_RATE", "5/15m")
BRIGADA_ADMIN_LOGIN_IP_RATE = os.environ.get("BRIGADA_ADMIN_LOGIN_IP_RATE", "20/15m")
BRIGADA_ADMIN_LOCKOUT_SECONDS = int(os.environ.get("BRIGADA_ADMIN_LOCKOUT_SECONDS", 15 * 60))
# Only this many reverse proxies are trusted for X-Forwarded-For (0 = use REMOTE_ADDR).
# Staffing: how long an offer waits for an answer, when the day-before confirmation is asked and closes (hours
# before the shift starts), and the solver's time budget per dispatch.
STAFFING_OFFER_TTL_MINUTES = int(os.environ.get("STAFFING_OFFER_TTL_MINUTES", 30))
STAFFING_CONFIRM_ASK_HOURS = int(os.environ.get("STAFFING_CONFIRM_ASK_HOURS", 24))
STAFFING_CONFIRM_CUTOFF_HOURS = int(os.environ.get("STAFFING_CONFIRM_CUTOFF_HOURS", 12))
STAFFING_SOLVER_TIME_LIMIT_S = float(os.environ.get("STAFFING_SOLVER_TIME_LIMIT_S", 5))
STAFFING_MAX_ORDER_DAYS = int(os.environ.get("STAFFING_MAX_ORDER_DAYS", 92))
# A worker's profile photo: the largest upload accepted (bytes) and the largest picture (width x height pixels).
STAFFING_PHOTO_MAX_BYTES = int(os.environ.get("STAFFING_PHOTO_MAX_BYTES", 5 * 1024 * 1024))
STAFFING_PHOTO_MAX_PIXELS = int(os.environ.get("STAFFING_PHOTO_MAX_PIXELS", 25_000_000))

NINJA_NUM_PROXIES = int(os.environ.get("NUM_PROXIES", "0"))

TELEGRAM_BOT_TOKEN = os.environ.get("TELEGRAM_BOT_TOKEN", "")
TELEGRAM_WEBHOOK_SECRET = os.environ.get("TELEGRAM_WEBHOOK_SECRET", "")
TELEGRAM_API_BASE_URL = os.environ.get("TELEGRAM_API_BASE_URL", "")
SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", str(VAR_DIR / "sms.log"))
SMS_HTTP_URL = os.environ.get("SMS_HTTP_URL", "")
SMS_HTTP_TOKEN = os.environ.get("SMS_HTTP_TOKEN", "")
TELEGRAM_BACKEND = os.environ.get("TELEGRAM_BACKEND", "api")  # "api" (Bot API over HTTP) or "memory"
# Push notifications (backend.devices.push): "file" (JSON lines, the default), "http" (an FCM/APNs-shaped
# provider at PUSH_HTTP_URL with a bearer key), "memory" (tests) or a dotted path.
PUSH_BACKEND = os.environ.get("PUSH_BACKEND", "file")
PUSH_FILE_PATH = os.environ.get("PUSH_FILE_PATH", str(VAR_DIR / "push.log"))
PUSH_HTTP_URL = os.environ.get("PUSH_HTTP_URL", "")
PUSH_HTTP_KEY = os.environ.get("PUSH_HTTP_KEY", "")

# Staffing, the shift itself: the half-life of a past call's weight in the reliability score (days), and how early
# before a shift its workers may check in (minutes). The check-in radius is per site (Site.check_in_radius_m).
STAFFING_RELIABILITY_HALF_LIFE_DAYS = float(os.environ.get("STAFFING_RELIABILITY_HALF_LIFE_DAYS", 180))
STAFFING_CHECK_IN_EARLY_MINUTES = int(os.environ.get("STAFFING_CHECK_IN_EARLY_MINUTES", 60))

# Outbox and task workers (seconds): a SENDING row older than the time-out is flagged for reconciliation;
# a worker silent for TASKS_STALE_AFTER is dead and its RUNNING tasks are re-queued.
OUTBOX_SENDING_TIMEOUT = float(os.environ.get("OUTBOX_SENDING_TIMEOUT", 300))
TASKS_HEARTBEAT_INTERVAL = float(os.environ.get("TASKS_HEARTBEAT_INTERVAL", 5))
TASKS_STALE_AFTER = float(os.environ.get("TASKS_STALE_AFTER", 30))
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

# --- Logging: JSON lines, secrets redacted by a filter ------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "backend.core.logging.RedactingFilter"}},
    "formatters": {"json": {"()": "backend.core.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}

# Delta sync (decision 0022): a cursor is served this long after it was issued; an older one is a 410 and the app
# takes a fresh snapshot.
BRIGADA_SYNC_RETENTION = datetime.timedelta(days=int(os.environ.get("BRIGADA_SYNC_RETENTION_DAYS", "30")))
