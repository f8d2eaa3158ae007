"""Back office for the outbox: find a message, see why it is stuck, settle reconciliation deliberately."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from backend.core.admin_tenancy import SuperuserOnlyAdmin
from backend.core.phones import phone_mask
from backend.organizations.admin_tenancy import TenantScopedAdmin
from backend.organizations.permissions import Perm

from .models import Channel, DeliveryRateSlot, OutboxMessage, TelegramChat
from .services import message_cancel, message_mark_sent, message_resend
from .sms import sms_count


@admin.register(OutboxMessage)
class OutboxMessageAdmin(TenantScopedAdmin):
    """Messages of the user's organizations; messages with no organization (one-time codes) are superuser-only.

    The actions act only on selected rows where the user may change clients' data: the changelist selection is
    already the scoped queryset, and ``scoped_for`` narrows it further to ``change_perm``.
    """

    view_perm = Perm.AUDIT_VIEW
    change_perm = Perm.CLIENT_CHANGE
    list_display = (
        "id",
        "channel",
        "recipient_display",
        "sms_segments_display",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "dedupe_key",
    )
    list_filter = ("status", "channel", "sensitive", "sms_fallback")
    search_fields = ("recipient", "dedupe_key")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    actions = ("resend", "mark_sent", "cancel")
    readonly_fields = (
        "organization",
        "user",
        "channel",
        "recipient",
        "subject",
        "body_display",
        "payload_display",
        "dedupe_key",
        "sms_segments_display",
        "sensitive",
        "sms_fallback",
        "fallback_for",
        "status",
        "attempts",
        "max_attempts",
        "next_attempt_at",
        "expires_at",
        "last_error",
        "provider_message_id",
        "claimed_by",
        "created_at",
        "sending_started_at",
        "sent_at",
    )
    exclude = ("body", "payload", "sealed_secret")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # messages are written by services inside business transactions

    def has_delete_permission(self, request: HttpRequest, obj: OutboxMessage | None = None) -> bool:
        return False  # the outbox is the delivery record

    @admin.display(description=_("recipient"), ordering="recipient")
    def recipient_display(self, obj: OutboxMessage) -> str:
        return phone_mask(obj.recipient) if obj.channel == Channel.SMS else obj.recipient

    @admin.display(description=_("SMS segments"))
    def sms_segments_display(self, obj: OutboxMessage) -> str:
        """What the SMS is billed as, e.g. "2 × UCS-2 (71 units)"; a dash for other channels."""
        if obj.channel != Channel.SMS:
            return "-"
        count = sms_count(obj.body)
        return f"{count.segments} × {'GSM-7' if count.encoding == 'gsm7' else 'UCS-2'} ({count.units})"

    @admin.display(description=_("body"))
    def body_display(self, obj: OutboxMessage) -> str:
        if obj.sensitive:
            return str(_("hidden (sensitive)"))
        return obj.body

    @admin.display(description=_("payload"))
    def payload_display(self, obj: OutboxMessage) -> object:
        return str(_("hidden (sensitive)")) if obj.sensitive else obj.payload

    def _report(self, request: HttpRequest, done: int, selected: int, verb: str) -> None:
        self.message_user(
            request,
            ngettext(
                "%(done)d of %(selected)d message %(verb)s.", "%(done)d of %(selected)d messages %(verb)s.", selected
            )
            % {"done": done, "selected": selected, "verb": verb},
            messages.SUCCESS if done == selected else messages.WARNING,
        )

    def _selected_ids(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> list[int]:
        return list(self.scoped_for(request, queryset, self.change_perm).values_list("pk", flat=True))

    @admin.action(description=_("Resend (the recipient may get it twice)"), permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        ids = self._selected_ids(request, queryset)
        self._report(request, message_resend(message_ids=ids, actor=request.user), len(ids), str(_("queued again")))

    @admin.action(description=_("Mark sent (confirmed with the provider)"), permissions=["change"])
    def mark_sent(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        ids = self._selected_ids(request, queryset)
        self._report(request, message_mark_sent(message_ids=ids, actor=request.user), len(ids), str(_("marked sent")))

    @admin.action(description=_("Cancel"), permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        ids = self._selected_ids(request, queryset)
        self._report(request, message_cancel(message_ids=ids, actor=request.user), len(ids), str(_("cancelled")))


@admin.register(DeliveryRateSlot)
class DeliveryRateSlotAdmin(SuperuserOnlyAdmin):
    list_display = ("key", "next_allowed_at")
    search_fields = ("key",)
    readonly_fields = ("key", "next_allowed_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(TelegramChat)
class TelegramChatAdmin(SuperuserOnlyAdmin):
    """Chats the bot cannot reach (blocked, deactivated, not found): read-only; the user's /start clears a mark."""

    list_display = ("chat_id", "unreachable_reason", "unreachable_since", "updated_at")
    list_filter = ("unreachable_reason",)
    search_fields = ("chat_id",)
    readonly_fields = ("chat_id", "unreachable_reason", "unreachable_since", "last_error", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
