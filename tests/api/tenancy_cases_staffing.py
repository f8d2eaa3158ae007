"""Tenancy cases for the staffing routes (mobile_api/staffing/): one block per router module.

Builders make a complete staffing world inside one organization (an HQ or a franchise): a corporate client, a
site, an order with its shifts, a worker of the organization's pool with an offer. The walk swaps each id for a
stranger's in turn (see tenancy_cases.py).
"""

from __future__ import annotations

# --- st-core: offers, shifts, availability, clients, sites, orders, dispatch, solver runs -----------------------
# --- st-ops: check-in/out, attendance, earnings, rating, board, exports ---------------------------------------
# Imports of this block stay in it, so the two blocks never touch the same lines.
import datetime as _dt
from decimal import Decimal as _Decimal

from django.utils import timezone as _timezone

from backend.organizations.models import Organization as _Organization
from backend.organizations.permissions import Perm as _Perm
from backend.staffing.models import Attendance as _Attendance
from backend.staffing.models import Offer as _Offer
from backend.staffing.models import OfferStatus as _OfferStatus
from backend.staffing.models import Shift as _Shift
from tests.api.tenancy_cases import Call as _Call
from tests.api.tenancy_cases import TenancyCase as _TenancyCase
from tests.api.tenancy_cases import register as _register
from tests.staffing.world import order_with_shift as _order_with_shift
from tests.staffing.world import pool_worker as _pool_worker

_STAFFING = (_Perm.STAFFING_MANAGE,)


def _started_offer(org: _Organization, status: str = _OfferStatus.CONFIRMED) -> _Offer:
    """A confirmed call-up of ``org``'s pool worker for a shift of ``org`` that started an hour ago."""
    start = _timezone.now() - _dt.timedelta(hours=1)
    _, shift = _order_with_shift(org, headcount=2, call_cap=3, day=start.date())
    _Shift.objects.filter(pk=shift.pk).update(
        starts_at=start, ends_at=start + _dt.timedelta(hours=8), accepted_count=1, confirmed_count=1
    )
    offer = _Offer.objects.create(
        organization=org, shift=shift, worker=_pool_worker(org), wave=1, status=status, confirmed_at=_timezone.now()
    )
    if status == _OfferStatus.COMPLETED:
        _Attendance.objects.create(
            organization=org,
            offer=offer,
            shift=shift,
            worker=offer.worker,
            checked_in_at=start,
            hours=_Decimal("8.00"),
            pay_amount=_Decimal("3200.00"),
            bill_amount=_Decimal("5200.00"),
        )
    return offer


def _period(org: _Organization) -> dict[str, object]:
    today = _timezone.now().date()
    return {"organization_id": org.pk, "date_from": str(today - _dt.timedelta(days=1)), "date_to": str(today)}


_register(
    "post",
    "/api/v1/staffing/offers/{offer_id}/attendance",
    _TenancyCase(
        build=lambda org: _Call(path={"offer_id": _started_offer(org).pk}, body={"outcome": "no_show"}),
        needs=_STAFFING,
    ),
)
_register(
    "post",
    "/api/v1/staffing/offers/{offer_id}/quality",
    _TenancyCase(
        build=lambda org: _Call(
            path={"offer_id": _started_offer(org, _OfferStatus.COMPLETED).pk}, body={"quality_score": 8}
        ),
        needs=_STAFFING,
    ),
)
_register(
    "get",
    "/api/v1/staffing/shifts/{shift_id}/attendance",
    _TenancyCase(build=lambda org: _Call(path={"shift_id": _started_offer(org).shift_id}), needs=_STAFFING),
)
_register(
    "get",
    "/api/v1/staffing/board",
    _TenancyCase(
        build=lambda org: _Call(query={"organization_id": _started_offer(org).organization_id}), needs=_STAFFING
    ),
)
_register(
    "get",
    "/api/v1/staffing/orders/{order_id}/money",
    _TenancyCase(
        build=lambda org: _Call(path={"order_id": _started_offer(org, _OfferStatus.COMPLETED).shift.order_id}),
        needs=_STAFFING,
    ),
)
_register(
    "get",
    "/api/v1/staffing/exports/payroll",
    _TenancyCase(
        build=lambda org: _Call(query={**_period(_started_offer(org, _OfferStatus.COMPLETED).organization)}),
        needs=_STAFFING,
    ),
)
_register(
    "get",
    "/api/v1/staffing/exports/invoice",
    _TenancyCase(
        build=lambda org: _Call(
            query={
                **_period(org),
                "client_id": _started_offer(org, _OfferStatus.COMPLETED).shift.order.client_id,
            }
        ),
        needs=_STAFFING,
    ),
)
