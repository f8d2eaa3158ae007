"""The webhook: Telegram POSTs each update to a secret path; the view checks the secret header and processes it.

- Path: ``telegram/webhook/<path token>/``; the token is derived from the webhook secret and the bot token
  (``webhook_path_token``), so the secret itself never appears in access logs. A wrong path is a 404.
- ``X-Telegram-Bot-Api-Secret-Token`` (set with ``setWebhook(secret_token=...)``) is compared in constant time;
  wrong or missing is a 403. No secret configured: the webhook is off (404).
- CSRF-exempt (Telegram has no cookie or token to send); the test client is created with enforce_csrf_checks.
- Async, under ASGI: one application per process, initialised once (its ``getMe``) and reused. Under WSGI every
  request would rebuild it (FIELD-NOTES).
- A repeated ``update_id`` is processed once: the core handler claims it under a unique constraint first.
- The update is processed before answering; a handler failure is the error handler's business (logged, the user
  told), and Telegram still gets its 200 so it does not redeliver an update that would fail the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

if TYPE_CHECKING:
    from telegram.ext import Application

# python-telegram-bot and the bot's handlers load with the first update, not with the URLs: every Django process
# (each manage.py command, each test worker) imports this module through the URL configuration (ADR 0034 addendum).

logger = logging.getLogger("bots")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

_application: Application | None = None  # type: ignore[type-arg]
_application_loop: asyncio.AbstractEventLoop | None = None
_lock: asyncio.Lock | None = None


def webhook_path_token() -> str:
    """The secret path segment: a keyed hash of the bot token (32 hex characters)."""
    secret = settings.TELEGRAM_WEBHOOK_SECRET.encode()
    return hmac.new(secret, settings.TELEGRAM_BOT_TOKEN.encode(), hashlib.sha256).hexdigest()[:32]


def webhook_url(base: str) -> str:
    """The full URL to give ``setWebhook``: ``<base>/telegram/webhook/<path token>/``."""
    return f"{base.rstrip('/')}/telegram/webhook/{webhook_path_token()}/"


async def webhook_application() -> Application:  # type: ignore[type-arg]
    """This process's application, built and initialised on first use.

    Bound to the running event loop (its HTTP client is): a new loop (only tests make one per test) gets a new one.
    """
    global _application, _application_loop, _lock
    loop = asyncio.get_running_loop()
    if _application is not None and _application_loop is loop:
        return _application
    if _lock is None or _application_loop is not loop:
        _lock = asyncio.Lock()
    async with _lock:
        if _application is None or _application_loop is not loop:
            from bots.app import build_application

            application = build_application(with_updater=False)
            await application.initialize()
            _application, _application_loop = application, loop
    return _application


async def webhook_application_close() -> None:
    """Shut the process's application down (ASGI lifespan shutdown, tests)."""
    global _application, _application_loop
    if _application is not None:
        application, _application, _application_loop = _application, None, None
        with contextlib.suppress(RuntimeError):  # its loop is gone (a finished test)
            await application.shutdown()


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)


@csrf_exempt
async def telegram_webhook(request: HttpRequest, path_token: str) -> HttpResponse:
    secret = settings.TELEGRAM_WEBHOOK_SECRET
    if not secret or not settings.TELEGRAM_BOT_TOKEN:
        return _error(404, "not_found", "Not found.")
    if not hmac.compare_digest(path_token.encode(), webhook_path_token().encode()):
        return _error(404, "not_found", "Not found.")
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        logger.warning("telegram webhook: wrong or missing secret token")
        return _error(403, "forbidden", "Wrong secret token.")
    if request.method != "POST":
        return _error(405, "method_not_allowed", "POST only.")
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "bad_request", "The body is not JSON.")
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return _error(400, "bad_request", "Not a Telegram update.")
    application = await webhook_application()
    try:
        from telegram import Update

        update = Update.de_json(data, application.bot)
    except Exception:  # an update PTB cannot read: tell Telegram to stop resending it
        logger.warning("telegram webhook: unreadable update %s", data.get("update_id"))
        return JsonResponse({"ok": True})
    await application.process_update(update)
    return JsonResponse({"ok": True})
