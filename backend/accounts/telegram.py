"""Linking Telegram users to accounts, clients and workers; the organizations' deep links.

A deep link ``t.me/<bot>?start=<code>`` names an organization (and optionally a branch). The bot is a thin caller:
``/start <code>`` → ``telegram_start``; the shared contact → ``telegram_contact_link``. Telegram vouches for a
contact only when ``contact.user_id`` is the sender's id: the handler refuses any other contact before calling
here, so the phone given here is the Telegram user's own. The phone is the identity key: it finds (or creates) the
account, and through it every client card with that phone and the staffing worker record hang off that account.
A customer who came by a link becomes a client of the link's organization, with the link's source (else the
organization's "Telegram" source).
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.booking.services.appointments import customer_client_for
from backend.core.events import event_record
from backend.core.exceptions import NotFound, PermissionDenied
from backend.core.models import EventAction
from backend.core.names import name_key
from backend.core.phones import phone_mask, phone_normalize
from backend.crm.models import Client, ClientSource
from backend.organizations.models import Branch, Organization
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check
from backend.staffing.models import Worker

from .exceptions import AuthErrorCode
from .models import Language, TelegramDeepLink, User
from .services import user_get_or_create_by_phone

logger = logging.getLogger("brigada.accounts")

TELEGRAM_SOURCE_NAME = "Telegram"
# Telegram's /start payload alphabet and length (the code is what follows "/start ").
_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class TelegramLinkResult:
    user: User
    user_created: bool
    client: Client | None  # the client card in the deep link's organization, when a link was followed
    is_worker: bool
    moved_from_user_id: int | None  # another account that had this Telegram id before (the user changed phone)


@dataclass(frozen=True)
class TelegramStart:
    link: TelegramDeepLink | None
    link_invalid: bool  # a payload was given but names no live link
    user: User | None  # the account already linked to this Telegram user
    client: Client | None  # their client card in the link's organization (when both are known)


# --- deep links ----------------------------------------------------------------------------------------------


@transaction.atomic
def telegram_deep_link_create(
    *,
    actor: Any,
    organization_id: int,
    branch_id: int | None = None,
    source_id: int | None = None,
    label: str = "",
) -> TelegramDeepLink:
    """A new deep link of the organization. ``actor=None`` is the system (the demo, a management command)."""
    if actor is not None:
        organization_access_check(actor, organization_id, Perm.ORG_MANAGE)
    elif not Organization.objects.filter(pk=organization_id).exists():
        raise NotFound(_("Not found."))
    if branch_id is not None and not Branch.objects.filter(pk=branch_id, organization_id=organization_id).exists():
        raise NotFound(_("Branch not found."))
    if (
        source_id is not None
        and not ClientSource.objects.filter(pk=source_id, organization_id=organization_id).exists()
    ):
        raise NotFound(_("Source not found."))
    link = TelegramDeepLink.objects.create(
        code=secrets.token_urlsafe(16),  # 22 characters of [A-Za-z0-9_-]
        organization_id=organization_id,
        branch_id=branch_id,
        source_id=source_id,
        label=label[:100],
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    event_record(
        entity=link,
        action=EventAction.CREATE,
        actor=actor,
        after={"branch_id": branch_id, "source_id": source_id, "label": link.label},
    )
    return link


def telegram_deep_link_url(link: TelegramDeepLink, bot_username: str) -> str:
    """``https://t.me/<bot>?start=<code>``."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={link.code}"


def telegram_deep_link_get(code: str | None) -> TelegramDeepLink | None:
    """The live (not revoked) link with this code; None for anything else, malformed payloads included."""
    if not code or not _PAYLOAD.fullmatch(code):
        return None
    return (
        TelegramDeepLink.objects.filter(code=code, revoked_at__isnull=True)
        .select_related("organization", "branch")
        .first()
    )


@transaction.atomic
def telegram_deep_link_revoke(*, actor: Any, link_id: int) -> TelegramDeepLink:
    link = TelegramDeepLink.objects.select_for_update().filter(pk=link_id).first()
    if link is None:
        raise NotFound(_("Not found."))
    if actor is not None:
        organization_access_check(actor, link.organization_id, Perm.ORG_MANAGE)
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        event_record(
            entity=link, action=EventAction.UPDATE, actor=actor, before={"revoked": False}, after={"revoked": True}
        )
    return link


