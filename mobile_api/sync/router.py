"""``GET /sync``: the caller's changes since a cursor, in pages (decision 0022). Thin: the service decides what
changed and what the caller may see; this module only shapes each row as its own read route does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from ninja import Query, Router

from backend.mobile.services import sync
from mobile_api.booking.router import appointment_out
from mobile_api.crm.router import client_out
from mobile_api.crm.schemas import ClientOut
from mobile_api.errors import COMMON_ERROR_RESPONSES, ErrorEnvelope
from mobile_api.staffing.attendance_schemas import EarningLineOut
from mobile_api.staffing.router import offer_out, worker_out

from .schemas import SyncChangeOut, SyncPageOut, SyncQuery

router = Router(tags=["sync"])


def _profile(user: Any) -> dict[str, Any]:
    worker = getattr(user, "staffing_worker", None)
    return {
        "id": user.pk,
        "phone": user.phone,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "language": user.language,
        "worker": worker_out(worker).model_dump(mode="json") if worker is not None else None,
    }


def _earning(a: Any) -> dict[str, Any]:
    order = a.shift.order
    line = EarningLineOut(
        shift_id=a.shift_id,
        date=a.shift.date,
        order_title=order.title,
        site_name=order.site.name,
        hours=a.hours,
        pay_rate=order.pay_rate,
        amount=a.pay_amount,
        currency=order.currency,
    )
    return line.model_dump(mode="json")


SHAPES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "profile": _profile,
    "appointments": lambda a: appointment_out(a).model_dump(mode="json"),
    "offers": lambda o: offer_out(o).model_dump(mode="json"),
    "shifts": lambda o: offer_out(o).model_dump(mode="json"),
    "earnings": _earning,
    "clients": lambda c: ClientOut(**client_out(c)).model_dump(mode="json"),
}


def _data(collection: str, row: Model | None) -> dict[str, Any] | None:
    return SHAPES[collection](row) if row is not None else None


@router.get(
    "/sync",
    response={200: SyncPageOut, **COMMON_ERROR_RESPONSES, 410: ErrorEnvelope},
    summary="What changed for me since a cursor (offline sync)",
    description="Without `since`: a full snapshot of the collections the phone keeps (`profile`, `appointments`, "
    "`offers`, `shifts`, `earnings`, and for staff `clients`), in pages (`snapshot: true`). With `since`: the "
    "current state of every item changed after it (`upsert`) and a tombstone (`delete`) for each item that left the "
    "caller's copy (cancelled, withdrawn, deleted). Call again with `cursor` while `has_more` is true; store the "
    "last `cursor`. 410 `sync_cursor_expired` for a cursor older than the retention window: drop the local copy "
    "and start again without `since`; 410 `sync_resync_required` when your memberships changed since the cursor "
    "(what you may see changed): the same. 422 `invalid_cursor` for a cursor that is not yours or was altered.",
)
def sync_get(request: HttpRequest, query: Query[SyncQuery]) -> SyncPageOut:
    page = sync.sync_page(user=request.auth, cursor=query.since, limit=query.limit)  # type: ignore[attr-defined]
    return SyncPageOut(
        snapshot=page.snapshot,
        changes=[
            SyncChangeOut(collection=c.collection, id=c.id, op=c.op, data=_data(c.collection, c.row))  # type: ignore[arg-type]
            for c in page.changes
        ],
        cursor=page.cursor,
        has_more=page.has_more,
    )
