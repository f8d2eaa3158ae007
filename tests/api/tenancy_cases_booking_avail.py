"""Tenancy cases of the slot search, the journal and the masters of a service (booking, availability part).

Each build makes a branch with two services and a master who performs both and works from today on, so every id
field (branch, service, services, master) names an object of that organization and the search has slots to find.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from backend.organizations.models import Organization
from backend.organizations.permissions import Perm
from tests.api.tenancy_cases import Call, TenancyCase, register
from tests.booking.booking_world import branch_of, master_at, service_at


def _bookable(org: Organization) -> dict[str, Any]:
    branch = branch_of(org, "Asia/Almaty")
    cut, colour = service_at(branch, 60, name="Cut"), service_at(branch, 30, name="Colour")
    today = timezone.now().date()
    master = master_at(
        branch, [cut, colour], first_day=today - dt.timedelta(days=1), last_day=today + dt.timedelta(days=30)
    )
    day = today + dt.timedelta(days=2)
    return {
        "branch_id": branch.pk,
        "service_id": cut.pk,
        "service_ids": [colour.pk],
        "staff_id": master.pk,
        "date": day,
    }


register(
    "get",
    "/api/v1/booking/slots",
    TenancyCase(build=lambda org: Call(query=_bookable(org)), needs=(Perm.CATALOG_VIEW,)),
)


def _journal(org: Organization) -> Call:
    found = _bookable(org)
    return Call(query={"branch_id": found["branch_id"], "date": found["date"], "staff_ids": [found["staff_id"]]})


register("get", "/api/v1/booking/journal", TenancyCase(build=_journal, needs=(Perm.SCHEDULE_VIEW,)))


def _masters(org: Organization) -> Call:
    found = _bookable(org)
    return Call(query={"branch_id": found["branch_id"], "service_id": found["service_id"]})


register("get", "/api/v1/catalog/staff", TenancyCase(build=_masters, needs=(Perm.CATALOG_VIEW,)))
