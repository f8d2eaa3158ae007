"""Phones and browsers that receive push notifications for a user."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backend.accounts.models import Language

TOKEN_MAX_LENGTH = 512  # FCM registration tokens are ~160 characters, APNs 64 hex digits, web push endpoints longer


class Platform(models.TextChoices):
    IOS = "ios", "iOS"
    ANDROID = "android", "Android"
    WEB = "web", _("web browser")


class RevokeReason(models.TextChoices):
    UNREGISTERED = "unregistered", _("unregistered by the app")
    PROVIDER = "provider", _("rejected by the push provider")


class Device(models.Model):
    """A push token of one app installation. A token belongs to one user at a time: re-registering it elsewhere
    (another account logged in on the same phone) moves it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="devices")
    platform = models.CharField(_("platform"), max_length=8, choices=Platform.choices)
    token = models.CharField(_("push token"), max_length=TOKEN_MAX_LENGTH)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.RU)
    app_version = models.CharField(_("app version"), max_length=32, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_reason = models.CharField(max_length=16, choices=RevokeReason.choices, blank=True, default="")

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        constraints = [models.UniqueConstraint(fields=["platform", "token"], name="devices_platform_token_uniq")]
        indexes = [models.Index(fields=["user", "revoked_at"], name="devices_user_active_idx")]

    def __str__(self) -> str:
        return f"{self.platform} #{self.pk} of user {self.user_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
