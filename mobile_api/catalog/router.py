"""Catalog reads for the app and the booking flow: branches, their services and who performs them.

Staff see their organizations' catalog; customers (users without a membership) the public one: what accepts online
booking. The selectors decide which."""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from backend.booking.selectors import catalog_branches, catalog_masters, catalog_services
from mobile_api.errors import OBJECT_ERROR_RESPONSES

router = Router(tags=["catalog"])

MAX_ID = 2**63 - 1


class BranchOut(Schema):
    id: int
    organization_id: int
    organization_name: str
    name: str
    address: str
    phone: str
    time_zone: str
    latitude: Decimal | None
    longitude: Decimal | None


class BranchListOut(Schema):
    items: list[BranchOut]
    next_cursor: str | None = Field(None, description="Always null: an organization has few branches.")


class BranchQuery(Schema):
    organization_id: int | None = Field(None, ge=1, le=MAX_ID)


class ServiceOut(Schema):
    id: int
    organization_id: int
    group_id: int | None
    group_name: str | None
    name: str
    code: str
    price: Decimal
    currency: str
    duration_minutes: int
    description: str
    is_group: bool = Field(False, description="A class or section: several clients share one session.")
    capacity: int = Field(1, description="Places in one session of a group service.")


class ServiceListOut(Schema):
    items: list[ServiceOut]
    next_cursor: str | None = Field(None, description="Always null today; kept for the list convention.")


class ServiceQuery(Schema):
    branch_id: int = Field(..., ge=1, le=MAX_ID)


class StaffQuery(Schema):
    branch_id: int = Field(..., ge=1, le=MAX_ID)
    service_id: int = Field(..., ge=1, le=MAX_ID)


class MasterOut(Schema):
    id: int
    name: str
    service_id: int
    price: Decimal = Field(..., description="The master's own price, or the service's.")
    currency: str
    duration_minutes: int = Field(..., description="The master's own duration, or the service's.")


class MasterListOut(Schema):
    items: list[MasterOut]
    next_cursor: str | None = Field(None, description="Always null today; kept for the list convention.")


@router.get(
    "/branches",
    response={200: BranchListOut, **OBJECT_ERROR_RESPONSES},
    summary="Branches of my organizations (or the public ones)",
    description="Active branches of the caller's organizations, or of `organization_id` "
    "(404 when it is not one of them). A customer (no membership) gets the branches that accept online booking.",
)
def branches(request: HttpRequest, query: Query[BranchQuery]) -> BranchListOut:
    user = request.auth  # type: ignore[attr-defined]
    items = [
        BranchOut(
            id=b.pk,
            organization_id=b.organization_id,
            organization_name=b.organization.name,
            name=b.name,
            address=b.address,
            phone=b.phone,
            time_zone=b.effective_time_zone,
            latitude=b.latitude,
            longitude=b.longitude,
        )
        for b in catalog_branches(user=user, organization_id=query.organization_id)
    ]
    return BranchListOut(items=items, next_cursor=None)


@router.get(
    "/services",
    response={200: ServiceListOut, **OBJECT_ERROR_RESPONSES},
    summary="Services offered at a branch",
    description="Active services of the branch's organization. A branch of another organization is a 404. "
    "A customer sees the services bookable online at a branch that accepts online booking.",
)
def services(request: HttpRequest, query: Query[ServiceQuery]) -> ServiceListOut:
    user = request.auth  # type: ignore[attr-defined]
    items = [
        ServiceOut(
            id=s.pk,
            organization_id=s.organization_id,
            group_id=s.group_id,
            group_name=s.group.name if s.group else None,
            name=s.name,
            code=s.code,
            price=s.price,
            currency=s.currency,
            duration_minutes=s.duration_minutes,
            description=s.description,
            is_group=s.is_group,
            capacity=s.capacity,
        )
        for s in catalog_services(user=user, branch_id=query.branch_id)
    ]
    return ServiceListOut(items=items, next_cursor=None)


@router.get(
    "/staff",
    response={200: MasterListOut, **OBJECT_ERROR_RESPONSES},
    summary="Masters for a service",
    description="The masters who perform `service_id` at `branch_id`, with their own price and duration. A customer "
    "sees those bookable online. 404 for a branch or service the caller cannot book.",
)
def staff(request: HttpRequest, query: Query[StaffQuery]) -> MasterListOut:
    user = request.auth  # type: ignore[attr-defined]
    items = [
        MasterOut(
            id=link.staff_id,
            name=link.staff.get_full_name() or str(link.staff),
            service_id=link.service_id,
            price=link.effective_price,
            currency=link.service.currency,
            duration_minutes=link.effective_duration_minutes,
        )
        for link in catalog_masters(user=user, branch_id=query.branch_id, service_id=query.service_id)
    ]
    return MasterListOut(items=items, next_cursor=None)
