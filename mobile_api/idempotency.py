"""``Idempotency-Key`` for every write (POST, PUT, PATCH, DELETE) under /api/v1/ (except auth, whose answers hold
secrets). A phone that queued writes offline replays them with their keys: each takes effect once.

One effect, always (decision 0006, which supersedes parts of 0004). The request runs in ONE transaction:

1. insert a record keyed by (caller, route, key) under a unique constraint;
2. run the view (its services' own ``atomic`` blocks become savepoints of this transaction);
3. store the final answer in that record; commit.

The effect and its stored answer therefore commit together or not at all. Only an answer below 400 is stored.
Any 4xx or 5xx, an exception or a dead worker rolls the effect back *with* the record, so the key is free again
and a retry runs the request anew (a 4xx had no effect to repeat: a refusal answered before the caller's
promotion, or a 422 before the body was corrected, must not be replayed); a retry after a 5xx performs the
change exactly once, and there is no moment at which a committed effect lacks its answer.
``transaction.on_commit`` hooks (real-time pushes, outbox kicks) fire only after that commit, and are discarded
with a rollback.

A concurrent retry with the same key waits on the uncommitted insert (a unique index makes PostgreSQL wait for
the first transaction; SQLite serialises writers): when the first commits, the retry gets the stored answer;
when it rolls back, the retry runs. A retry that has waited ``WAIT_FOR_FIRST`` seconds gets 409
``idempotency_in_progress`` with Retry-After. The same key with another body is a 422 ``idempotency_key_reused``
once a (successful) answer is stored; after a 4xx nothing is stored, so the corrected body simply runs.

A replay is an answer given now: the record lists the (organization, permission) grants the first answer relied
on and the (model, pk) of every row its events recorded (see ``backend.core.access_trace``). The caller must still
pass each grant, or gets the 404/403 envelope the route would give today, and must still see each row by the rule
its app registered (``backend.core.visibility``; a model without one is covered by the grants), or gets the 404
envelope: a client deleted since is not replayed to a role that no longer finds it. JSON and empty bodies are
replayed with their Location / Content-Disposition headers; a success whose body is not JSON (a file, a stream)
is replayed as its status and Location alone, but its effect is never repeated. Records are kept
``BRIGADA_IDEMPOTENCY_TTL`` (48 h) and then purged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.access_trace import AccessTrace, access_traced
from backend.core.exceptions import ApplicationError, ErrorCode
from backend.core.models import IdempotencyRecord
from backend.core.net import client_ip
from backend.core.services import idempotency_purge  # noqa: F401  (re-exported for callers of this module)
from backend.core.visibility import entities_committed, entities_visible
from backend.organizations.selectors import organization_access_check
from mobile_api.errors import API_PREFIX, envelope
from mobile_api.security import request_token_user

HEADER = "Idempotency-Key"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255
EXEMPT_PREFIXES = ("/api/v1/auth/",)
# How long a retry waits for the first request with its key to commit or roll back before it is told to come back.
WAIT_FOR_FIRST = timedelta(seconds=5)
# Records left unfinished by the design before 0006 (claim committed first) are released after this long.
STALE_AFTER = timedelta(minutes=15)
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
_LOCK_NOT_AVAILABLE = "55P03"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JsonResponse:
    # The middleware answers before (or after) any NinjaAPI runs, so it builds the one envelope itself.
    response = JsonResponse(envelope(code=code, message=message), status=status)
    for k, v in (headers or {}).items():
        response[k] = v
    return response


def _in_progress() -> JsonResponse:
    return _error(
        409,
        ErrorCode.IDEMPOTENCY_IN_PROGRESS,
        _("A request with this Idempotency-Key is still being processed."),
        headers={"Retry-After": "1"},
    )


def _caller(request: HttpRequest) -> AbstractBaseUser | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return request_token_user(request, auth[7:].strip())
    return None


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


# Only answers below 400 are stored. A 4xx never has an effect (its writes roll back with it), so running it again
# is safe, and replaying one would be wrong: a 403 must not outlive the caller's promotion, a 409 the conflict, a
# 422 the correction of the body. A 5xx, likewise, is released so that the retry performs the change.
_STORED_BELOW = 400
_REPLAYED_HEADERS = ("Location", "Content-Disposition")


class _Release(Exception):
    """Roll the request's transaction back, the effect and the record with it, and answer ``response``."""

    def __init__(self, response: HttpResponseBase) -> None:
        super().__init__("release the Idempotency-Key")
        self.response = response


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


