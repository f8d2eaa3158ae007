"""Staff schedules: work patterns and their exceptions, all in the branch's local time.

The staff identity is the user, as in ``catalog.StaffService.staff``; a schedule's master holds an active master
membership of the organization. Times are local wall-clock times of the branch; the selector turns them into UTC.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from backend.core.models import TimeStampedModel


class PatternKind(models.TextChoices):
    CYCLE = "cycle", _("N days on / M days off")
    WEEKLY = "weekly", _("weekly")


class WorkPattern(TimeStampedModel):
    """A master's repeating working days at a branch from ``anchor_date`` up to ``end_date`` (inclusive).

    A cycle works ``cycle_on`` days then rests ``cycle_off`` days, counted from the anchor; a weekly pattern works on
    ``weekdays`` (0 = Monday). Each working day runs ``day_start``-``day_end`` minus ``breaks`` ([["13:00", "14:00"]]).
    """

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="work_patterns"
    )
    branch = models.ForeignKey("organizations.Branch", on_delete=models.PROTECT, related_name="work_patterns")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="work_patterns")
    kind = models.CharField(_("kind"), max_length=16, choices=PatternKind.choices)
    anchor_date = models.DateField(_("anchor date"))
    end_date = models.DateField(_("end date"))
    cycle_on = models.PositiveSmallIntegerField(_("days on"), null=True, blank=True)
    cycle_off = models.PositiveSmallIntegerField(_("days off"), null=True, blank=True)
    weekdays = models.JSONField(_("weekdays"), default=list, blank=True)
    day_start = models.TimeField(_("day starts"))
    day_end = models.TimeField(_("day ends"))
    breaks = models.JSONField(_("breaks"), default=list, blank=True)

    class Meta:
        verbose_name = _("work pattern")
        verbose_name_plural = _("work patterns")
        ordering = ("organization_id", "staff_id", "anchor_date", "id")
        constraints = [
            models.CheckConstraint(condition=Q(end_date__gte=F("anchor_date")), name="booking_pattern_end_gte_anchor"),
            models.CheckConstraint(condition=Q(day_end__gt=F("day_start")), name="booking_pattern_hours_order"),
        ]

    def __str__(self) -> str:
        return f"{self.staff} @ {self.branch}: {self.get_kind_display()} {self.anchor_date}..{self.end_date}"


class ExceptionKind(models.TextChoices):
    DAY_OFF = "day_off", _("day off")
    VACATION = "vacation", _("vacation")
    EXTRA_DAY = "extra_day", _("extra working day")


class ScheduleException(TimeStampedModel):
    """A day off or a vacation (no work on ``start_date``-``end_date``), or an extra working day with its own hours."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="schedule_exceptions"
    )
    branch = models.ForeignKey("organizations.Branch", on_delete=models.PROTECT, related_name="schedule_exceptions")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="schedule_exceptions")
    kind = models.CharField(_("kind"), max_length=16, choices=ExceptionKind.choices)
    start_date = models.DateField(_("first day"))
    end_date = models.DateField(_("last day"))
    day_start = models.TimeField(_("day starts"), null=True, blank=True)
    day_end = models.TimeField(_("day ends"), null=True, blank=True)
    breaks = models.JSONField(_("breaks"), default=list, blank=True)

    class Meta:
        verbose_name = _("schedule exception")
        verbose_name_plural = _("schedule exceptions")
        ordering = ("organization_id", "staff_id", "start_date", "id")
        constraints = [
            models.CheckConstraint(condition=Q(end_date__gte=F("start_date")), name="booking_exception_end_gte_start"),
        ]

    def __str__(self) -> str:
        return f"{self.staff} @ {self.branch}: {self.get_kind_display()} {self.start_date}..{self.end_date}"
