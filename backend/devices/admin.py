"""Back office: registered push devices (per user, no organization to scope by: superusers only)."""

from __future__ import annotations

from django.contrib import admin

from backend.core.admin_tenancy import SuperuserOnlyAdmin

from .models import Device


@admin.register(Device)
class DeviceAdmin(SuperuserOnlyAdmin):
    list_display = ("id", "user", "platform", "language", "app_version", "last_seen_at", "revoked_at")
    list_filter = ("platform", "revoked_reason")
    search_fields = ("user__phone",)
    ordering = ("-last_seen_at",)
    readonly_fields = ("user", "platform", "token", "created_at", "last_seen_at", "revoked_at", "revoked_reason")
