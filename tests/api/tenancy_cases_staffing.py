"""Tenancy cases for the staffing routes (mobile_api/staffing/): one block per router module.

Builders make a complete staffing world inside one organization (an HQ or a franchise): a corporate client, a
site, an order with its shift, a worker with an offer. The walk swaps each id for a stranger's in turn (see
tenancy_cases.py). Worker routes act on the caller's own offers and windows: their cases give ``build_for``, so the
roles check builds the call for the member it checks.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone

from backend.accounts.models import User
from backend.organizations.models import Organization, Role
from backend.organizations.permissions import Perm
from backend.staffing.models import (
    CorporateClient,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Shift,
    Site,
    SolverRun,
    Worker,
    WorkerAvailability,
)
from tests.api.tenancy_cases import Call, TenancyCase, register
from tests.conftest import member

MANAGE, SELF = (Perm.STAFFING_MANAGE,), (Perm.STAFFING_SELF,)
_seq = itertools.count(1)
# Control digits are checked, so the walk reuses one real legal entity in every organization.
LEGAL = {"inn": "7707083893", "kpp": "773601001", "ogrn": "1027700132195"}


def _client(org: Organization) -> CorporateClient:
    return CorporateClient.objects.create(
        organization=org, name="Stroy", kpp=f"7736{next(_seq) % 100:02d}001", inn=LEGAL["inn"], ogrn=LEGAL["ogrn"]
    )


def _site(org: Organization) -> Site:
    return Site.objects.create(
        organization=org,
        client=_client(org),
        name="Yard",
        address="Lenina 1",
        latitude=Decimal("55.75"),
        longitude=Decimal("37.61"),
        conditions="outdoor",
    )


def _order(org: Organization, status: str = OrderStatus.DRAFT) -> tuple[Order, Shift]:
    site = _site(org)
    day = (timezone.now() + dt.timedelta(days=3)).date()
    order = Order.objects.create(
        organization=org,
        client=site.client,
        site=site,
        title="Loaders",
        start_date=day,
        end_date=day,
        shift_start=dt.time(8),
        shift_end=dt.time(20),
        headcount=2,
        pay_rate=Decimal("400"),
        bill_rate=Decimal("600"),
        status=status,
    )
    starts = dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)
    shift = Shift.objects.create(
        organization=org,
        order=order,
        date=day,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=12),
        headcount=2,
        call_cap=3,
    )
    return order, shift


def _worker(org: Organization, user: User | None = None) -> Worker:
    user = user or member(org, Role.WORKER)
    return Worker.objects.create(
        organization=org,
        user=user,
        skills=["loader"],
        home_latitude=Decimal("55.76"),
        home_longitude=Decimal("37.61"),
        status="active",
    )


def _offer(org: Organization, user: User | None = None, status: str = OfferStatus.OFFERED) -> Offer:
    _, shift = _order(org, OrderStatus.IN_PROGRESS)
    now = timezone.now()
    offer = Offer.objects.create(
        organization=org,
        shift=shift,
        worker=_worker(org, user),
        status=status,
        wave=1,
        offered_at=now,
        expires_at=now + dt.timedelta(hours=1),
    )
    if status == OfferStatus.ACCEPTED:
        Shift.objects.filter(pk=shift.pk).update(accepted_count=1)
    return offer


def _offer_call(status: str = OfferStatus.OFFERED, body: dict[str, Any] | None = None) -> dict[str, Any]:
    def build(org: Organization) -> Call:
        return Call(path={"offer_id": _offer(org, status=status).pk}, body=body)

    def build_for(org: Organization, user: User) -> Call:
        return Call(path={"offer_id": _offer(org, user, status=status).pk}, body=body)

    return {"build": build, "build_for": build_for, "needs": SELF}


def _window(org: Organization, user: User | None = None) -> Call:
    worker = _worker(org, user)
    start = timezone.now() + dt.timedelta(days=1)
    row = WorkerAvailability.objects.create(worker=worker, starts_at=start, ends_at=start + dt.timedelta(hours=8))
    return Call(path={"availability_id": row.pk})


def _in_org(org: Organization, **query: Any) -> Call:
    return Call(query={"organization_id": org.pk, **query})


def _order_path(org: Organization, status: str = OrderStatus.DRAFT, body: dict[str, Any] | None = None) -> Call:
    return Call(path={"order_id": _order(org, status)[0].pk}, body=body)


def _hand_off(org: Organization) -> Call:
    franchise = Organization.objects.create(name=f"Franchise {next(_seq)}", kind=org.kind, parent=org)
    return Call(path={"order_id": _order(org)[0].pk}, body={"franchise_id": franchise.pk})


def _override(org: Organization) -> Call:
    return Call(path={"order_id": _order(org)[0].pk}, body={"worker_id": _worker(org).pk, "kind": "pin"})


def _run(org: Organization) -> Call:
    order, _ = _order(org, OrderStatus.IN_PROGRESS)
    run = SolverRun.objects.create(organization=org, order=order, status="succeeded")
    return Call(path={"run_id": run.pk})


# --- st-core: offers, shifts, availability, clients, sites, orders, dispatch, solver runs -----------------------
P = "/api/v1/staffing"

register("post", f"{P}/offers/{{offer_id}}/accept", TenancyCase(**_offer_call()))
register("post", f"{P}/offers/{{offer_id}}/decline", TenancyCase(**_offer_call(body={"reason": "ill"})))
register("post", f"{P}/offers/{{offer_id}}/confirm", TenancyCase(**_offer_call(OfferStatus.ACCEPTED)))
register(
    "post",
    f"{P}/availability/{{availability_id}}/delete",
    TenancyCase(build=_window, build_for=_window, needs=SELF),
)

register("get", f"{P}/workers", TenancyCase(build=_in_org, needs=MANAGE))
register(
    "post",
    f"{P}/workers",
    TenancyCase(
        build=lambda org: Call(body={"organization_id": org.pk, "phone": f"+7701777{next(_seq):04d}"}), needs=MANAGE
    ),
)
register(
    "get",
    f"{P}/workers/{{worker_id}}",
    TenancyCase(build=lambda org: Call(path={"worker_id": _worker(org).pk}), needs=MANAGE),
)
register(
    "post",
    f"{P}/workers/{{worker_id}}/status",
    TenancyCase(
        build=lambda org: Call(path={"worker_id": _worker(org).pk}, body={"status": "suspended"}), needs=MANAGE
    ),
)
register("get", f"{P}/clients", TenancyCase(build=_in_org, needs=MANAGE))
register(
    "post",
    f"{P}/clients",
    TenancyCase(build=lambda org: Call(body={"organization_id": org.pk, "name": "Stroy", **LEGAL}), needs=MANAGE),
)
register(
    "get",
    f"{P}/clients/{{client_id}}",
    TenancyCase(build=lambda org: Call(path={"client_id": _client(org).pk}), needs=MANAGE),
)
register(
    "patch",
    f"{P}/clients/{{client_id}}",
    TenancyCase(build=lambda org: Call(path={"client_id": _client(org).pk}, body={"name": "Renamed"}), needs=MANAGE),
)
register("get", f"{P}/sites", TenancyCase(build=lambda org: _in_org(org, client_id=_client(org).pk), needs=MANAGE))
register(
    "post",
    f"{P}/sites",
    TenancyCase(
        build=lambda org: Call(
            body={
                "client_id": _client(org).pk,
                "name": "Yard",
                "address": "Lenina 1",
                "latitude": "55.75",
                "longitude": "37.61",
                "conditions": "outdoor",
            }
        ),
        needs=MANAGE,
    ),
)
register("get", f"{P}/orders", TenancyCase(build=_in_org, needs=MANAGE))
register(
    "post",
    f"{P}/orders",
    TenancyCase(
        build=lambda org: Call(
            body={
                "site_id": _site(org).pk,
                "title": "Loaders",
                "start_date": (timezone.now() + dt.timedelta(days=3)).date().isoformat(),
                "end_date": (timezone.now() + dt.timedelta(days=3)).date().isoformat(),
                "shift_start": "08:00",
                "shift_end": "20:00",
                "headcount": 2,
                "pay_rate": "400",
                "bill_rate": "600",
            }
        ),
        needs=MANAGE,
    ),
)
register("get", f"{P}/orders/{{order_id}}", TenancyCase(build=_order_path, needs=MANAGE))
register("post", f"{P}/orders/{{order_id}}/confirm", TenancyCase(build=_order_path, needs=MANAGE))
register(
    "post",
    f"{P}/orders/{{order_id}}/cancel",
    TenancyCase(build=lambda org: _order_path(org, body={"reason": "moved"}), needs=MANAGE),
)
register("post", f"{P}/orders/{{order_id}}/hand-off", TenancyCase(build=_hand_off, needs=MANAGE))
register(
    "post",
    f"{P}/orders/{{order_id}}/dispatch",
    TenancyCase(build=lambda org: _order_path(org, OrderStatus.CONFIRMED), needs=MANAGE),
)
register("post", f"{P}/orders/{{order_id}}/overrides", TenancyCase(build=_override, needs=MANAGE))
register("get", f"{P}/orders/{{order_id}}/why", TenancyCase(build=_order_path, needs=MANAGE))
register("get", f"{P}/orders/{{order_id}}/solver-runs", TenancyCase(build=_order_path, needs=MANAGE))
register("get", f"{P}/solver-runs/{{run_id}}", TenancyCase(build=_run, needs=MANAGE))

# --- st-ops: check-in/out, attendance, earnings, rating, board, exports ---------------------------------------
# Imports of this block stay in it, so the two blocks never touch the same lines.
import datetime as _dt  # noqa: E402
from decimal import Decimal as _Decimal  # noqa: E402

from django.utils import timezone as _timezone  # noqa: E402

from backend.organizations.models import Organization as _Organization  # noqa: E402
from backend.organizations.permissions import Perm as _Perm  # noqa: E402
from backend.staffing.models import Attendance as _Attendance  # noqa: E402
from backend.staffing.models import Offer as _Offer  # noqa: E402
from backend.staffing.models import OfferStatus as _OfferStatus  # noqa: E402
from backend.staffing.models import Shift as _Shift  # noqa: E402
from tests.api.tenancy_cases import Call as _Call  # noqa: E402
from tests.api.tenancy_cases import TenancyCase as _TenancyCase  # noqa: E402
from tests.api.tenancy_cases import register as _register  # noqa: E402
from tests.staffing.world import order_with_shift as _order_with_shift  # noqa: E402
from tests.staffing.world import pool_worker as _pool_worker  # noqa: E402

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
