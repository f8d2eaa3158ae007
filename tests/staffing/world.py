"""Builders of a small staffing world for tests (shared by every staffing test module).

``staffing_world()`` makes an HQ with one franchise, a client, a site, a one-day order with its shift and a pool
of active workers around the site. Rows are created directly: the builders set the scene, the tests call services.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from backend.accounts.models import User
from backend.organizations.models import Organization, OrganizationKind, Role
from backend.staffing.models import (
    CorporateClient,
    Order,
    OrderStatus,
    Shift,
    Site,
    SiteCondition,
    Worker,
    WorkerStatus,
)
from tests.conftest import member

_seq = itertools.count(1)
SITE_POINT = (Decimal("55.751244"), Decimal("37.618423"))


def agency(name: str = "Agency HQ", parent: Organization | None = None) -> Organization:
    """A staffing-agency organization (a franchise when ``parent`` is given) in Moscow time."""
    return Organization.objects.create(
        name=name, kind=OrganizationKind.STAFFING_AGENCY, parent=parent, time_zone="Europe/Moscow", currency="RUB"
    )


def pool_worker(
    hq: Organization,
    *,
    status: str = WorkerStatus.ACTIVE,
    skills: list[str] | None = None,
    km_north: float = 1.0,
    shows: float = 0.0,
    no_shows: float = 0.0,
    rank: float = 50.0,
    telegram: bool = False,
) -> Worker:
    """A worker of ``hq``'s pool living ``km_north`` km north of the site, with a worker membership."""
    n = next(_seq)
    user = member(hq, Role.WORKER, telegram_user_id=900000 + n if telegram else None)
    lat = SITE_POINT[0] + Decimal(str(round(km_north / 111.2, 6)))
    return Worker.objects.create(
        organization=hq,
        user=user,
        status=status,
        skills=skills if skills is not None else ["loader"],
        home_latitude=lat,
        home_longitude=SITE_POINT[1],
        decayed_shows=shows,
        decayed_no_shows=no_shows,
        rank=rank,
    )


def corporate_client(org: Organization, name: str = "Stroy LLC") -> CorporateClient:
    return CorporateClient.objects.create(
        organization=org, name=name, inn="7707083893", kpp="773601001", ogrn="1027700132195"
    )


def site(org: Organization, client: CorporateClient | None = None) -> Site:
    return Site.objects.create(
        organization=org,
        client=client or corporate_client(org),
        name="Warehouse 1",
        address="Tverskaya 1",
        latitude=SITE_POINT[0],
        longitude=SITE_POINT[1],
        conditions=SiteCondition.OUTDOOR,
    )


def order_with_shift(
    org: Organization,
    *,
    headcount: int = 3,
    day: dt.date | None = None,
    status: str = OrderStatus.DRAFT,
    call_cap: int = 0,
    site_: Site | None = None,
) -> tuple[Order, Shift]:
    """A one-day order 08:00-20:00 UTC on ``day`` (default: three days ahead) with its shift."""
    day = day or (timezone.now() + dt.timedelta(days=3)).date()
    where = site_ or site(org)
    order = Order.objects.create(
        organization=org,
        client=where.client,
        site=where,
        title="Loaders",
        start_date=day,
        end_date=day,
        shift_start=dt.time(8),
        shift_end=dt.time(20),
        headcount=headcount,
        skills=["loader"],
        pay_rate=Decimal("400.00"),
        bill_rate=Decimal("650.00"),
        status=status,
    )
    starts = dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)
    shift = Shift.objects.create(
        organization=org,
        order=order,
        date=day,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=12),
        headcount=headcount,
        call_cap=call_cap,
    )
    return order, shift


@dataclass
class World:
    hq: Organization
    franchise: Organization
    dispatcher: User
    hq_dispatcher: User
    workers: list[Worker] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def staffing_world(n_workers: int = 5) -> World:
    """An HQ, a franchise under it with a dispatcher, an HQ dispatcher, and ``n_workers`` active pool workers."""
    hq = agency("Agency HQ")
    franchise = agency("Agency North", parent=hq)
    world = World(
        hq=hq,
        franchise=franchise,
        dispatcher=member(franchise, Role.DISPATCHER),
        hq_dispatcher=member(hq, Role.DISPATCHER),
    )
    world.workers = [pool_worker(hq, km_north=1.0 + i) for i in range(n_workers)]
    return world


def declare_free(worker: Worker, start: dt.datetime, end: dt.datetime) -> None:
    """The worker declares a window through the service (as the phone would)."""
    from backend.staffing.services.pool import availability_declare

    availability_declare(user=worker.user, windows=[(start, end)])


def dispatch_world(*, n_workers: int = 12, headcount: int = 3, days_ahead: int = 3) -> World:
    """A franchise order (client, site, draft order through the services) and ``n_workers`` pool workers free all
    that day. ``world.extra`` holds ``order`` and ``shift``."""
    from backend.staffing.services.orders import client_create, order_create, site_create

    world = staffing_world(n_workers)
    day = (timezone.now() + dt.timedelta(days=days_ahead)).date()
    client = client_create(
        user=world.dispatcher,
        organization_id=world.franchise.pk,
        name="Stroy LLC",
        inn="7707083893",
        kpp="773601001",
        ogrn="1027700132195",
    )
    where = site_create(
        user=world.dispatcher,
        client_id=client.pk,
        name="Yard",
        address="Tverskaya 1",
        latitude=SITE_POINT[0],
        longitude=SITE_POINT[1],
        conditions=SiteCondition.OUTDOOR,
        time_zone="UTC",
    )
    order = order_create(
        user=world.dispatcher,
        site_id=where.pk,
        title="Loaders",
        start_date=day,
        end_date=day,
        shift_start=dt.time(8),
        shift_end=dt.time(20),
        headcount=headcount,
        pay_rate=Decimal("400"),
        bill_rate=Decimal("650"),
        skills=["loader"],
    )
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    for w in world.workers:
        declare_free(w, start, start + dt.timedelta(hours=24))
    world.extra.update(order=order, shift=order.shifts.get(), client=client, site=where)
    return world
