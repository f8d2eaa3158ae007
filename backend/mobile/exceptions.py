"""Mobile error codes and the one refusal the domains do not have: a sync cursor past the retention window."""

from __future__ import annotations

from enum import StrEnum

from backend.core.exceptions import ApplicationError


class MobileErrorCode(StrEnum):
    SYNC_CURSOR_EXPIRED = "sync_cursor_expired"
    SYNC_RESYNC_REQUIRED = "sync_resync_required"
    INVALID_SYNC_CURSOR = "invalid_cursor"


class Gone(ApplicationError):
    """The resource (here: the changes after a cursor) is no longer served; the client must start over."""

    status = 410
