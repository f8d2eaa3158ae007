"""Identity writes: one-time-code login, users by phone, profile changes.

Login is phone + one-time code. A request creates an ``OtpChallenge`` (the code only as an HMAC) and puts the
code in the outbox; a verify spends one attempt with a conditional UPDATE, compares in constant time and, on a
match, consumes the challenge, creates the user if the phone is new and issues a token pair. Answers never
depend on whether the phone belongs to a user.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from backend.core.events import diff, event_record, snapshot
from backend.core.exceptions import PermissionDenied, Throttled, ValidationFailed
from backend.core.models import EventAction
from backend.core.phones import phone_mask, phone_normalize
from backend.notifications.sealing import SECRET_SLOT
from backend.notifications.services import message_enqueue

from .exceptions import AuthErrorCode
from .models import Language, OtpChallenge, OtpChannel, User
from .tokens import TokenPair, token_pair_issue

logger = logging.getLogger("brigada.accounts")

OTP_LENGTH = 6
OTP_TTL_MAX = 10 * 60
# Fields of a user that go into the event log; never the password hash.
USER_EVENT_FIELDS = (
    "phone",
    "telegram_user_id",
    "first_name",
    "last_name",
    "email",
    "language",
    "is_active",
    "is_staff",
    "is_superuser",
)

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*$")
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class OtpRequestResult:
    expires_in: int  # seconds the code stays valid
    retry_after: int  # seconds before another code may be requested for this phone


def rate_parse(rate: str) -> tuple[int, int]:
    """``"5/h"`` -> ``(5, 3600)``; also ``"30/10m"``, ``"100/day"``."""
    match = _RATE.match(rate.lower())
    if match is None:
        raise ImproperlyConfigured(f"Invalid rate {rate!r}: use N/s, N/m, N/h or N/d.")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * _PERIOD_SECONDS[unit]


def otp_ttl_seconds() -> int:
    """The configured code lifetime, capped at 10 minutes whatever the setting says."""
    return max(1, min(int(settings.BRIGADA_OTP_TTL), OTP_TTL_MAX))


def otp_max_attempts() -> int:
    """Wrong guesses a one-time code survives (``BRIGADA_OTP_MAX_ATTEMPTS``, at least 1)."""
    return max(1, int(getattr(settings, "BRIGADA_OTP_MAX_ATTEMPTS", 5)))


def otp_code_hash(*, phone: str, code: str) -> str:
    """HMAC-SHA256 of the code under SECRET_KEY, bound to the phone it was sent to."""
    message = f"brigada.otp:{phone}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _default_language() -> str:
    code = str(settings.LANGUAGE_CODE)[:2]
    return code if code in Language.values else Language.RU


def _message_language(requested: str | None, user: User | None, fallback: str | None) -> str:
    """The language the app asked for, else the user's, else the fallback (the device's), else the default."""
    if requested in Language.values:
        return str(requested)
    if user is not None and user.language in Language.values:
        return user.language
    if fallback and fallback[:2] in Language.values:
        return fallback[:2]
    return _default_language()


def _serialize_on(*keys: str) -> None:
    """Make concurrent sends for the same phone or IP take turns, so count-then-insert cannot overshoot a limit.

    PostgreSQL: transaction-scoped advisory locks, taken in a fixed order so two sends cannot deadlock.
    SQLite: writers are already serialized (``BEGIN IMMEDIATE``).
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for key in sorted(keys):
            digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


def _limit_check(*, recent: QuerySet[OtpChallenge], rate: str, now: datetime, message: str) -> None:
    limit, window = rate_parse(rate)
    in_window = recent.filter(created_at__gt=now - timedelta(seconds=window))
    count = in_window.count()
    if count < limit:
        return
    # Sending is allowed again once enough of the oldest rows have left the window.
    freed_at = in_window.order_by("created_at").values_list("created_at", flat=True)[count - limit]
    raise Throttled(message, retry_after=int((freed_at + timedelta(seconds=window) - now).total_seconds()) + 1)


