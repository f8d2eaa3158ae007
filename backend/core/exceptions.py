"""Application errors with stable, machine-readable codes.

Services raise these; transports (API, bot, consumers) turn them into their own shapes. Clients branch on
``code``, never on ``message``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Codes shared by every domain. Domains add their own enums next to their services."""

    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    VALIDATION_ERROR = "validation_error"
    THROTTLED = "throttled"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"
    BAD_REQUEST = "bad_request"


class ApplicationError(Exception):
    """A failure the caller can act on. ``status`` is the HTTP status the API maps it to."""

    status: int = 400
    default_code: str = ErrorCode.BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = str(code or self.default_code)
        self.fields = fields or {}
        if status is not None:
            self.status = status
        self.headers = headers or {}


class NotFound(ApplicationError):
    status = 404
    default_code = ErrorCode.NOT_FOUND


class PermissionDenied(ApplicationError):
    status = 403
    default_code = ErrorCode.FORBIDDEN


class Unauthorized(ApplicationError):
    status = 401
    default_code = ErrorCode.UNAUTHORIZED


class Conflict(ApplicationError):
    status = 409
    default_code = ErrorCode.CONFLICT


class ValidationFailed(ApplicationError):
    status = 422
    default_code = ErrorCode.VALIDATION_ERROR


class Throttled(ApplicationError):
    status = 429
    default_code = ErrorCode.THROTTLED

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = max(1, int(retry_after))
