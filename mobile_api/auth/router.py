"""Phone + one-time-code login, token refresh and logout."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status

from backend.accounts.models import User
from backend.accounts.services import otp_request, otp_verify
from backend.accounts.tokens import TokenPair, token_refresh, token_revoke
from backend.core.net import client_ip
from mobile_api.auth.schemas import OtpRequestIn, OtpRequestOut, OtpVerifyIn, RefreshIn, TokenPairOut, UserOut
from mobile_api.errors import COMMON_ERROR_RESPONSES, ErrorEnvelope

router = Router(tags=["auth"])

# Public operations cannot answer 401 for a missing token; they document what they can answer.
PUBLIC_ERRORS = {422: ErrorEnvelope, 429: ErrorEnvelope}


def _user_agent(request: HttpRequest) -> str:
    return str(request.headers.get("User-Agent", ""))[:200]


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.pk,
        phone=user.phone,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        language=user.language,
        telegram_linked=user.telegram_user_id is not None,
    )


def _pair_out(pair: TokenPair) -> TokenPairOut:
    now = timezone.now()
    assert pair.user is not None  # token_pair_issue always sets it
    return TokenPairOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=max(0, int((pair.access_expires_at - now).total_seconds())),
        refresh_expires_in=max(0, int((pair.refresh_expires_at - now).total_seconds())),
        user=user_out(pair.user),
    )


@router.post(
    "/otp/request",
    auth=None,
    response={202: OtpRequestOut, **PUBLIC_ERRORS},
    summary="Send a one-time login code",
    description=(
        "Sends a code by SMS, or by Telegram when the account is linked to it. The answer is the same whether or "
        "not the phone belongs to an account. 429 `throttled` with `Retry-After` when this phone or network asked "
        "for too many codes; 422 `invalid_phone`."
    ),
)
def otp_request_view(request: HttpRequest, payload: OtpRequestIn) -> Status[OtpRequestOut]:
    result = otp_request(
        phone=payload.phone,
        ip=client_ip(request),
        language=payload.language,
        fallback_language=getattr(request, "LANGUAGE_CODE", None),  # from Accept-Language (LocaleMiddleware)
    )
    return Status(202, OtpRequestOut(sent=True, expires_in=result.expires_in, retry_after=result.retry_after or None))


@router.post(
    "/otp/verify",
    auth=None,
    response={200: TokenPairOut, 403: ErrorEnvelope, **PUBLIC_ERRORS},
    summary="Exchange a one-time code for tokens",
    description=(
        "422 with code `invalid_code` (wrong code; up to 5 tries), `code_expired` (expired, used or replaced by a "
        "newer code: request another) or `too_many_attempts` (request another code); 403 `account_disabled`."
    ),
)
def otp_verify_view(request: HttpRequest, payload: OtpVerifyIn) -> TokenPairOut:
    pair = otp_verify(phone=payload.phone, code=payload.code, user_agent=_user_agent(request))
    return _pair_out(pair)


@router.post(
    "/refresh",
    auth=None,
    response={200: TokenPairOut, 401: ErrorEnvelope, **PUBLIC_ERRORS},
    summary="Rotate a refresh token",
    description=(
        "Returns a new pair; the old refresh token stops working. Presenting an already rotated refresh token "
        "revokes the whole session (401 `invalid_refresh_token`), so refresh from one place at a time."
    ),
)
def refresh_view(request: HttpRequest, payload: RefreshIn) -> TokenPairOut:
    pair = token_refresh(refresh_token=payload.refresh_token, user_agent=_user_agent(request))
    return _pair_out(pair)


@router.post(
    "/logout",
    response={204: None, **COMMON_ERROR_RESPONSES},
    summary="Log out",
    description="Revokes the session of the bearer token: its access and refresh tokens stop working.",
)
def logout_view(request: HttpRequest) -> Status[None]:
    header = str(request.headers.get("Authorization", ""))
    scheme, _, raw = header.partition(" ")
    if scheme.lower() == "bearer" and raw.strip():
        token_revoke(raw=raw.strip())
    return Status(204, None)
