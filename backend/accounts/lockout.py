"""Back-office sign-in throttling: too many wrong passwords lock the account (and the IP) for a while.

Each attempt first *spends* one try per account and per IP with a conditional UPDATE, before the password is
checked; a spend that finds the limit reached is refused. So however many requests race, at most ``limit``
passwords are tried per window (the OTP attempts counter measured in FIELD-NOTES works the same way: a
read-then-write check let 100 of 100 parallel guesses through). The failure that reaches the limit sets the lock,
and only the one UPDATE that sets it records the ``lockout`` event.

- A lock lasts ``BRIGADA_ADMIN_LOCKOUT_SECONDS`` from the failure that set it, whatever the counting window: the
  end of a window starts a fresh count only on a row that is not locked.
- A success clears the account's count. At the IP it returns exactly the one try that same attempt spent, and
  only while that try still counts (same window, no lock since): a success never lowers the IP's count of
  *failures*, so one staff login interleaved with guesses gains the guesser nothing. (Returning nothing at all
  would be simpler, but then an office behind one address would be refused after 20 good sign-ins.)
- The account key is the E.164 phone when the text typed parses as one; anything else (often a password typed
  into the wrong field) is kept only as a keyed hash, and the event log names the user, or the key's kind and a
  masked or hashed value, never the text typed. A new ``SECRET_KEY`` gives such keys a fresh count.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from backend.core.events import event_record
from backend.core.exceptions import PermissionDenied, Throttled, ValidationFailed
from backend.core.models import EventAction
from backend.core.phones import phone_mask, phone_normalize

from .exceptions import AuthErrorCode
from .models import LoginThrottle, LoginThrottleScope, User
from .services import rate_parse

logger = logging.getLogger("brigada.accounts.lockout")


_KEY_HASH_PURPOSE = "brigada.accounts.lockout.account_key"
_KEY_HASH_PREFIX = "hmac:"


@dataclass(frozen=True)
class LoginAttempt:
    """The tries one sign-in spent: (scope, key) pairs, account first, with the window each try was counted in."""

    keys: tuple[tuple[str, str], ...]
    windows: tuple[datetime, ...]


def account_key(username: str) -> str:
    """The E.164 phone when ``username`` parses as one, so "+7 701 ..." and "+7701..." share one count.

    Anything else is stored as a keyed hash of the trimmed, lower-cased text: what people type there by mistake is
    often a password, and the counter table and the append-only event log must not keep it.
    """
    try:
        return phone_normalize(username)
    except ValidationFailed:
        digest = salted_hmac(_KEY_HASH_PURPOSE, username.strip().lower(), algorithm="sha256").hexdigest()
        return _KEY_HASH_PREFIX + digest[:40]


def _key_shown(scope: str, key: str) -> dict[str, str]:
    """What the event log and the log lines say about a key: an IP as is, a phone masked, a hash as stored."""
    if scope != LoginThrottleScope.ACCOUNT:
        return {"key_kind": "ip", "key": key}
    if key.startswith(_KEY_HASH_PREFIX):
        return {"key_kind": "hash", "key": key}
    return {"key_kind": "phone", "key": phone_mask(key)}


def _limits(scope: str) -> tuple[int, int]:
    rate = (
        settings.BRIGADA_ADMIN_LOGIN_ACCOUNT_RATE
        if scope == LoginThrottleScope.ACCOUNT
        else settings.BRIGADA_ADMIN_LOGIN_IP_RATE
    )
    return rate_parse(rate)


def _lockout_seconds() -> int:
    return max(1, int(settings.BRIGADA_ADMIN_LOCKOUT_SECONDS))


def _refusal(scope: str, row: LoginThrottle | None, now: datetime) -> Throttled:
    _limit, window = _limits(scope)
    if row is not None and row.locked_until is not None:
        until = row.locked_until
    else:  # the last try is being checked right now; its outcome decides
        until = (row.window_started_at if row is not None else now) + timedelta(seconds=window)
    retry_after = max(1, int((until - now).total_seconds()) + 1)
    minutes = max(1, math.ceil(retry_after / 60))
    if scope == LoginThrottleScope.ACCOUNT:
        message = _("Too many failed sign-in attempts: this account is locked. Try again in %(minutes)d min.") % {
            "minutes": minutes
        }
        return Throttled(message, retry_after=retry_after, code=AuthErrorCode.ACCOUNT_LOCKED)
    message = _("Too many failed sign-in attempts from your network. Try again in %(minutes)d min.") % {
        "minutes": minutes
    }
    return Throttled(message, retry_after=retry_after, code=AuthErrorCode.NETWORK_LOCKED)


@transaction.atomic
def admin_login_attempt_start(*, username: str, ip: str | None) -> LoginAttempt:
    """Spend one try for this account and this IP, or raise ``Throttled`` (nothing spent) while either is locked."""
    now = timezone.now()
    windows: list[datetime] = []
    keys = [(LoginThrottleScope.ACCOUNT.value, account_key(username))]
    if ip:
        keys.append((LoginThrottleScope.IP.value, ip[:64]))
    # The rows exist before anyone counts on them; a parallel first attempt may insert the same row.
    LoginThrottle.objects.bulk_create(
        [LoginThrottle(scope=scope, key=key, window_started_at=now) for scope, key in keys], ignore_conflicts=True
    )
    for scope, key in keys:  # always account then IP: two attempts lock rows in the same order
        limit, window = _limits(scope)
        rows = LoginThrottle.objects.filter(scope=scope, key=key)
        # A served lock, or an old window on a row that is not locked, starts a fresh count. A lock outlives the
        # window it was set in: clearing it with the window would cut a 15-minute lock short to whatever was left
        # of the window (or an hour's lock to 15 minutes).
        stale = now - timedelta(seconds=window)
        rows.filter(Q(locked_until__isnull=True, window_started_at__lte=stale) | Q(locked_until__lte=now)).update(
            failures=0, window_started_at=now, locked_until=None
        )
        spent = rows.filter(failures__lt=limit, locked_until__isnull=True).update(failures=F("failures") + 1)
        if spent != 1:
            # Raising rolls back the tries spent above: a refused attempt costs nothing and checks no password.
            raise _refusal(scope, rows.first(), now)
        windows.append(rows.values_list("window_started_at", flat=True).get())
    return LoginAttempt(keys=tuple(keys), windows=tuple(windows))


@transaction.atomic
def admin_login_failed(*, attempt: LoginAttempt) -> list[str]:
    """The password was wrong: the tries stay spent; lock what reached its limit. Returns the scopes locked now."""
    now = timezone.now()
    locked_scopes: list[str] = []
    for scope, key in attempt.keys:
        limit, _window = _limits(scope)
        until = now + timedelta(seconds=_lockout_seconds())
        locked = LoginThrottle.objects.filter(
            scope=scope, key=key, failures__gte=limit, locked_until__isnull=True
        ).update(locked_until=until)
        if locked != 1:
            continue
        locked_scopes.append(scope)
        row = LoginThrottle.objects.get(scope=scope, key=key)
        user = User.objects.filter(phone=key).first() if scope == LoginThrottleScope.ACCOUNT else None
        # The log is append-only: it names the user when there is one, else only what _key_shown allows.
        who = {"user_id": user.pk} if user is not None else _key_shown(scope, key)
        event_record(
            entity=user if user is not None else row,
            action=EventAction.LOCKOUT,
            actor=None,
            after={"scope": scope, **who, "failures": row.failures, "locked_until": until},
            note="back-office sign-in locked after repeated wrong passwords",
        )
        logger.warning(
            "back-office sign-in locked",
            extra={
                "scope": scope,
                **_key_shown(scope, key),
                "user_id": user.pk if user is not None else None,
                "locked_until": until.isoformat(),
            },
        )
    return locked_scopes


@transaction.atomic
def admin_login_succeeded(*, attempt: LoginAttempt) -> None:
    """The password was right: the account starts afresh; the IP gets back the one try this attempt spent."""
    now = timezone.now()
    for index, (scope, key) in enumerate(attempt.keys):
        rows = LoginThrottle.objects.filter(scope=scope, key=key)
        if scope == LoginThrottleScope.ACCOUNT:
            rows.update(failures=0, window_started_at=now)
            continue
        # Only while the try still counts: after a new window began (or a lock was set) the count is made of
        # other attempts' failures, and taking one of those off would let slow successes buy guesses.
        rows.filter(window_started_at=attempt.windows[index], locked_until__isnull=True, failures__gt=0).update(
            failures=F("failures") - 1
        )


@transaction.atomic
def login_throttles_unlock(*, throttle_ids: list[int], actor: Any) -> int:
    """Lift sign-in locks early (an operator who verified the person); one event per lock lifted."""
    if not getattr(actor, "is_superuser", False):
        raise PermissionDenied(_("Only a superuser may lift sign-in locks."))
    now = timezone.now()
    lifted = 0
    locked = LoginThrottle.objects.select_for_update().filter(pk__in=throttle_ids, locked_until__gt=now)
    for row in locked.order_by("pk"):
        before = {"failures": row.failures, "locked_until": row.locked_until}
        row.failures, row.locked_until, row.window_started_at = 0, None, now
        row.save(update_fields=["failures", "locked_until", "window_started_at"])
        event_record(
            entity=row,
            action=EventAction.UPDATE,
            actor=actor,
            before=before,
            after={"failures": 0, "locked_until": None},
            note="sign-in lock lifted by operator",
        )
        lifted += 1
    return lifted


@transaction.atomic
def login_throttles_purge(*, before: datetime | None = None) -> int:
    """Delete counters whose window and lock ended a day ago (housekeeping); they no longer decide anything."""
    longest = max(_limits(LoginThrottleScope.ACCOUNT)[1], _limits(LoginThrottleScope.IP)[1], _lockout_seconds())
    cutoff = before or timezone.now() - timedelta(seconds=longest) - timedelta(days=1)
    deleted, _by_model = (
        LoginThrottle.objects.filter(window_started_at__lt=cutoff)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=cutoff))
        .delete()
    )
    return deleted