def _telegram_source_id(organization_id: int) -> int:
    """The organization's "Telegram" client source, created on first use (race-safe on the name key)."""
    key = name_key(TELEGRAM_SOURCE_NAME)
    found = ClientSource.objects.filter(organization_id=organization_id, name_key=key).values_list("pk", flat=True)
    if found:
        return int(found[0])
    try:
        with transaction.atomic():
            return int(ClientSource.objects.create(organization_id=organization_id, name=TELEGRAM_SOURCE_NAME).pk)
    except IntegrityError:
        return int(ClientSource.objects.get(organization_id=organization_id, name_key=key).pk)


def _join(link: TelegramDeepLink, user: User) -> Client:
    client = customer_client_for(
        organization_id=link.organization_id,
        user=user,
        source_id=link.source_id or _telegram_source_id(link.organization_id),
    )
    TelegramDeepLink.objects.filter(pk=link.pk).update(uses=F("uses") + 1)
    return client


# --- the bot's two steps -------------------------------------------------------------------------------------


@transaction.atomic
def telegram_start(*, telegram_user_id: int, code: str | None) -> TelegramStart:
    """``/start [code]``: resolve the link; an already linked customer joins its organization right away."""
    link = telegram_deep_link_get(code)
    user = User.objects.filter(telegram_user_id=telegram_user_id, is_active=True).first()
    client = _join(link, user) if link is not None and user is not None else None
    return TelegramStart(link=link, link_invalid=bool(code) and link is None, user=user, client=client)


def _phone_from_telegram(raw: str) -> str:
    # Telegram sends contact phones in international form, usually without the "+".
    text = (raw or "").strip()
    if text and not text.startswith("+") and not text.startswith("00"):
        text = "+" + text
    return phone_normalize(text)


@transaction.atomic
def telegram_contact_link(
    *,
    telegram_user_id: int,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    language: str | None = None,
    deep_link_code: str | None = None,
) -> TelegramLinkResult:
    """Link the Telegram user to the account with their own phone (found or created), then to the deep link's
    organization as a client. A Telegram id moves from an account with another phone (the user changed number);
    a phone moves from another Telegram account (the number changed hands: Telegram says it is this user's now).
    Raises ``ValidationFailed`` (invalid_phone) or ``PermissionDenied`` (account_disabled); changes nothing then.
    """
    phone = _phone_from_telegram(phone)
    holders = list(
        User.objects.select_for_update().filter(telegram_user_id=telegram_user_id).exclude(phone=phone).order_by("pk")
    )
    user, created = user_get_or_create_by_phone(phone=phone, language=language if language in Language.values else None)
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        raise PermissionDenied(_("This account is disabled."), code=AuthErrorCode.ACCOUNT_DISABLED)
    moved_from = None
    for holder in holders:
        User.objects.filter(pk=holder.pk).update(telegram_user_id=None)
        event_record(
            entity=holder,
            action=EventAction.UPDATE,
            actor=user,
            before={"telegram_user_id": telegram_user_id},
            after={"telegram_user_id": None},
            note="Telegram account moved to another phone",
        )
        moved_from = holder.pk
    before = {"telegram_user_id": user.telegram_user_id, "first_name": user.first_name, "last_name": user.last_name}
    user.telegram_user_id = telegram_user_id
    if not user.first_name and not user.last_name:
        user.first_name, user.last_name = first_name[:150], last_name[:150]
    after = {"telegram_user_id": user.telegram_user_id, "first_name": user.first_name, "last_name": user.last_name}
    if before != after:
        user.save(update_fields=["telegram_user_id", "first_name", "last_name"])
        event_record(
            entity=user, action=EventAction.UPDATE, actor=user, before=before, after=after, note="linked to Telegram"
        )
    link = telegram_deep_link_get(deep_link_code)
    client = _join(link, user) if link is not None else None
    logger.info(
        "telegram linked",
        extra={
            "user_id": user.pk,
            "phone": phone_mask(phone),
            "new_user": created,
            "organization_id": link.organization_id if link else None,
        },
    )
    return TelegramLinkResult(
        user=user,
        user_created=created,
        client=client,
        is_worker=Worker.objects.filter(user=user).exists(),
        moved_from_user_id=moved_from,
    )
