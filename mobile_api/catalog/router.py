"""Catalog reads for the app and the booking flow: branches and their services."""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from backend.catalog.selectors import branch_list, service_list_for_branch
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


class ServiceListOut(Schema):
    items: list[ServiceOut]
    next_cursor: str | None = Field(None, description="Always null today; kept for the list convention.")


class ServiceQuery(Schema):
    branch_id: int = Field(..., ge=1, le=MAX_ID)


@router.get(
    "/branches",
    response={200: BranchListOut, **OBJECT_ERROR_RESPONSES},
    summary="Branches of my organizations",
    description="Active branches of the caller's organizations, or of `organization_id` "
    "(404 when it is not one of them).",
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
        for b in branch_list(user=user, organization_id=query.organization_id)
    ]
    return BranchListOut(items=items, next_cursor=None)


@router.get(
    "/services",
    response={200: ServiceListOut, **OBJECT_ERROR_RESPONSES},
    summary="Services offered at a branch",
    description="Active services of the branch's organization. A branch of another organization is a 404.",
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
        )
        for s in service_list_for_branch(user=user, branch_id=query.branch_id)
    ]
    return ServiceListOut(items=items, next_cursor=None)
