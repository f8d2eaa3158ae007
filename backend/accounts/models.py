"""Users are keyed by an E.164 phone; customers, staff and workers are all users."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backend.core.phones import phone_mask, phone_normalize


class Language(models.TextChoices):
    RU = "ru", "Русский"
    KK = "kk", "Қазақша"
    EN = "en", "English"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, phone: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(phone=phone_normalize(phone), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, phone: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(phone, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    phone = models.CharField(_("phone"), max_length=16, unique=True, help_text=_("E.164, e.g. +77011234567"))
    telegram_user_id = models.BigIntegerField(_("Telegram user id"), null=True, blank=True, unique=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    email = models.EmailField(_("email"), blank=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.RU)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        name = self.get_full_name()
        return f"{name} ({self.phone})" if name else self.phone

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.phone


class TokenKind(models.TextChoices):
    ACCESS = "access", _("access")
    REFRESH = "refresh", _("refresh")


class AuthToken(models.Model):
    """An opaque bearer token, stored only as its SHA-256.

    Refresh tokens belong to a *family*: each refresh rotates the token; presenting a token that was already
    rotated means it leaked, so the whole family (and its access tokens) is revoked.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_tokens")
    kind = models.CharField(max_length=8, choices=TokenKind.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    family = models.UUIDField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True, help_text=_("when a refresh token was rotated"))
    revoked_at = models.DateTimeField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        verbose_name = _("auth token")
        verbose_name_plural = _("auth tokens")

    def __str__(self) -> str:
        return f"{self.kind} token of {self.user_id}"


class OtpChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    TELEGRAM = "telegram", _("Telegram")


class OtpChallenge(models.Model):
    """One one-time login code sent to a phone.

    The code itself is never stored: only its HMAC-SHA256 under ``SECRET_KEY``. A challenge is open while it is
    neither consumed, superseded by a newer request for the same phone, expired, nor out of attempts. Attempts are
    counted by a conditional UPDATE, so parallel guesses cannot exceed the cap (see ``otp_verify``).
    """

    phone = models.CharField(_("phone"), max_length=16)
    code_hash = models.CharField(max_length=64, editable=False)
    channel = models.CharField(_("channel"), max_length=16, choices=OtpChannel.choices, default=OtpChannel.SMS)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.RU)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(_("expires at"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    consumed_at = models.DateTimeField(_("consumed at"), null=True, blank=True)
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        # The send limits count a phone's and an IP's recent challenges.
        indexes = [
            models.Index(fields=["phone", "created_at"], name="otp_phone_created_idx"),
            models.Index(fields=["ip", "created_at"], name="otp_ip_created_idx"),
        ]

    def __str__(self) -> str:
        return f"code #{self.pk} for {phone_mask(self.phone)}"


class LoginThrottleScope(models.TextChoices):
    ACCOUNT = "account", _("account")
    IP = "ip", _("IP address")


class LoginThrottle(models.Model):
    """Failed back-office password sign-ins counted per account and per IP, and the lock they lead to.

    Counted in the database with conditional UPDATEs (see ``backend.accounts.lockout``), so every process and
    every parallel request sees the same count and no burst of guesses gets past the limit.
    """

    scope = models.CharField(_("scope"), max_length=8, choices=LoginThrottleScope.choices)
    key = models.CharField(
        _("key"),
        max_length=64,
        help_text=_("the phone (E.164), a keyed hash of any other text typed, or the IP address"),
    )
    failures = models.PositiveIntegerField(_("failures"), default=0)
    window_started_at = models.DateTimeField(_("window started at"), default=timezone.now)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    objects: models.Manager[LoginThrottle] = models.Manager()

    class Meta:
        verbose_name = _("sign-in throttle")
        verbose_name_plural = _("sign-in throttles")
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="login_throttle_scope_key_uniq")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class TelegramDeepLink(models.Model):
    """A ``t.me/<bot>?start=<code>`` link of an organization (optionally one branch) that customers follow.

    The code is opaque (random, 22 characters of Telegram's payload alphabet ``[A-Za-z0-9_-]``) and stored: a link
    can be revoked and counted, and nothing about the organization can be read or guessed from it. A customer who
    follows it and shares their contact becomes a client of the organization with the link's source (or the
    organization's "Telegram" source).
    """

    code = models.CharField(_("code"), max_length=64, unique=True, editable=False)
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.CASCADE,
        related_name="telegram_links",
        verbose_name=_("organization"),
    )
    branch = models.ForeignKey(
        "organizations.Branch",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="telegram_links",
        verbose_name=_("branch"),
    )
    source = models.ForeignKey(
        "crm.ClientSource",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("client source"),
        help_text=_("recorded on clients who join by this link; empty: Telegram"),
    )
    label = models.CharField(_("label"), max_length=100, blank=True, help_text=_("where the link is published"))
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    uses = models.PositiveIntegerField(_("uses"), default=0, help_text=_("contacts linked through this link"))

    class Meta:
        verbose_name = _("Telegram deep link")
        verbose_name_plural = _("Telegram deep links")

    def __str__(self) -> str:
        return f"{self.label or self.code} ({self.organization_id})"
