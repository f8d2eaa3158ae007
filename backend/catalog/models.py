"""The service catalog: what a business sells, who performs it and where.

For booking: a service is offered at the branches that list it (``BranchService``), may need a resource of one kind
there (a cabinet, a bay, a chair), may be a group service with a capacity, and holds the master's (and resource's)
time for ``buffer_before_minutes`` before and ``buffer_after_minutes`` after itself. Online booking by customers is
allowed only when every switch on the way says so: organization, branch, service, the branch's offer and the master's
``StaffService``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from backend.core.models import SoftDeleteModel, TimeStampedModel
from backend.core.names import NameKeyField

MAX_PRICE = Decimal("9999999999.99")
MAX_DURATION_MINUTES = 24 * 60
MAX_BUFFER_MINUTES = 240
MAX_GROUP_CAPACITY = 1000


class ServiceGroup(TimeStampedModel):
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="service_groups"
    )
    name = models.CharField(_("name"), max_length=100)
    name_key = NameKeyField()
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("service group")
        verbose_name_plural = _("service groups")
        ordering = ("organization_id", "sort_order", "name")
        # Names are unique per organization in any case (on the case-folded key, Cyrillic included); the service
        # maps a refused insert to its 409.
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name_key"],
                name="catalog_servicegroup_org_name_key_uniq",
                violation_error_message=_("This name is taken."),
            )
        ]

    def __str__(self) -> str:
        return self.name


class ResourceKind(models.TextChoices):
    CABINET = "cabinet", _("cabinet")
    BAY = "bay", _("bay")
    CHAIR = "chair", _("chair")
    ROOM = "room", _("room")
    EQUIPMENT = "equipment", _("equipment")


class Service(SoftDeleteModel):
    """A sellable service. Price is in the organization's currency."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="services")
    group = models.ForeignKey(
        ServiceGroup,
        verbose_name=_("group"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="services",
    )
    name = models.CharField(_("name"), max_length=200)
    code = models.CharField(_("code / article"), max_length=32, blank=True, help_text=_("unique in the organization"))
    price = models.DecimalField(
        _("price"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(MAX_PRICE)],
    )
    duration_minutes = models.PositiveIntegerField(
        _("duration, minutes"),
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DURATION_MINUTES)],
    )
    description = models.TextField(_("description"), max_length=2000, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    online_booking = models.BooleanField(
        _("bookable online"), default=True, help_text=_("customers may book it themselves")
    )
    is_group = models.BooleanField(
        _("group service"), default=False, help_text=_("a class or section: several clients share one session")
    )
    capacity = models.PositiveSmallIntegerField(
        _("capacity"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_GROUP_CAPACITY)],
        help_text=_("places in one session of a group service"),
    )
    buffer_before_minutes = models.PositiveSmallIntegerField(
        _("buffer before, minutes"), default=0, validators=[MaxValueValidator(MAX_BUFFER_MINUTES)]
    )
    buffer_after_minutes = models.PositiveSmallIntegerField(
        _("buffer after, minutes"), default=0, validators=[MaxValueValidator(MAX_BUFFER_MINUTES)]
    )
    resource_kind = models.CharField(
        _("needs a resource"),
        max_length=16,
        blank=True,
        default="",
        choices=[("", _("no resource")), *ResourceKind.choices],
        help_text=_("any active resource of this kind at the branch"),
    )

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ("organization_id", "name", "id")
        constraints = [
            # Deleted rows keep their code: a re-import matching by code finds them instead of duplicating.
            models.UniqueConstraint(
                fields=["organization", "code"],
                condition=~Q(code=""),
                name="catalog_service_org_code_uniq",
                violation_error_message=_("Another service has this code."),
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="catalog_service_price_gte_0"),
            models.CheckConstraint(condition=Q(duration_minutes__gte=1), name="catalog_service_duration_gte_1"),
            models.CheckConstraint(
                condition=Q(capacity__gte=1, capacity__lte=MAX_GROUP_CAPACITY), name="catalog_service_capacity_range"
            ),
            models.CheckConstraint(
                condition=Q(
                    buffer_before_minutes__lte=MAX_BUFFER_MINUTES, buffer_after_minutes__lte=MAX_BUFFER_MINUTES
                ),
                name="catalog_service_buffers_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def currency(self) -> str:
        return self.organization.currency


class Resource(TimeStampedModel):
    """A place or thing a service may need at a branch (a cabinet, a car bay, a chair)."""

    branch = models.ForeignKey("organizations.Branch", on_delete=models.PROTECT, related_name="resources")
    kind = models.CharField(_("kind"), max_length=16, choices=ResourceKind.choices)
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("resource")
        verbose_name_plural = _("resources")
        ordering = ("branch_id", "kind", "name")
        constraints = [models.UniqueConstraint(fields=["branch", "name"], name="catalog_resource_branch_name_uniq")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"

    @property
    def organization_id(self) -> int:
        return self.branch.organization_id


class StaffService(TimeStampedModel):
    """Who performs a service, with their own price and duration when they differ from the service's."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="staff_services"
    )
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff_services")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="staff_services")
    price = models.DecimalField(
        _("own price"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(MAX_PRICE)],
    )
    duration_minutes = models.PositiveIntegerField(
        _("own duration, minutes"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DURATION_MINUTES)],
    )
    is_active = models.BooleanField(_("active"), default=True)
    online_booking = models.BooleanField(
        _("bookable online"), default=True, help_text=_("customers may book this master for this service")
    )

    class Meta:
        verbose_name = _("staff service")
        verbose_name_plural = _("staff services")
        constraints = [models.UniqueConstraint(fields=["staff", "service"], name="catalog_staffservice_uniq")]

    def __str__(self) -> str:
        return f"{self.staff} — {self.service}"

    @property
    def effective_price(self) -> Decimal:
        return self.price if self.price is not None else self.service.price

    @property
    def effective_duration_minutes(self) -> int:
        return self.duration_minutes if self.duration_minutes is not None else self.service.duration_minutes


class BranchService(TimeStampedModel):
    """A service offered at a branch. A service without a row here is not booked at that branch at all."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="branch_services"
    )
    branch = models.ForeignKey("organizations.Branch", on_delete=models.PROTECT, related_name="branch_services")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="branch_services")
    is_active = models.BooleanField(_("offered at the branch"), default=True)
    online_booking = models.BooleanField(
        _("bookable online"), default=True, help_text=_("customers may book it at this branch themselves")
    )

    class Meta:
        verbose_name = _("branch service")
        verbose_name_plural = _("branch services")
        ordering = ("branch_id", "service_id")
        constraints = [models.UniqueConstraint(fields=["branch", "service"], name="catalog_branchservice_uniq")]

    def __str__(self) -> str:
        return f"{self.branch} — {self.service}"
