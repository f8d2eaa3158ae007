"""The live order board: each shift's planned / offered / accepted / confirmed / checked-in / no-show counts.

One channel-layer group per organization (``staffing.board.<organization id>``); the dispatchers, managers and
owners of that organization (and of its HQ) watch it at ``ws/v1/staffing/board/``. Every service that moves a
shift's counters calls :func:`publish_board` inside its transaction; the counts are read and sent only after the
commit, so nobody sees a count that rolled back, and what is sent is the committed row, not the caller's guess.
A client that reconnects reads :func:`board_snapshot` (also served by ``GET /api/v1/staffing/board``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import QuerySet

from backend.core.clock import clock_now
from backend.core.cursors import keyset_page
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_get
from backend.staffing.models import Shift

logger = logging.getLogger("brigada.staffing.board")

# The board covers shifts that ended at most this long ago (a dispatcher still marks their attendance) by default.
BOARD_LOOKBACK = dt.timedelta(days=1)
BOARD_AHEAD = dt.timedelta(days=14)
BOARD_MAX_SHIFTS = 500
BOARD_EVENT = "board.shift"


def board_group(organization_id: int) -> str:
    """The channel-layer group of one organization's board."""
    return f"staffing.board.{organization_id}"


def _shifts() -> QuerySet[Shift]:
    return Shift.objects.select_related("order", "order__site").order_by("starts_at", "id")


def board_row(shift: Shift) -> dict[str, Any]:
    """One shift as the board shows it (JSON-safe)."""
    return {
        "shift_id": shift.pk,
        "organization_id": shift.organization_id,
        "order_id": shift.order_id,
        "order_title": shift.order.title,
        "site_name": shift.order.site.name,
        "date": shift.date.isoformat(),
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
        "status": shift.status,
        "headcount": shift.headcount,
        "planned": shift.call_cap,
        "offered": shift.offered_count,
        "accepted": shift.accepted_count,
        "confirmed": shift.confirmed_count,
        "checked_in": shift.checked_in_count,
        "no_show": shift.no_show_count,
    }


def _send(shift_ids: list[int]) -> None:
    layer = get_channel_layer()
    if layer is None or not shift_ids:
        return
    by_org: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for shift in _shifts().filter(pk__in=shift_ids):
        by_org[shift.organization_id].append(board_row(shift))
    for organization_id, rows in by_org.items():
        try:
            async_to_sync(layer.group_send)(board_group(organization_id), {"type": BOARD_EVENT, "shifts": rows})
        except Exception:  # best effort: the counts are in the database, and a reconnecting board reads them
            logger.warning("board publish failed", extra={"organization_id": organization_id, "shifts": len(rows)})


def publish_board(shift_ids: Iterable[int]) -> None:
    """Tell the boards of the shifts' organizations their current counts once the current transaction commits.

    Call it from every service that changes a shift's counters (offers, accepts, declines, confirmations,
    releases, check-ins, no-shows), inside its transaction. Outside a transaction it sends at once.
    """
    ids = sorted({int(pk) for pk in shift_ids})
    if ids:
        transaction.on_commit(lambda: _send(ids), robust=True)


def _board_shifts(
    *,
    user: Any,
    organization_id: int,
    starts_from: dt.datetime | None,
    starts_before: dt.datetime | None,
    now: dt.datetime | None,
) -> QuerySet[Shift]:
    organization = organization_get(user, organization_id, Perm.STAFFING_MANAGE)
    now = now or clock_now()
    starts_from = starts_from or now - BOARD_LOOKBACK
    starts_before = starts_before or now + BOARD_AHEAD
    return _shifts().filter(organization_id=organization.pk, starts_at__gte=starts_from, starts_at__lt=starts_before)


def board_snapshot(
    *,
    user: Any,
    organization_id: int,
    starts_from: dt.datetime | None = None,
    starts_before: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The organization's board: its shifts starting in ``[starts_from, starts_before)`` (by default from a day ago
    to two weeks ahead), at most ``BOARD_MAX_SHIFTS``. Dispatchers, managers and owners only (404 outside the
    caller's tenancy, 403 without the right)."""
    shifts = _board_shifts(
        user=user, organization_id=organization_id, starts_from=starts_from, starts_before=starts_before, now=now
    )
    return [board_row(shift) for shift in shifts[:BOARD_MAX_SHIFTS]]


def board_page(
    *, user: Any, organization_id: int, cursor: str | None, limit: int, now: dt.datetime | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The board's default window a page at a time (by keyset on the shift's start), and the cursor of the next
    page, None on the last: what ``GET /api/v1/staffing/board`` serves, with no cap on the number of shifts."""
    shifts = _board_shifts(user=user, organization_id=organization_id, starts_from=None, starts_before=None, now=now)
    rows, next_cursor = keyset_page(
        shifts, sort="staffing.board", keys=[("starts_at", dt.datetime)], cursor=cursor, limit=limit
    )
    return [board_row(shift) for shift in rows], next_cursor


def board_access(*, user: Any, organization_id: int) -> int:
    """The organization whose board the caller may watch (raises NotFound / PermissionDenied otherwise)."""
    return organization_get(user, organization_id, Perm.STAFFING_MANAGE).pk
