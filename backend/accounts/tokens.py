"""Bearer tokens: opaque random strings, stored hashed, access ≤ 15 min, refresh rotated per use."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.events import event_record, event_record_many
from backend.core.exceptions import Unauthorized
from backend.core.models import EventAction
from backend.realtime.services import realtime_publish

from .exceptions import AuthErrorCode
from .models import AuthToken, TokenKind, User

logger = logging.getLogger("brigada.accounts.tokens")

ACCESS_PREFIX = "bga_"
REFRESH_PREFIX = "bgr_"


def token_hash(raw: str) -> str:
    """The stored form of a token: its SHA-256 (tokens are long random strings, so no salt or HMAC is needed)."""
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    token_type: str = "Bearer"
    user: User | None = None
    family: uuid.UUID | None = None  # the login session both tokens belong to


def _new_token(user: User, kind: str, family: uuid.UUID, ttl: int, user_agent: str = "") -> tuple[str, datetime]:
    raw = (ACCESS_PREFIX if kind == TokenKind.ACCESS else REFRESH_PREFIX) + secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(seconds=ttl)
    AuthToken.objects.create(
        user=user,
        kind=kind,
        token_hash=token_hash(raw),
        family=family,
        expires_at=expires,
        user_agent=user_agent[:200],
    )
    return raw, expires


@transaction.atomic
def token_pair_issue(*, user: User, user_agent: str = "", family: uuid.UUID | None = None) -> TokenPair:
    """Issue a fresh access + refresh pair (a new family unless continuing one)."""
    family = family or uuid.uuid4()
    access, access_exp = _new_token(user, TokenKind.ACCESS, family, settings.BRIGADA_ACCESS_TOKEN_TTL, user_agent)
    refresh, refresh_exp = _new_token(user, TokenKind.REFRESH, family, settings.BRIGADA_REFRESH_TOKEN_TTL, user_agent)
    logger.debug("token pair issued", extra={"user_id": user.pk, "family": str(family)})
    return TokenPair(access, refresh, access_exp, refresh_exp, user=user, family=family)


#: The ``user_agent`` of the access tokens the back office's live pages use for their sockets and API calls.
PAGE_TOKEN_AGENT = "back office page"


@transaction.atomic
def page_token_issue(*, user: User) -> tuple[str, datetime]:
    """An access token, without a refresh token, for a back-office page of a signed-in staff user: the page's
    socket and its API calls carry it (sockets authenticate by bearer token only, decision 0003). It lives the usual
    access-token lifetime in a family of its own; the page asks for a new one over its session before it expires,
    which a signed-out session can no longer do."""
    return _new_token(user, TokenKind.ACCESS, uuid.uuid4(), settings.BRIGADA_ACCESS_TOKEN_TTL, PAGE_TOKEN_AGENT)


@transaction.atomic
def token_pair_issue_by_operator(*, user: User, issued_by: str, user_agent: str = "") -> TokenPair:
    """A token pair handed out from outside the login flow (``manage.py issue_token``), recorded in the event log.

    Whoever can run the command can act as any user, so every pair it prints must leave a trace of who ran it.
    """
    pair = token_pair_issue(user=user, user_agent=user_agent)
    event_record(
        entity=user,
        action=EventAction.TOKEN_ISSUE,
        actor=None,
        after={"family": str(pair.family), "issued_by": issued_by[:100], "user_agent": user_agent[:200]},
        note="token issued outside the login flow",
    )
    return pair


def access_token_lookup(raw: str) -> AuthToken | None:
    """The live access token row (with its active user) for ``raw``, or None (unknown, expired, revoked)."""
    if not raw or not raw.startswith(ACCESS_PREFIX):
        return None
    token = (
        AuthToken.objects.select_related("user")
        .filter(
            token_hash=token_hash(raw),
            kind=TokenKind.ACCESS,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    return token


def access_token_user(raw: str) -> User | None:
    """The active user an access token belongs to, or None (unknown, expired, revoked)."""
    token = access_token_lookup(raw)
    return token.user if token is not None else None


def _sessions_revoked_publish(user_id: int, family: uuid.UUID | None) -> None:
    # Open WebSockets of the revoked session (or of every session, family None) close themselves on this event.
    realtime_publish(
        user_id=user_id, event={"type": "session.revoked", "family": str(family) if family is not None else None}
    )


def token_family_revoke(*, family: uuid.UUID) -> int:
    """Revoke every live token of a family (a login session); returns how many were revoked."""
    user_id = AuthToken.objects.filter(family=family).values_list("user_id", flat=True).first()
    revoked = AuthToken.objects.filter(family=family, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked and user_id is not None:
        _sessions_revoked_publish(user_id, family)
    return revoked


@transaction.atomic
def user_sessions_revoke(*, user_ids: Iterable[int], actor: Any) -> int:
    """Log users out everywhere (an operator's action): revoke all their live tokens, one event per user."""
    live = AuthToken.objects.select_for_update().filter(user_id__in=list(user_ids), revoked_at__isnull=True)
    per_user = Counter(live.values_list("user_id", flat=True))
    revoked = live.update(revoked_at=timezone.now())
    event_record_many(
        entities=[
            (user, None, {"tokens_revoked": per_user[user.pk]})
            for user in User.objects.filter(pk__in=per_user).order_by("pk")
        ],
        action=EventAction.SESSION_REVOKE,
        actor=actor,
        note="sessions revoked by operator",
    )
    for user_id in per_user:
        _sessions_revoked_publish(user_id, None)
    return revoked


def token_refresh(*, refresh_token: str, user_agent: str = "") -> TokenPair:
    """Rotate a refresh token. Reusing an already-rotated token revokes its whole family."""
    invalid = Unauthorized(
        _("The refresh token is invalid or expired. Sign in again."), code=AuthErrorCode.INVALID_REFRESH_TOKEN
    )
    if not refresh_token or not refresh_token.startswith(REFRESH_PREFIX):
        raise invalid
    now = timezone.now()
    with transaction.atomic():
        # The conditional UPDATE is the lock: of two concurrent refreshes exactly one marks the token used.
        rotated = AuthToken.objects.filter(
            token_hash=token_hash(refresh_token),
            kind=TokenKind.REFRESH,
            used_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        ).update(used_at=now)
        token = AuthToken.objects.select_related("user").filter(token_hash=token_hash(refresh_token)).first()
        if rotated == 1 and token is not None and token.user.is_active:
            return token_pair_issue(user=token.user, user_agent=user_agent, family=token.family)
    if token is not None and rotated == 0 and token.used_at is not None and token.revoked_at is None:
        # Reuse of a rotated token: somebody else holds this family. Revoke it in its own transaction so the
        # revocation (and its event) survives the error we raise.
        with transaction.atomic():
            revoked = token_family_revoke(family=token.family)
            if revoked:
                event_record(
                    entity=token.user,
                    action=EventAction.SESSION_REVOKE,
                    actor=None,
                    after={"family": str(token.family), "tokens_revoked": revoked, "reason": "refresh_token_reused"},
                    note="refresh token reused: session revoked",
                )
        logger.warning(
            "refresh token reused: family revoked",
            extra={"user_id": token.user_id, "family": str(token.family), "revoked": revoked},
        )
    else:
        logger.info("refresh refused", extra={"known_token": token is not None})
    raise invalid


@transaction.atomic
def token_revoke(*, raw: str) -> None:
    """Log out: revoke the family of the given access or refresh token; the event names the session ended."""
    token = AuthToken.objects.select_related("user").filter(token_hash=token_hash(raw)).first()
    if token is not None:
        revoked = token_family_revoke(family=token.family)
        if revoked:
            event_record(
                entity=token.user,
                action=EventAction.LOGOUT,
                actor=token.user,
                after={"family": str(token.family), "tokens_revoked": revoked},
            )
        logger.info(
            "tokens revoked",
            extra={"user_id": token.user_id, "family": str(token.family), "revoked": revoked},
        )