def _send_limits_check(*, phone: str, ip: str | None, now: datetime) -> None:
    """Raise ``Throttled`` when this phone or IP has had too many codes; counted in the database."""
    by_phone = OtpChallenge.objects.filter(phone=phone)
    interval = int(getattr(settings, "BRIGADA_OTP_RESEND_INTERVAL", 0))
    if interval > 0:
        last = by_phone.order_by("-created_at").values_list("created_at", flat=True).first()
        if last is not None and last + timedelta(seconds=interval) > now:
            raise Throttled(
                _("A code was sent moments ago. Wait before asking for another one."),
                retry_after=int((last + timedelta(seconds=interval) - now).total_seconds()) + 1,
            )
    _limit_check(
        recent=by_phone,
        rate=settings.BRIGADA_OTP_SEND_PER_PHONE,
        now=now,
        message=_("Too many codes were requested for this number. Try again later."),
    )
    if ip:
        _limit_check(
            recent=OtpChallenge.objects.filter(ip=ip),
            rate=settings.BRIGADA_OTP_SEND_PER_IP,
            now=now,
            message=_("Too many codes were requested from this network. Try again later."),
        )


@transaction.atomic
def otp_request(
    *, phone: str, ip: str | None, language: str | None = None, fallback_language: str | None = None
) -> OtpRequestResult:
    """Send a fresh one-time code to ``phone`` (Telegram when the user linked it, SMS otherwise).

    The same result for known and unknown phones; an unknown phone gets a user only at a successful verify.
    A new code supersedes the phone's older open codes.
    """
    phone = phone_normalize(phone)
    ip = ip or None
    now = timezone.now()
    _serialize_on(f"otp:phone:{phone}", *([f"otp:ip:{ip}"] if ip else []))
    try:
        _send_limits_check(phone=phone, ip=ip, now=now)
    except Throttled as exc:
        logger.info("otp request throttled", extra={"phone": phone_mask(phone), "retry_after": exc.retry_after})
        raise

    user = User.objects.filter(phone=phone, is_active=True).first()
    language_code = _message_language(language, user, fallback_language)
    if user is not None and user.telegram_user_id is not None:
        channel, recipient = OtpChannel.TELEGRAM, str(user.telegram_user_id)
    else:
        channel, recipient = OtpChannel.SMS, phone

    superseded = OtpChallenge.objects.filter(phone=phone, consumed_at__isnull=True, superseded_at__isnull=True).update(
        superseded_at=now
    )
    code = f"{secrets.randbelow(10**OTP_LENGTH):0{OTP_LENGTH}d}"
    ttl = otp_ttl_seconds()
    challenge = OtpChallenge.objects.create(
        phone=phone,
        code_hash=otp_code_hash(phone=phone, code=code),
        channel=channel,
        language=language_code,
        ip=ip,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    with translation.override(language_code):
        # The stored body holds a slot, never the code: the outbox seals the code and fills it in at send time.
        body = _("Brigada code: %(code)s. Valid for %(minutes)d min. Do not share it with anyone.") % {
            "code": SECRET_SLOT,
            "minutes": max(1, ttl // 60),
        }
    message_enqueue(
        channel=channel,
        recipient=recipient,
        body=body,
        secret=code,
        dedupe_key=f"otp:{challenge.id}",
        user=user,
        sensitive=True,
        expires_at=challenge.expires_at,
        sms_fallback=True,
    )
    logger.info(
        "otp requested",
        extra={
            "phone": phone_mask(phone),
            "challenge_id": challenge.id,
            "channel": str(channel),
            "superseded": superseded,
            "language": language_code,
        },
    )
    return OtpRequestResult(
        expires_in=ttl, retry_after=max(0, int(getattr(settings, "BRIGADA_OTP_RESEND_INTERVAL", 0)))
    )


@transaction.atomic
def otp_challenges_purge(*, before: datetime | None = None) -> int:
    """Delete codes created before ``before`` (default: a week ago); they no longer count for any limit."""
    _limit, phone_window = rate_parse(settings.BRIGADA_OTP_SEND_PER_PHONE)
    _limit, ip_window = rate_parse(settings.BRIGADA_OTP_SEND_PER_IP)
    oldest_needed = timezone.now() - timedelta(seconds=max(phone_window, ip_window, OTP_TTL_MAX))
    cutoff = min(before or timezone.now() - timedelta(days=7), oldest_needed)
    deleted, _by_model = OtpChallenge.objects.filter(created_at__lt=cutoff).delete()
    logger.info("otp challenges purged", extra={"deleted": deleted})
    return deleted


def _code_error(code: AuthErrorCode) -> ValidationFailed:
    messages = {
        AuthErrorCode.INVALID_CODE: _("The code is wrong. Check it and try again."),
        AuthErrorCode.CODE_EXPIRED: _("The code has expired or was already used. Request a new one."),
        AuthErrorCode.TOO_MANY_ATTEMPTS: _("Too many wrong attempts for this code. Request a new one."),
    }
    message = messages[code]
    return ValidationFailed(message, code=code, fields={"code": [message]})


def otp_verify(*, phone: str, code: str, user_agent: str = "") -> TokenPair:
    """Exchange a one-time code for a token pair; creates the user on a phone's first login.

    Deliberately not one transaction: the attempt a wrong guess spends must stay spent when we raise. Call it
    outside any outer ``atomic`` block for the same reason.
    """
    phone = phone_normalize(phone)
    code = (code or "").strip()
    now = timezone.now()
    masked = phone_mask(phone)
    challenge = (
        OtpChallenge.objects.filter(phone=phone, consumed_at__isnull=True, superseded_at__isnull=True)
        .order_by("-created_at")
        .first()
    )
    if challenge is None:
        logger.info("otp verify failed", extra={"phone": masked, "reason": AuthErrorCode.CODE_EXPIRED.value})
        raise _code_error(AuthErrorCode.CODE_EXPIRED)

    # The only guard that holds under concurrency: the database counts the attempt and refuses the sixth,
    # whatever number of requests race here (a read-then-write check let 100 of 100 parallel guesses through).
    spent = OtpChallenge.objects.filter(
        pk=challenge.pk,
        attempts__lt=otp_max_attempts(),
        consumed_at__isnull=True,
        superseded_at__isnull=True,
        expires_at__gt=now,
    ).update(attempts=F("attempts") + 1)
    if spent != 1:
        challenge.refresh_from_db(fields=["attempts"])
        reason = (
            AuthErrorCode.TOO_MANY_ATTEMPTS if challenge.attempts >= otp_max_attempts() else AuthErrorCode.CODE_EXPIRED
        )
        logger.info("otp verify failed", extra={"phone": masked, "challenge_id": challenge.pk, "reason": reason.value})
        raise _code_error(reason)

    if not hmac.compare_digest(challenge.code_hash, otp_code_hash(phone=phone, code=code)):
        logger.info(
            "otp verify failed",
            extra={"phone": masked, "challenge_id": challenge.pk, "reason": AuthErrorCode.INVALID_CODE.value},
        )
        raise _code_error(AuthErrorCode.INVALID_CODE)

    pair: TokenPair | None = None
    with transaction.atomic():
        consumed = OtpChallenge.objects.filter(
            pk=challenge.pk, consumed_at__isnull=True, superseded_at__isnull=True
        ).update(consumed_at=now)
        if consumed != 1:  # a parallel verify with the right code, or a newer request, got there first
            raise _code_error(AuthErrorCode.CODE_EXPIRED)
        user, created = user_get_or_create_by_phone(phone=phone, language=challenge.language)
        if user.is_active:
            user.last_login = now
            user.save(update_fields=["last_login"])
            pair = token_pair_issue(user=user, user_agent=user_agent)
            event_record(entity=user, action=EventAction.LOGIN, actor=user, after={"channel": challenge.channel})
    if pair is None:
        # The code is spent either way; only its rightful holder learns that the account is disabled.
        logger.info("otp login refused: account disabled", extra={"user_id": user.pk, "phone": masked})
        raise PermissionDenied(_("This account is disabled."), code=AuthErrorCode.ACCOUNT_DISABLED)
    logger.info(
        "otp verified",
        extra={"phone": masked, "challenge_id": challenge.pk, "user_id": user.pk, "new_user": created},
    )
    return pair


@transaction.atomic
def user_get_or_create_by_phone(*, phone: str, language: str | None = None, actor: Any = None) -> tuple[User, bool]:
    """The user with this phone, created as a customer (no memberships) if there is none yet."""
    phone = phone_normalize(phone)
    user = User.objects.filter(phone=phone).first()
    if user is not None:
        return user, False
    language_code = language if language in Language.values else _default_language()
    try:
        with transaction.atomic():  # a parallel first login may insert the same phone
            user = User.objects.create_user(phone=phone, language=language_code)
    except IntegrityError:
        return User.objects.get(phone=phone), False
    event_record(
        entity=user,
        action=EventAction.CREATE,
        actor=actor if actor is not None else user,
        after=snapshot(user, USER_EVENT_FIELDS),
    )
    logger.info("user created", extra={"user_id": user.pk, "phone": phone_mask(phone)})
    return user, True


@transaction.atomic
def user_update(
    *,
    user: User,
    actor: Any,
    first_name: str | None = None,
    last_name: str | None = None,
    language: str | None = None,
    email: str | None = None,
) -> User:
    """Change a user's profile; ``None`` leaves a field as it is."""
    errors: dict[str, list[str]] = {}
    changes: dict[str, str] = {}
    if first_name is not None:
        changes["first_name"] = first_name.strip()[:150]
    if last_name is not None:
        changes["last_name"] = last_name.strip()[:150]
    if language is not None:
        if language not in Language.values:
            errors["language"] = [_("Choose one of: ru, kk, en.")]
        changes["language"] = language
    if email is not None:
        email = email.strip()
        if email:
            try:
                validate_email(email)
            except DjangoValidationError:
                errors["email"] = [_("Enter a valid e-mail address.")]
        changes["email"] = email
    if errors:
        code = AuthErrorCode.INVALID_EMAIL if "email" in errors else AuthErrorCode.INVALID_LANGUAGE
        raise ValidationFailed(_("Some fields are invalid."), code=code, fields=errors)
    before = snapshot(user, USER_EVENT_FIELDS)
    for field, value in changes.items():
        setattr(user, field, value)
    if changes:
        user.save(update_fields=list(changes))
        after = snapshot(user, USER_EVENT_FIELDS)
        if before != after:
            event_record(entity=user, action=EventAction.UPDATE, actor=actor, before=before, after=after)
    return user


def user_privileges(user: User) -> dict[str, Any]:
    """What a user may do beyond their memberships: the flags, groups and direct model permissions."""
    return {
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "user_permissions": sorted(
            f"{app}.{codename}"
            for app, codename in user.user_permissions.values_list("content_type__app_label", "codename")
        ),
    }


def _superuser_check(actor: Any) -> None:
    if not getattr(actor, "is_superuser", False):
        raise PermissionDenied(_("Only a superuser may change privileges or passwords of other users."))


@transaction.atomic
def user_privileges_set(
    *,
    user: User,
    actor: Any,
    is_staff: bool | None = None,
    is_superuser: bool | None = None,
    groups: Iterable[Group] | None = None,
    user_permissions: Iterable[Permission] | None = None,
) -> User:
    """Grant or withdraw back-office access, superuser status, groups or direct permissions (superusers only).

    ``None`` leaves a part as it is. One ``privilege_change`` event carries what changed, before and after.
    """
    _superuser_check(actor)
    locked = User.objects.select_for_update().get(pk=user.pk)
    before = user_privileges(locked)
    flags = {"is_staff": is_staff, "is_superuser": is_superuser}
    changed_flags = [name for name, value in flags.items() if value is not None and getattr(locked, name) != value]
    for name in changed_flags:
        setattr(locked, name, flags[name])
        setattr(user, name, flags[name])
    if changed_flags:
        locked.save(update_fields=changed_flags)
    if groups is not None:
        locked.groups.set(list(groups))
    if user_permissions is not None:
        locked.user_permissions.set(list(user_permissions))
    after = user_privileges(locked)
    changed = diff(before, after)
    if changed:
        event_record(
            entity=locked,
            action=EventAction.PRIVILEGE_CHANGE,
            actor=actor,
            before={k: before[k] for k in changed},
            after=changed,
        )
        logger.info("user privileges changed", extra={"user_id": locked.pk, "changed": sorted(changed)})
    return user


def user_password_change_record(*, user: User, actor: Any, note: str = "") -> None:
    """Record that ``user``'s password was set or disabled; never the password or its hash.

    For writes that Django's own forms and commands perform (the admin's password page, ``changepassword``);
    call inside their transaction where there is one.
    """
    event_record(
        entity=user,
        action=EventAction.PASSWORD_CHANGE,
        actor=actor,
        after={"password": "set" if user.has_usable_password() else "disabled"},
        note=note,
    )
    logger.info("user password changed", extra={"user_id": user.pk, "by": getattr(actor, "pk", None)})


@transaction.atomic
def user_password_set(*, user: User, actor: Any, password: str | None) -> User:
    """Set ``user``'s password (``None`` disables password login); a superuser's act or the user's own."""
    if getattr(actor, "pk", None) != user.pk:
        _superuser_check(actor)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save(update_fields=["password"])
    user_password_change_record(user=user, actor=actor)
    return user


def group_privileges(group: Group) -> dict[str, Any]:
    """A permission group as the event log shows it: its name and its permissions as ``app.codename``."""
    return {
        "name": group.name,
        "permissions": sorted(
            f"{app}.{codename}"
            for app, codename in group.permissions.values_list("content_type__app_label", "codename")
        ),
    }


def group_change_record(*, group: Group, actor: Any, before: dict[str, Any] | None, deleted: bool = False) -> None:
    """Record a permission group's creation, change or deletion; a group's permissions reach every member.

    For writes that Django's own group form performs; call inside its transaction (``before`` read first).
    """
    _superuser_check(actor)
    if deleted:
        event_record(entity=group, action=EventAction.DELETE, actor=actor, before=before)
        return
    after = group_privileges(group)
    if before is None:
        event_record(entity=group, action=EventAction.CREATE, actor=actor, after=after)
        return
    changed = diff(before, after)
    if changed:
        event_record(
            entity=group,
            action=EventAction.PRIVILEGE_CHANGE,
            actor=actor,
            before={k: before.get(k) for k in changed},
            after=changed,
        )


@transaction.atomic
def superuser_bootstrap(
    *, phone: str, password: str, created_by: str, first_name: str = "", last_name: str = ""
) -> User:
    """Create a superuser from outside the back office (the demo seed), where no superuser can act yet.

    Leaves the creation and the grant in the event log with no actor and ``created_by`` as the note.
    """
    user = User.objects.create_superuser(phone, password, first_name=first_name, last_name=last_name)
    superuser_created_record(user=user, created_by=created_by)
    return user


def superuser_created_record(*, user: User, created_by: str) -> None:
    """Record a superuser made outside the back office: its creation and its grant, with no actor.

    Used by ``superuser_bootstrap`` and by ``createsuperuser``, whose write Django performs.
    """
    note = f"created by {created_by}"[:255]
    event_record(entity=user, action=EventAction.CREATE, actor=None, after=snapshot(user, USER_EVENT_FIELDS), note=note)
    event_record(
        entity=user,
        action=EventAction.PRIVILEGE_CHANGE,
        actor=None,
        before={"is_staff": False, "is_superuser": False},
        after={"is_staff": True, "is_superuser": True},
        note=note,
    )
    logger.info("superuser created", extra={"user_id": user.pk, "by": created_by})
