"""``GET /home``: the phone's first screen for the caller's roles in one call. Thin: the service composes the
domains' selectors; this module shapes the blocks with the domains' own card shapes."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from backend.mobile.services import home as services
from mobile_api.booking.router import appointment_out
from mobile_api.errors import OBJECT_ERROR_RESPONSES
from mobile_api.staffing.attendance_schemas import MoneyTotal
from mobile_api.staffing.router import offer_out

from .schemas import (
    AtRiskShiftOut,
    CustomerHomeOut,
    DispatcherHomeOut,
    HomeOut,
    HomeQuery,
    ManagerHomeOut,
    MasterHomeOut,
    StatusCount,
    WaitlistOfferCardOut,
    WorkerHomeOut,
)

router = Router(tags=["home"])


def _money(totals: dict[str, object]) -> list[MoneyTotal]:
    return [MoneyTotal(currency=c, amount=a) for c, a in sorted(totals.items())]  # type: ignore[arg-type]


def home_out(h: services.Home) -> HomeOut:
    c = h.customer
    customer = CustomerHomeOut(
        next_visits=[appointment_out(a) for a in c.next_visits],
        waitlist_offers=[
            WaitlistOfferCardOut(
                entry_id=e.pk,
                offer_id=o.pk,
                organization_id=o.organization_id,
                branch_name=e.branch.name,
                staff_id=o.staff_id,
                starts_at=o.starts_at,
                ends_at=o.ends_at,
                hold_until=o.hold_until,
            )
            for e, o in c.waitlist_offers
        ],
    )
    worker = None
    if (w := h.worker) is not None:
        worker = WorkerHomeOut(
            open_offers=[offer_out(o) for o in w.open_offers],
            next_shift=offer_out(w.next_shift) if w.next_shift is not None else None,
            confirmations_due=[offer_out(o) for o in w.confirmations_due],
            month_start=w.month_start,
            month_hours=w.month_hours,
            month_totals=_money(dict(w.month_totals)),
        )
    master = None
    if (m := h.master) is not None:
        master = MasterHomeOut(date=m.day, visits=[appointment_out(a) for a in m.visits])
    dispatcher = None
    if (d := h.dispatcher) is not None:
        dispatcher = DispatcherHomeOut(
            within_hours=d.within_hours,
            at_risk=[
                AtRiskShiftOut(
                    shift_id=s.pk,
                    order_id=s.order_id,
                    order_title=s.order.title,
                    site_address=s.order.site.address,
                    starts_at=s.starts_at,
                    headcount=s.headcount,
                    accepted=s.accepted_count,
                    confirmed=s.confirmed_count,
                    missing=max(0, s.headcount - s.accepted_count),
                )
                for s in d.at_risk
            ],
        )
    manager = None
    if (g := h.manager) is not None:
        manager = ManagerHomeOut(
            date=g.day,
            appointments=g.appointments,
            by_status=[StatusCount(status=k, count=v) for k, v in sorted(g.by_status.items())],
            expected_revenue=_money(dict(g.expected_revenue)),
            new_clients=g.new_clients,
        )
    return HomeOut(
        organization_id=h.organization_id,
        roles=h.roles,
        customer=customer,
        worker=worker,
        master=master,
        dispatcher=dispatcher,
        manager=manager,
    )


@router.get(
    "/home",
    response={200: HomeOut, **OBJECT_ERROR_RESPONSES},
    summary="My first screen",
    description="One call for the phone's first screen. `customer`: your next visits and open waiting-list offers "
    "(everyone). `worker` (in a worker pool): open offers, the next shift, confirmations due, this month's earnings. "
    "`master`: your day. `dispatcher`: shifts starting within `at_risk_hours` that are short of workers. `manager`: "
    "today's numbers. A block is null without its role. The organization is `organization_id` (404 outside your "
    "organizations) or your default one.",
)
def home_get(request: HttpRequest, query: Query[HomeQuery]) -> HomeOut:
    home = services.home_read(
        user=request.auth,  # type: ignore[attr-defined]
        organization_id=query.organization_id,
        at_risk_hours=query.at_risk_hours,
    )
    return home_out(home)
