"""The caller's own identity and memberships."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from backend.accounts.services import user_update
from backend.organizations.selectors import memberships_of
from mobile_api.errors import COMMON_ERROR_RESPONSES
from mobile_api.types import Text

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
    email: str
    language: str
    telegram_linked: bool
    memberships: list[MembershipOut]


class MePatchIn(Schema):
    """Only the fields sent are changed."""

    first_name: Text | None = Field(None, max_length=150)
    last_name: Text | None = Field(None, max_length=150)
    email: Text | None = Field(None, max_length=254, description="empty string clears it")
    language: Literal["ru", "kk", "en"] | None = None


@router.get("/me", response={200: MeOut, **COMMON_ERROR_RESPONSES}, summary="Who am I")
def me(request: HttpRequest) -> MeOut:
    return _me_out(request.auth)  # type: ignore[attr-defined]


@router.patch(
    "/me",
    response={200: MeOut, **COMMON_ERROR_RESPONSES},
    summary="Change my profile",
    description="422 `invalid_email` for a malformed e-mail.",
)
def me_update(request: HttpRequest, payload: MePatchIn) -> MeOut:
    user = request.auth  # type: ignore[attr-defined]
    user_update(user=user, actor=user, **payload.model_dump(exclude_unset=True, exclude_none=True))
    return _me_out(user)


def _me_out(user: Any) -> MeOut:
    return MeOut(
        id=user.id,
        phone=user.phone,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
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
