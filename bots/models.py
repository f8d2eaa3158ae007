"""The bot's own state, in the database (ADR 0017): it survives restarts and is shared by every process.

Only transport state lives here (which chat, which language, where a multi-step flow stands, which updates were
handled); business facts (who is linked to which phone, clients, bookings, offers) live in the backend apps.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BotChat(models.Model):
    """One private chat with one Telegram user: their language choice and the deep link they came by."""

    telegram_user_id = models.BigIntegerField(_("Telegram user id"), unique=True)
    chat_id = models.BigIntegerField(_("chat id"))
    language = models.CharField(_("chosen language"), max_length=2, blank=True, help_text=_("set with /lang"))
    telegram_language = models.CharField(_("Telegram language"), max_length=16, blank=True)
    deep_link = models.ForeignKey(
        "accounts.TelegramDeepLink", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("the organization of the last deep link followed"),
    )
    branch = models.ForeignKey(
        "organizations.Branch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("bot chat")
        verbose_name_plural = _("bot chats")

    def __str__(self) -> str:
        return f"chat {self.chat_id}"


class FlowState(models.Model):
    """Where one multi-step flow of one user stands: ``flow`` ("book", "review"...), ``step`` and its data.

    ``version`` grows with every write: a writer that read version N and finds N+1 lost a race (two taps of two
    buttons processed by two processes) and must re-read instead of overwriting.
    """

    telegram_user_id = models.BigIntegerField(_("Telegram user id"))
    flow = models.CharField(_("flow"), max_length=32)
    step = models.CharField(_("step"), max_length=32, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("flow state")
        verbose_name_plural = _("flow states")
        constraints = [models.UniqueConstraint(fields=["telegram_user_id", "flow"], name="bots_flow_user_flow_uniq")]

    def __str__(self) -> str:
        return f"{self.flow}:{self.step} of {self.telegram_user_id}"


class ProcessedUpdate(models.Model):
    """An update already taken for processing: Telegram resends a webhook update it got no 200 for, and an
    update may reach two processes; the unique key lets exactly one of them in."""

    bot_id = models.BigIntegerField(_("bot id"))
    update_id = models.BigIntegerField(_("update id"))
    processed_at = models.DateTimeField(_("processed at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("processed update")
        verbose_name_plural = _("processed updates")
        constraints = [models.UniqueConstraint(fields=["bot_id", "update_id"], name="bots_update_bot_update_uniq")]

    def __str__(self) -> str:
        return f"update {self.update_id}"
