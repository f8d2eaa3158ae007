"""Organizations (HQ, franchise, independent business), branches and role memberships."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from backend.core.models import TimeStampedModel


class OrganizationKind(models.TextChoices):
    STAFFING_AGENCY = "staffing_agency", _("staffing agency")
    BEAUTY_SALON = "beauty_salon", _("beauty salon")
    MEDICAL_CLINIC = "medical_clinic", _("medical clinic")
    DENTAL_CLINIC = "dental_clinic", _("dental clinic")
    PAEDIATRICS = "paediatrics", _("paediatrics")
    VETERINARY_CLINIC = "veterinary_clinic", _("veterinary clinic")
    SPORTS_SECTION = "sports_section", _("sports section")
    CAR_SERVICE = "car_service", _("car service")
    GENERIC = "generic", _("generic business")


class Role(models.TextChoices):
    OWNER = "owner", _("owner")
    MANAGER = "manager", _("manager")
    DISPATCHER = "dispatcher", _("dispatcher")
    MASTER = "master", _("master")
    WORKER = "worker", _("worker")
    ANALYST = "analyst", _("analyst")


#: Booking policy defaults (an organization may change each; a branch may override the availability ones).
DEFAULT_SLOT_STEP_MINUTES = 15
DEFAULT_LEAD_TIME_MINUTES = 60
DEFAULT_HORIZON_DAYS = 60
DEFAULT_CANCEL_CUTOFF_MINUTES = 120
MAX_LEAD_TIME_MINUTES = 30 * 24 * 60
MAX_HORIZON_DAYS = 366
MAX_CANCEL_CUTOFF_MINUTES = 30 * 24 * 60
SLOT_STEP_CHOICES = (5, 10, 15, 20, 30, 60)


def default_reminder_offsets() -> list[int]:
    """Reminders go out 24 hours and 2 hours before an appointment (minutes before its start)."""
    return [24 * 60, 2 * 60]


class Organization(TimeStampedModel):
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=OrganizationKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent (HQ)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="franchises",
    )
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166-1 alpha-2"), default="RU")
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Moscow")
    currency = models.CharField(_("currency"), max_length=3, default="RUB")
    language = models.CharField(_("language"), max_length=2, default="ru")
    is_active = models.BooleanField(_("active"), default=True)
    # --- booking policy (decision 0009): customers book only organizations that opt in. Not editable in the admin
    # forms: the booking catalog service sets them (backend.booking.services.catalog), with its checks and event.
    online_booking = models.BooleanField(
        _("accepts online booking"),
        editable=False,
        default=False,
        help_text=_("customers may find it and book themselves"),
    )
    booking_slot_step_minutes = models.PositiveSmallIntegerField(
        _("slot step, minutes"),
        editable=False,
        default=DEFAULT_SLOT_STEP_MINUTES,
        choices=[(n, str(n)) for n in SLOT_STEP_CHOICES],
    )
    booking_lead_time_minutes = models.PositiveIntegerField(
        _("lead time, minutes"),
        editable=False,
        default=DEFAULT_LEAD_TIME_MINUTES,
        validators=[MaxValueValidator(MAX_LEAD_TIME_MINUTES)],
        help_text=_("a customer books at least this long before the start"),
    )
    booking_horizon_days = models.PositiveSmallIntegerField(
        _("booking horizon, days"),
        editable=False,
        default=DEFAULT_HORIZON_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_HORIZON_DAYS)],
        help_text=_("a customer books at most this many days ahead"),
    )
    booking_cancel_cutoff_minutes = models.PositiveIntegerField(
        _("cancel / reschedule cutoff, minutes"),
        editable=False,
        default=DEFAULT_CANCEL_CUTOFF_MINUTES,
        validators=[MaxValueValidator(MAX_CANCEL_CUTOFF_MINUTES)],
        help_text=_("a customer cancels or moves an appointment at least this long before it starts"),
    )
    booking_reminder_offsets_minutes = models.JSONField(
        _("reminders, minutes before"),
        editable=False,
        default=default_reminder_offsets,
        blank=True,
        help_text=_("[1440, 120] sends reminders 24 h and 2 h before"),
    )

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Branch(TimeStampedModel):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="branches")
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, help_text=_("defaults to the organization's")
    )
    phone = models.CharField(_("phone"), max_length=16, blank=True)
    opening_hours = models.JSONField(
        _("opening hours"), default=dict, blank=True, help_text=_('{"mon": ["09:00", "21:00"], ...}')
    )
    is_active = models.BooleanField(_("active"), default=True)
    # --- booking: the switch and overrides of the organization's availability policy (empty: the organization's)
    online_booking = models.BooleanField(_("accepts online booking"), editable=False, default=True)
    booking_slot_step_minutes = models.PositiveSmallIntegerField(
        _("slot step, minutes"), editable=False, null=True, blank=True, choices=[(n, str(n)) for n in SLOT_STEP_CHOICES]
    )
    booking_lead_time_minutes = models.PositiveIntegerField(
        _("lead time, minutes"),
        editable=False,
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_LEAD_TIME_MINUTES)],
    )
    booking_horizon_days = models.PositiveSmallIntegerField(
        _("booking horizon, days"),
        editable=False,
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_HORIZON_DAYS)],
    )

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ("organization_id", "name")

    def __str__(self) -> str:
        return f"{self.organization} / {self.name}"

    @property
    def effective_time_zone(self) -> str:
        return self.time_zone or self.organization.time_zone


class Membership(TimeStampedModel):
    """A user's role in an organization, optionally narrowed to one branch."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    branch = models.ForeignKey(Branch, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "role"], name="membership_user_org_role_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} @ {self.organization}"
