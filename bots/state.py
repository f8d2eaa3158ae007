"""The bot's database-backed state (ADR 0017): chats, flow state, processed updates. Sync functions: handlers call
them through ``sync_to_async`` (``bots.handlers.base.run_sync``).

Flow state API (used by every flow):
- ``flow_get(telegram_user_id, flow) -> FlowSnapshot | None`` (None when absent or older than ``FLOW_TTL``);
- ``flow_set(telegram_user_id, flow, data, *, step="", expected_version=None) -> int`` (the new version; with
  ``expected_version`` it writes only if nobody wrote since, else raises ``FlowConflict``);
- ``flow_clear(telegram_user_id, flow)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from backend.accounts.models import TelegramDeepLink, User
from bots.models import BotChat, FlowState, ProcessedUpdate

FLOW_TTL = timedelta(days=2)  # a booking started and left for two days starts over
PROCESSED_UPDATES_KEEP = timedelta(days=7)  # Telegram keeps an unconfirmed update for at most 24 hours


class FlowConflict(Exception):
    """Somebody else wrote the flow state since it was read."""


@dataclass(frozen=True)
class FlowSnapshot:
    flow: str
    step: str
    data: dict[str, Any]
    version: int


# --- processed updates ------------------------------------------------------------------------------------------


def update_claim(*, bot_id: int, update_id: int) -> bool:
    """Take ``update_id`` for processing: True the first time, False for a repeat (from any process).

    The insert under the unique constraint is the guard: two processes inserting at once, exactly one wins.
    Claimed before processing, so a process killed mid-update loses that update rather than doing it twice.
    """
    try:
        with transaction.atomic():
            ProcessedUpdate.objects.create(bot_id=bot_id, update_id=update_id)
    except IntegrityError:
        return False
    return True


def processed_updates_purge(*, older_than: timedelta = PROCESSED_UPDATES_KEEP) -> int:
    """Forget processed update ids past the retention; returns how many."""
    deleted, _ = ProcessedUpdate.objects.filter(processed_at__lt=timezone.now() - older_than).delete()
    return deleted


# --- chats ------------------------------------------------------------------------------------------------------


def chat_touch(*, telegram_user_id: int, chat_id: int, telegram_language: str | None) -> BotChat:
    """The chat record of this user, created on first contact; keeps Telegram's language code current."""
    now = timezone.now()
    chat, created = BotChat.objects.get_or_create(
        telegram_user_id=telegram_user_id,
        defaults={"chat_id": chat_id, "telegram_language": telegram_language or "", "updated_at": now},
    )
    if not created and (chat.chat_id != chat_id or chat.telegram_language != (telegram_language or "")):
        BotChat.objects.filter(pk=chat.pk).update(
            chat_id=chat_id, telegram_language=telegram_language or "", updated_at=now
        )
    return chat


def chat_language_set(*, telegram_user_id: int, chat_id: int, language: str) -> None:
    """Remember the language chosen with /lang (and on the linked account, so SMS and the app follow it)."""
    BotChat.objects.update_or_create(
        telegram_user_id=telegram_user_id,
        defaults={"chat_id": chat_id, "language": language, "updated_at": timezone.now()},
    )
    User.objects.filter(telegram_user_id=telegram_user_id).update(language=language)


def chat_language(*, telegram_user_id: int) -> str | None:
    """The language chosen with /lang, else the linked account's, else None (use Telegram's)."""
    chosen = BotChat.objects.filter(telegram_user_id=telegram_user_id).values_list("language", flat=True).first()
    if chosen:
        return str(chosen)
    language = (
        User.objects.filter(telegram_user_id=telegram_user_id, is_active=True)
        .values_list("language", flat=True)
        .first()
    )
    return str(language) if language else None


def chat_deep_link_set(*, telegram_user_id: int, chat_id: int, link: TelegramDeepLink) -> None:
    """Remember the deep link (organization, branch) this user came by last."""
    BotChat.objects.update_or_create(
        telegram_user_id=telegram_user_id,
        defaults={
            "chat_id": chat_id,
            "deep_link": link,
            "organization_id": link.organization_id,
            "branch_id": link.branch_id,
            "updated_at": timezone.now(),
        },
    )


@dataclass(frozen=True)
class LinkedCustomer:
    user: User
    organization_id: int | None
    branch_id: int | None


def linked_user(telegram_user_id: int) -> User | None:
    """The active account linked to this Telegram user, if any."""
    return User.objects.filter(telegram_user_id=telegram_user_id, is_active=True).first()


def linked_customer(telegram_user_id: int) -> LinkedCustomer | None:
    """The linked account with the organization and branch of the last deep link followed (None when unlinked)."""
    user = linked_user(telegram_user_id)
    if user is None:
        return None
    chat = BotChat.objects.filter(telegram_user_id=telegram_user_id).only("organization_id", "branch_id").first()
    return LinkedCustomer(
        user=user,
        organization_id=chat.organization_id if chat else None,
        branch_id=chat.branch_id if chat else None,
    )


# --- flow state -------------------------------------------------------------------------------------------------


def flow_get(telegram_user_id: int, flow: str) -> FlowSnapshot | None:
    row = FlowState.objects.filter(telegram_user_id=telegram_user_id, flow=flow).first()
    if row is None or row.updated_at < timezone.now() - FLOW_TTL:
        return None
    return FlowSnapshot(row.flow, row.step, dict(row.data or {}), row.version)


def flow_set(
    telegram_user_id: int,
    flow: str,
    data: dict[str, Any],
    *,
    step: str = "",
    expected_version: int | None = None,
) -> int:
    """Write the flow's state; returns the new version (see the module docstring for ``expected_version``)."""
    now = timezone.now()
    if expected_version is not None:
        # Conditional UPDATE: of two writers that read the same version, exactly one matches the row.
        updated = FlowState.objects.filter(
            telegram_user_id=telegram_user_id, flow=flow, version=expected_version
        ).update(step=step, data=data, version=F("version") + 1, updated_at=now)
        if updated != 1:
            raise FlowConflict(flow)
        return expected_version + 1
    with transaction.atomic():
        row, created = FlowState.objects.select_for_update().get_or_create(
            telegram_user_id=telegram_user_id, flow=flow, defaults={"step": step, "data": data, "updated_at": now}
        )
        if created:
            return row.version
        FlowState.objects.filter(pk=row.pk).update(step=step, data=data, version=F("version") + 1, updated_at=now)
        return row.version + 1


def flow_clear(telegram_user_id: int, flow: str) -> None:
    FlowState.objects.filter(telegram_user_id=telegram_user_id, flow=flow).delete()


def flow_states_purge(*, older_than: timedelta = FLOW_TTL) -> int:
    """Delete flows nobody touched within ``FLOW_TTL``; returns how many."""
    deleted, _ = FlowState.objects.filter(updated_at__lt=timezone.now() - older_than).delete()
    return deleted
