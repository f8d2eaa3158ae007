"""``Idempotency-Key`` for every POST under /api/v1/ (except auth, whose answers hold secrets).

How it works: before the view runs, a record keyed by (caller, route, key) is *inserted* under a unique
constraint and committed. Concurrent retries with the same key race on that insert; exactly one wins and runs
the view, the others see the record (FIELD-NOTES: 20 concurrent retries → one effect). When the view finishes
with a final status (2xx, or a 4xx other than 401/408/409/423/425/429, which mean "not now") its response is stored
with its Location / Content-Disposition headers; a later retry with the same body gets the stored response, with
another body a 422 ``idempotency_key_reused``; a retry while the first is still running gets 409
``idempotency_in_progress`` with Retry-After. A 5xx, a transient 4xx or a crash releases the key so the client may
retry. Records are kept ``BRIGADA_IDEMPOTENCY_TTL`` (48 h) and then purged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.accounts.tokens import access_token_user
from backend.core.exceptions import ErrorCode
from backend.core.models import IdempotencyRecord
from backend.core.net import client_ip
from backend.core.services import idempotency_purge  # noqa: F401  (re-exported for callers of this module)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
API_PREFIX = "/api/v1/"
EXEMPT_PREFIXES = ("/api/v1/auth/",)
# A request still "in progress" after this long is assumed dead (its process crashed) and its key is released.
STALE_AFTER = timedelta(minutes=15)
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)
    for k, v in (headers or {}).items():
        response[k] = v
    return response


def _caller_scope(request: HttpRequest) -> str:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        user = access_token_user(auth[7:].strip())
        if user is not None:
            return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def _request_hash(request: HttpRequest) -> str:
    """What the request means: method, path and query, and the body (for uploads: fields and file contents).

    Multipart bodies are hashed from the parsed form, not the raw bytes: their boundaries are random per attempt,
    and reading ``request.body`` would cap uploads at DATA_UPLOAD_MAX_MEMORY_SIZE.
    """
    digest = hashlib.sha256()
    digest.update((request.method or "").encode())
    digest.update(request.get_full_path().encode())
    if request.META.get("CONTENT_TYPE", "").startswith("multipart/"):
        for name, values in sorted(request.POST.lists()):
            digest.update(json.dumps([name, values]).encode())
        for name, uploads in sorted(request.FILES.lists()):
            for upload in uploads:
                digest.update(json.dumps([name, upload.name, upload.size]).encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(request.body)
    return digest.hexdigest()


# Answers that say "not now" rather than "this is the result": replaying them would be wrong, so the key is released.
_TRANSIENT_STATUSES = {401, 408, 409, 423, 425, 429}
_REPLAYED_HEADERS = ("Location", "Content-Disposition")


def _stored_response(record: IdempotencyRecord) -> HttpResponse:
    response: HttpResponse
    if record.response_body is None:
        response = HttpResponse(status=record.status_code or 204)
    else:
        response = JsonResponse(record.response_body, status=record.status_code or 200, safe=False)
    for name, value in (record.response_headers or {}).items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyMiddleware:
    """Django middleware; a no-op for requests without the header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if (
            key is None
            or request.method != "POST"
            or not request.path.startswith(API_PREFIX)
            or request.path.startswith(EXEMPT_PREFIXES)
        ):
            return self.get_response(request)
        if not _KEY_RE.match(key):
            return _error(
                422,
                ErrorCode.VALIDATION_ERROR,
                _("Idempotency-Key must be 1-255 printable ASCII characters."),
            )
        scope = f"{_caller_scope(request)} {request.path}"[:255]
        try:
            request_hash = _request_hash(request)
        except RequestDataTooBig:
            return _error(413, "payload_too_large", _("The request body is too large."))
        record = self._claim(scope, key, request_hash)
        if isinstance(record, HttpResponse):
            return record
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        content_type = response.get("Content-Type", "")
        replayable = (
            response.status_code < 500
            and response.status_code not in _TRANSIENT_STATUSES
            and (not response.content or content_type.startswith("application/json"))
        )
        if not replayable:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
        else:
            body = json.loads(response.content) if response.content else None
            headers = {name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)}
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status_code=response.status_code,
                response_body=body,
                response_headers=headers,
                completed_at=timezone.now(),
            )
        return response

    def _claim(self, scope: str, key: str, request_hash: str) -> IdempotencyRecord | HttpResponse:
        for _attempt in range(2):
            try:
                with transaction.atomic():
                    return IdempotencyRecord.objects.create(scope=scope, key=key, request_hash=request_hash)
            except IntegrityError:
                existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
                if existing is None:
                    continue  # released between our insert and read: try once more
                now = timezone.now()
                expired = existing.created_at < now - timedelta(seconds=settings.BRIGADA_IDEMPOTENCY_TTL)
                stale = existing.completed_at is None and existing.created_at < now - STALE_AFTER
                if expired or stale:
                    IdempotencyRecord.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
                    continue
                if existing.request_hash != request_hash:
                    return _error(
                        422,
                        ErrorCode.IDEMPOTENCY_KEY_REUSED,
                        _("This Idempotency-Key was already used with a different request."),
                    )
                if existing.completed_at is None:
                    return _error(
                        409,
                        ErrorCode.IDEMPOTENCY_IN_PROGRESS,
                        _("A request with this Idempotency-Key is still being processed."),
                        headers={"Retry-After": "1"},
                    )
                return _stored_response(existing)
        return _error(409, ErrorCode.IDEMPOTENCY_IN_PROGRESS, _("Try again."), headers={"Retry-After": "1"})
