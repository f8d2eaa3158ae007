"""The outbox: every outgoing message is a row written in the transaction that causes it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    TELEGRAM = "telegram", _("Telegram")
    EMAIL = "email", _("e-mail")
    PUSH = "push", _("push notification")  # delivered by backend.devices through the backend registry


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("pending")  # waiting for (another) attempt at or after next_attempt_at
    SENDING = "sending", _("sending")  # handed to a provider; outcome unknown until marked
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")  # gave up after retries or a permanent error
    RECONCILE = "reconcile", _("needs reconciliation")  # found in SENDING after a crash: never resent blindly
    CANCELLED = "cancelled", _("cancelled")


class OutboxMessage(models.Model):
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbox_messages"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    recipient = models.CharField(max_length=255, help_text=_("phone, Telegram chat id or e-mail"))
    subject = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField()
    payload = models.JSONField(default=dict, blank=True, help_text=_("extra data for the backend, e.g. buttons"))
    dedupe_key = models.CharField(max_length=200, unique=True)
    sensitive = models.BooleanField(default=False, help_text=_("body is scrubbed once delivered or expired"))
    # Set by the producer for messages that matter (call-ups, reminders, one-time codes): when Telegram cannot reach
    # the user for good (blocked the bot, deactivated, chat not found), the text goes to their phone by SMS instead.
    sms_fallback = models.BooleanField(
        default=False, help_text=_("if Telegram cannot reach the user for good, send the text by SMS instead")
    )
    # The Telegram message an SMS fallback replaces: one-to-one, so a message falls back at most once.
    fallback_for = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="fallback", editable=False
    )
    # The secret (a one-time code) for the body's slot, encrypted under a key derived from SECRET_KEY; erased in
    # every terminal or reconcile state. The clear text is never stored (see ``sealing``).
    sealed_secret = models.TextField(blank=True, default="", editable=False)
    status = models.CharField(max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=8)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, help_text=_("not worth sending after this"))
    last_error = models.CharField(max_length=500, blank=True, default="")
    provider_message_id = models.CharField(max_length=100, blank=True, default="")
    claimed_by = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing message")
        verbose_name_plural = _("outbox")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx")]

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk} [{self.status}]"


class DeliveryRateSlot(models.Model):
    """The next moment a rate-limited destination may be sent to, shared by every delivery worker.

    Keys such as ``telegram:global`` (30 msg/s overall) and ``telegram:chat:<id>`` (1 msg/s per chat). A worker
    reserves a slot by moving ``next_allowed_at`` forward under a row lock, so several processes never
    exceed the provider's limits together.
    """

    key = models.CharField(max_length=100, unique=True)
    next_allowed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("delivery rate slot")
        verbose_name_plural = _("delivery rate slots")

    def __str__(self) -> str:
        return f"{self.key} @ {self.next_allowed_at:%H:%M:%S.%f}"


class UnreachableReason(models.TextChoices):
    BLOCKED = "blocked", _("blocked the bot")
    DEACTIVATED = "deactivated", _("account deactivated")
    CHAT_NOT_FOUND = "chat_not_found", _("chat not found")
    KICKED = "kicked", _("bot removed from the group")
    NOT_STARTED = "not_started", _("never started the bot")
    FORBIDDEN = "forbidden", _("other refusal")


class TelegramChat(models.Model):
    """What delivery knows about one Telegram chat: whether the bot can still reach it.

    A chat is marked unreachable by the Bot API's permanent refusals (403 "bot was blocked by the user", "user is
    deactivated", 400 "chat not found" ...). While marked, nothing is sent to it (messages that matter fall back to
    SMS at once); ``/start`` from the user clears the mark (``services.telegram_chat_unblock``).
    """

    chat_id = models.BigIntegerField(unique=True)
    unreachable_reason = models.CharField(max_length=20, choices=UnreachableReason.choices, blank=True, default="")
    unreachable_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("Telegram chat")
        verbose_name_plural = _("Telegram chats")

    def __str__(self) -> str:
        return f"{self.chat_id} [{self.unreachable_reason or 'reachable'}]"

    @property
    def reachable(self) -> bool:
        return not self.unreachable_reason
