"""CRM: clients of an organization, their sources, groups and vehicles."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from backend.core.models import SoftDeleteModel, TimeStampedModel
from backend.core.names import NameKeyField

CONSENT_KINDS = ("messages", "marketing", "personal_data")


class ClientSource(TimeStampedModel):
    """Where a client came from (Instagram, a referral, walk-in...)."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="client_sources"
    )
    name = models.CharField(_("name"), max_length=100)
    name_key = NameKeyField()
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("client source")
        verbose_name_plural = _("client sources")
        ordering = ("organization_id", "name")
        # "VIP" and "vip", "ВИП" and "вип" are one source: the database refuses the second, even from two concurrent
        # requests (on the case-folded key: SQLite's lower() folds ASCII only).
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name_key"],
                name="crm_source_org_name_key_uniq",
                violation_error_message=_("This name is taken."),
            )
        ]

    def __str__(self) -> str:
        return self.name


class ClientGroup(TimeStampedModel):
    """A manual segment (VIP, wholesale, "came from the promo")."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="client_groups"
    )
    name = models.CharField(_("name"), max_length=100)
    name_key = NameKeyField()

    class Meta:
        verbose_name = _("client group")
        verbose_name_plural = _("client groups")
        ordering = ("organization_id", "name")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name_key"],
                name="crm_group_org_name_key_uniq",
                violation_error_message=_("This name is taken."),
            )
        ]

    def __str__(self) -> str:
        return self.name


class Gender(models.TextChoices):
    UNKNOWN = "", _("not set")
    FEMALE = "female", _("female")
    MALE = "male", _("male")


class Client(SoftDeleteModel):
    """A client of one organization.

    The phone is unique within the organization among *all* rows, deleted ones included: a soft-deleted
    client is still the same person with the same history, so adding them again means restoring them
    (the API answers 409 ``client_phone_taken`` and names the deleted client).
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="clients")
    phone = models.CharField(_("phone"), max_length=16, help_text=_("E.164, e.g. +77011234567"))
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    middle_name = models.CharField(_("middle name"), max_length=100, blank=True)
    code = models.CharField(_("client code"), max_length=32, blank=True, help_text=_("card number or own code"))
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True, default="")
    email = models.EmailField(_("email"), max_length=254, blank=True)
    source = models.ForeignKey(
        ClientSource,
        verbose_name=_("source"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="clients",
    )
    groups = models.ManyToManyField(ClientGroup, verbose_name=_("groups"), blank=True, related_name="clients")
    curator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("curator"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="curated_clients",
    )
    notes = models.TextField(_("notes"), max_length=5000, blank=True)
    extra_contact = models.CharField(
        _("extra contact"), max_length=200, blank=True, help_text=_("another phone, Telegram, a relative...")
    )
    consent_messages_at = models.DateTimeField(_("messages consent given at"), null=True, blank=True)
    consent_messages_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("messages consent recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    consent_messages_how = models.CharField(
        _("messages consent: how"),
        max_length=100,
        blank=True,
        help_text=_("paper form, website, verbal, import..."),
    )
    consent_marketing_at = models.DateTimeField(_("marketing consent given at"), null=True, blank=True)
    consent_marketing_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("marketing consent recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    consent_marketing_how = models.CharField(
        _("marketing consent: how"),
        max_length=100,
        blank=True,
        help_text=_("paper form, website, verbal, import..."),
    )
    consent_personal_data_at = models.DateTimeField(_("personal data consent given at"), null=True, blank=True)
    consent_personal_data_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("personal data consent recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    consent_personal_data_how = models.CharField(
        _("personal data consent: how"),
        max_length=100,
        blank=True,
        help_text=_("paper form, website, verbal, import..."),
    )
    last_visit_at = models.DateTimeField(_("last visit"), null=True, blank=True, help_text=_("maintained by booking"))
    # Maintained by the services: lowercase names/e-mail/code, because SQLite's LIKE folds ASCII only.
    search_text = models.CharField(max_length=600, blank=True, default="", editable=False)
    # Lowercase "last first middle" for sorting by name the same way on every database.
    name_key = models.CharField(max_length=310, blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ("name_key", "id")
        constraints = [
            models.UniqueConstraint(fields=["organization", "phone"], name="crm_client_org_phone_uniq"),
            models.UniqueConstraint(
                fields=["organization", "code"],
                condition=~Q(code=""),
                name="crm_client_org_code_uniq",
                violation_error_message=_("Another client has this code."),
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "name_key", "id"], name="crm_client_org_name_idx"),
            models.Index(fields=["organization", "last_visit_at"], name="crm_client_org_visit_idx"),
            models.Index(fields=["organization", "created_at"], name="crm_client_org_created_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.phone

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)


class Vehicle(SoftDeleteModel):
    """A client's car, for car services."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="vehicles")
    make = models.CharField(_("make"), max_length=64, blank=True)
    model = models.CharField(_("model"), max_length=64, blank=True)
    plate = models.CharField(_("plate"), max_length=16, blank=True)
    vin = models.CharField(_("VIN"), max_length=17, blank=True)
    year = models.PositiveSmallIntegerField(
        _("year"), null=True, blank=True, validators=[MinValueValidator(1900), MaxValueValidator(2100)]
    )

    class Meta:
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        ordering = ("client_id", "id")

    def __str__(self) -> str:
        return " ".join(p for p in (self.make, self.model, self.plate) if p) or f"#{self.pk}"