def _replay(record: IdempotencyRecord, user: AbstractBaseUser | None) -> HttpResponse:
    """The stored answer, if the caller still passes every tenancy check it relied on and still sees every row it
    wrote; else today's 404/403 (a row gone from the caller's sight is a 404, as its ``GET`` is)."""
    for organization_id, perm in record.access or []:
        try:
            organization_access_check(user, int(organization_id), str(perm))
        except ApplicationError as exc:
            return _error(exc.status, exc.code, exc.message)
    if not entities_visible(user, record.entities or {}):
        return _error(404, ErrorCode.NOT_FOUND, _("Not found."))
    return _stored_response(record)


def _json_body(response: HttpResponseBase) -> tuple[bool, object]:
    """``(True, body)`` when the answer can be stored and replayed as it was; ``(False, None)`` otherwise."""
    if response.streaming or not isinstance(response, HttpResponse):
        return False, None
    if not response.content:
        return True, None
    if not response.get("Content-Type", "").startswith("application/json"):
        return False, None
    try:
        return True, json.loads(response.content)
    except ValueError:
        return False, None


def _store(record: IdempotencyRecord, response: HttpResponseBase, trace: AccessTrace) -> bool:
    """Store a final answer in the request's transaction; ``False`` when the key must be released instead."""
    status = response.status_code
    if status >= _STORED_BELOW:
        return False
    if transaction.get_rollback():
        # The view answered after a database error that broke the transaction: nothing of it can commit.
        return False
    storable, body = _json_body(response)
    headers = {name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)}
    if not storable:
        headers.pop("Content-Disposition", None)  # no file comes with the replay
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status_code=status,
        response_body=body,
        response_headers=headers,
        access=[list(grant) for grant in trace.grants],
        entities=entities_committed(trace.entities()),
        completed_at=timezone.now(),
    )
    return True


def _insert(scope: str, key: str, request_hash: str) -> IdempotencyRecord | HttpResponse | None:
    """Insert the record in the request's transaction; ``None`` when another request holds this key.

    On PostgreSQL the insert waits while an uncommitted insert of the same key exists, at most ``WAIT_FOR_FIRST``
    (``lock_timeout``, set for this statement only); then the answer is 409 ``idempotency_in_progress``.
    """
    postgres = connection.vendor == "postgresql"
    try:
        with transaction.atomic():  # savepoint: losing the race must not break the request's transaction
            if postgres:
                # Two statements: the order in which one SELECT evaluates its columns is not guaranteed.
                with connection.cursor() as cursor:
                    cursor.execute("SELECT current_setting('lock_timeout')")
                    previous = cursor.fetchone()[0]
                    cursor.execute(
                        "SELECT set_config('lock_timeout', %s, true)",
                        [f"{int(WAIT_FOR_FIRST.total_seconds() * 1000)}ms"],
                    )
            record = IdempotencyRecord.objects.create(scope=scope, key=key, request_hash=request_hash)
            if postgres:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
            return record
    except IntegrityError:
        return None
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            return _in_progress()
        raise


def _claim(scope: str, key: str, request_hash: str, user: AbstractBaseUser | None) -> IdempotencyRecord | HttpResponse:
    for _attempt in range(3):
        inserted = _insert(scope, key, request_hash)
        if inserted is not None:
            return inserted
        existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if existing is None:
            continue  # the holder rolled back between our insert and read: try again
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
            return _in_progress()
        return _replay(existing, user)
    return _in_progress()


class IdempotencyMiddleware:
    """Django middleware; a no-op for requests without the header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        key = request.headers.get(HEADER)
        if (
            key is None
            or request.method not in WRITE_METHODS
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
        user = _caller(request)
        caller = f"user:{user.pk}" if user is not None else f"ip:{client_ip(request)}"
        scope = f"{caller} {request.path}"[:255]
        try:
            request_hash = _request_hash(request)
        except RequestDataTooBig:
            return _error(413, "payload_too_large", _("The request body is too large."))
        try:
            with transaction.atomic():
                claimed = _claim(scope, key, request_hash, user)
                if isinstance(claimed, HttpResponse):
                    return claimed
                with access_traced() as trace:
                    response = self.get_response(request)
                if not _store(claimed, response, trace):
                    raise _Release(response)
                return response
        except _Release as release:
            return release.response
        except (OperationalError, InterfaceError):
            # The database went away while claiming or storing (the view's own database errors are answered by
            # the API's handlers): the transaction, and any effect in it, is gone, so the client may simply retry.
            return _error(503, "unavailable", _("Service temporarily unavailable."), headers={"Retry-After": "2"})
