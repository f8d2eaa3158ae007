"""The caller's own identity and memberships."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from backend.organizations.selectors import memberships_of

from ..errors import COMMON_ERROR_RESPONSES

router = Router(tags=["me"])


class MembershipOut(Schema):
    organization_id: int
    organization_name: str
    branch_id: int | None
    role: str


class MeOut(Schema):
    id: int
    phone: str
    first_name: str
    last_name: str
    language: str
    telegram_linked: bool
    memberships: list[MembershipOut]


@router.get("/me", response={200: MeOut, **COMMON_ERROR_RESPONSES}, summary="Who am I")
def me(request: HttpRequest) -> MeOut:
    user = request.auth  # type: ignore[attr-defined]
    return MeOut(
        id=user.id,
        phone=user.phone,
        first_name=user.first_name,
        last_name=user.last_name,
        language=user.language,
        telegram_linked=user.telegram_user_id is not None,
        memberships=[
            MembershipOut(
                organization_id=m.organization_id,
                organization_name=m.organization.name,
                branch_id=m.branch_id,
                role=m.role,
            )
            for m in memberships_of(user)
        ],
    )
