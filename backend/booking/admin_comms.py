"""Back office for the client messages: the waiting list, reminders, reviews and mailings — read-only.

Each row changes only through the services (``backend.booking.services``): a form here could bypass a hold or send a
reminder twice. Imported by ``backend.booking.admin``.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from backend.notifications.sms import sms_count
from backend.organizations.admin_tenancy import TenantScopedAdmin
from backend.organizations.permissions import Perm

from .models_comms import AppointmentMessage, Mailing, Review, WaitlistEntry, WaitlistOffer


class CommsAdmin(TenantScopedAdmin):
    """Staff who are not superusers see only their organizations' rows; nobody edits here."""

    view_perm = Perm.CLIENT_VIEW
    change_perm = None
    delete_perm = None


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(CommsAdmin):
    list_display = ("id", "client", "service", "staff", "branch", "status", "earliest", "latest", "created_at")
    list_filter = ("status", "branch")
    list_select_related = ("client", "service", "staff", "branch")


@admin.register(WaitlistOffer)
class WaitlistOfferAdmin(CommsAdmin):
    list_display = ("id", "entry", "staff", "starts_at", "hold_until", "status", "appointment")
    list_filter = ("status",)
    list_select_related = ("entry__client", "staff")


@admin.register(AppointmentMessage)
class AppointmentMessageAdmin(CommsAdmin):
    list_display = ("id", "appointment", "kind", "offset_minutes", "due_at", "status", "version", "sent_at")
    list_filter = ("kind", "status")


@admin.register(Review)
class ReviewAdmin(CommsAdmin):
    list_display = ("id", "appointment", "client", "staff", "score", "created_at")
    list_filter = ("score",)
    list_select_related = ("client", "staff")


@admin.register(Mailing)
class MailingAdmin(CommsAdmin):
    view_perm = Perm.MAILING_SEND
    list_display = ("id", "created_at", "created_by", "recipients", "sms_recipients", "sms_segments_display")

    @admin.display(description=_("SMS segments"))
    def sms_segments_display(self, obj: Mailing) -> str:
        """Segments of one SMS of this mailing and its encoding, e.g. "2 × UCS-2"."""
        count = sms_count(obj.text)
        return f"{count.segments} × {'GSM-7' if count.encoding == 'gsm7' else 'UCS-2'}"
