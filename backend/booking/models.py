"""Staff schedules, appointments, group sessions and the occupancy that can never double-book.

Schedules: the staff identity is the user, as in ``catalog.StaffService.staff``; a schedule's master holds an active
master membership of the organization. Schedule times are local wall-clock times of the branch; the selector turns
them into UTC. Appointment times are aware datetimes stored in UTC.

Appointments (decision 0009): an ``Appointment`` is one visit of one client; its ``AppointmentLine`` rows are the
services in sequence, each with its own master, resource and price/duration snapshot. A group class is a
``GroupSession`` (one master, one time, a capacity) whose participants are appointments pointing at it. What holds a
master's or a resource's time is an ``Occupancy`` row, one per individual line and one per group session, spanning
the service *with* its buffers. The database refuses two active occupancies of one master or one resource that
overlap: an exclusion constraint on PostgreSQL, an equivalent trigger on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Func, Q
from django.utils.translation import gettext_lazy as _

from backend.catalog.models import MAX_PRICE
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


# --- appointments ---------------------------------------------------------------------------------------------------

MAX_NOTES_LENGTH = 1000
MAX_CANCEL_REASON_LENGTH = 300
#: A visit holds at most this many services in sequence.
MAX_VISIT_LINES = 5


class AppointmentStatus(models.TextChoices):
    HELD = "held", _("held for the waiting list")
    BOOKED = "booked", _("booked")
    CONFIRMED = "confirmed", _("confirmed")
    ARRIVED = "arrived", _("arrived")
    DONE = "done", _("done")
    CANCELLED = "cancelled", _("cancelled")
    NO_SHOW = "no_show", _("no-show")


#: Statuses whose appointment holds its master's and resource's time. A cancelled visit frees it; so does a no-show
#: (marked when the client did not come, the master may take a walk-in in the rest of the slot). A hold (a freed slot
#: offered to the waiting list for a few minutes) holds the time too, so nobody else takes it meanwhile.
ACTIVE_STATUSES = frozenset(
    {
        AppointmentStatus.HELD,
        AppointmentStatus.BOOKED,
        AppointmentStatus.CONFIRMED,
        AppointmentStatus.ARRIVED,
        AppointmentStatus.DONE,
    }
)

#: The status flow: booked -> confirmed -> arrived -> done, and cancelled / no-show from the open statuses; a hold
#: becomes a booking when the client takes it, or is cancelled when it expires.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    AppointmentStatus.HELD: frozenset({AppointmentStatus.BOOKED, AppointmentStatus.CANCELLED}),
    AppointmentStatus.BOOKED: frozenset(
        {AppointmentStatus.CONFIRMED, AppointmentStatus.ARRIVED, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW}
    ),
    AppointmentStatus.CONFIRMED: frozenset(
        {AppointmentStatus.ARRIVED, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW}
    ),
    AppointmentStatus.ARRIVED: frozenset({AppointmentStatus.DONE}),
    AppointmentStatus.DONE: frozenset(),
    AppointmentStatus.CANCELLED: frozenset(),
    AppointmentStatus.NO_SHOW: frozenset(),
}


class BookingChannel(models.TextChoices):
    CUSTOMER = "customer", _("booked by the customer")
    STAFF = "staff", _("booked by staff")
    WAITLIST = "waitlist", _("from the waiting list")


class TsTzRange(Func):
    """``tstzrange(start, end, '[)')``: the half-open interval the exclusion constraint compares."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class GroupSessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    CANCELLED = "cancelled", _("cancelled")


class GroupSession(TimeStampedModel):
    """One session of a group service: a master (and a resource) at one time with ``capacity`` places.

    ``seats_taken`` counts its active participants; the services take a place with a conditional
    ``UPDATE ... SET seats_taken = seats_taken + 1 WHERE seats_taken < capacity``, so exactly ``capacity`` win.
    """

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="group_sessions"
    )
    branch = models.ForeignKey("organizations.Branch", on_delete=models.PROTECT, related_name="group_sessions")
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="group_sessions")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="group_sessions")
    resource = models.ForeignKey(
        "catalog.Resource", null=True, blank=True, on_delete=models.PROTECT, related_name="group_sessions"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveSmallIntegerField(_("capacity"), validators=[MinValueValidator(1)])
    seats_taken = models.PositiveSmallIntegerField(_("places taken"), default=0)
    status = models.CharField(
        _("status"), max_length=16, choices=GroupSessionStatus.choices, default=GroupSessionStatus.SCHEDULED
    )
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0), MaxValueValidator(MAX_PRICE)]
    )

    class Meta:
        verbose_name = _("group session")
        verbose_name_plural = _("group sessions")
        ordering = ("branch_id", "starts_at", "id")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="booking_session_end_gt_start"),
            models.CheckConstraint(
                condition=Q(seats_taken__lte=F("capacity")), name="booking_session_seats_lte_capacity"
            ),
            # Two first bookings of one class at once create one session: the loser joins the winner's.
            models.UniqueConstraint(
                fields=["service", "staff", "starts_at"],
                condition=Q(status="scheduled"),
                name="booking_session_one_per_slot",
            ),
        ]
        indexes = [models.Index(fields=["branch", "starts_at"], name="booking_session_branch_idx")]

    def __str__(self) -> str:
        return f"{self.service} @ {self.starts_at:%Y-%m-%d %H:%M} ({self.seats_taken}/{self.capacity})"


class Appointment(TimeStampedModel):
    """One visit of one client at a branch: its services in sequence are its lines.

    ``starts_at``/``ends_at`` span the services (without buffers); ``staff`` is the first line's master (lists and
    "my day" filter by it; every line names its own). ``price`` is the sum of the lines' snapshots in ``currency``.
    A participant of a group class points at its ``group_session`` and holds no time of its own.
    """

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="appointments"
    )
    branch = models.ForeignKey("organizations.Branch", on_delete=models.PROTECT, related_name="appointments")
    client = models.ForeignKey("crm.Client", on_delete=models.PROTECT, related_name="appointments")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customer_appointments",
        help_text=_("the user who booked as a customer"),
    )
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff_appointments")
    group_session = models.ForeignKey(
        GroupSession, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    status = models.CharField(
        _("status"), max_length=16, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    hold_expires_at = models.DateTimeField(
        _("hold expires at"), null=True, blank=True, help_text=_("a waiting-list hold lapses then")
    )
    channel = models.CharField(_("booked via"), max_length=16, choices=BookingChannel.choices)
    source = models.ForeignKey(
        "crm.ClientSource",
        verbose_name=_("source"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appointments",
    )
    price = models.DecimalField(
        _("price"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_PRICE)],
    )
    currency = models.CharField(_("currency"), max_length=3)
    notes = models.CharField(_("notes"), max_length=MAX_NOTES_LENGTH, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_reason = models.CharField(_("cancel reason"), max_length=MAX_CANCEL_REASON_LENGTH, blank=True, default="")
    rescheduled_count = models.PositiveSmallIntegerField(_("times rescheduled"), default=0)

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ("starts_at", "id")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="booking_appointment_end_gt_start"),
            models.CheckConstraint(condition=Q(price__gte=0), name="booking_appointment_price_gte_0"),
        ]
        indexes = [
            models.Index(fields=["branch", "starts_at"], name="booking_appt_branch_idx"),
            models.Index(fields=["staff", "starts_at"], name="booking_appt_staff_idx"),
            models.Index(fields=["client", "starts_at"], name="booking_appt_client_idx"),
            models.Index(fields=["customer", "starts_at"], name="booking_appt_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.client} @ {self.starts_at:%Y-%m-%d %H:%M} ({AppointmentStatus(self.status).label})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class AppointmentLine(TimeStampedModel):
    """One service of a visit, in sequence (``position`` 0, 1, ...), with its own snapshot of price and duration.

    ``starts_at``/``ends_at`` are the service itself; the buffers are the minutes the master (and resource) stay
    held before and after it, as they were when booked.
    """

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(_("position"))
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="appointment_lines")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointment_lines")
    resource = models.ForeignKey(
        "catalog.Resource", null=True, blank=True, on_delete=models.PROTECT, related_name="appointment_lines"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    duration_minutes = models.PositiveIntegerField(_("duration, minutes"))
    buffer_before_minutes = models.PositiveSmallIntegerField(_("buffer before, minutes"), default=0)
    buffer_after_minutes = models.PositiveSmallIntegerField(_("buffer after, minutes"), default=0)
    price = models.DecimalField(
        _("price"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_PRICE)],
    )

    class Meta:
        verbose_name = _("appointment line")
        verbose_name_plural = _("appointment lines")
        ordering = ("appointment_id", "position")
        constraints = [
            models.UniqueConstraint(fields=["appointment", "position"], name="booking_line_position_uniq"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="booking_line_end_gt_start"),
        ]

    def __str__(self) -> str:
        return f"{self.service} @ {self.starts_at:%Y-%m-%d %H:%M}"


class Occupancy(models.Model):
    """The time a master, a resource or a client is held: ``[starts_at, ends_at)``.

    One row per line of an individual visit and one per group session (the master's and the resource's time,
    including the buffers), plus one per appointment for its client (the visit's own span, no buffers: the client is
    not there for the master's preparation), individual or a place in a group class. So a client is never in two
    visits at once either. ``is_active`` follows the appointment's (or the
    session's) status: the services set it in the same transaction as the status. The database refuses two active
    rows of one master, of one resource or of one client whose intervals overlap (back to back is allowed): on
    PostgreSQL the three exclusion constraints below (btree_gist; a loser gets SQLSTATE 23P01), on SQLite the
    triggers of ``backend.booking.db.SQLITE_TRIGGERS`` (decision 0009). Availability reads busy time from here.
    """

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey("organizations.Branch", on_delete=models.PROTECT, related_name="occupancies")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="occupancies"
    )
    resource = models.ForeignKey(
        "catalog.Resource", null=True, blank=True, on_delete=models.PROTECT, related_name="occupancies"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    is_active = models.BooleanField(default=True)
    line = models.OneToOneField(
        AppointmentLine, null=True, blank=True, on_delete=models.CASCADE, related_name="occupancy"
    )
    group_session = models.OneToOneField(
        GroupSession, null=True, blank=True, on_delete=models.CASCADE, related_name="occupancy"
    )
    client = models.ForeignKey(
        "crm.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="occupancies"
    )
    appointment = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.CASCADE, related_name="client_occupancy"
    )

    class Meta:
        verbose_name = _("occupancy")
        verbose_name_plural = _("occupancies")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="booking_occupancy_end_gt_start"),
            models.CheckConstraint(
                condition=Q(staff__isnull=False) | Q(resource__isnull=False) | Q(client__isnull=False),
                name="booking_occupancy_holds_something",
            ),
            # A line's or a session's row holds a master and/or a resource; an appointment's row holds its client.
            models.CheckConstraint(
                condition=Q(line__isnull=False, group_session__isnull=True, appointment__isnull=True)
                | Q(line__isnull=True, group_session__isnull=False, appointment__isnull=True)
                | Q(line__isnull=True, group_session__isnull=True, appointment__isnull=False),
                name="booking_occupancy_one_owner",
            ),
            models.CheckConstraint(
                condition=Q(appointment__isnull=True, client__isnull=True)
                | Q(appointment__isnull=False, client__isnull=False, staff__isnull=True, resource__isnull=True),
                name="booking_occupancy_client_row",
            ),
            # PostgreSQL only (created by a vendor-specific migration operation; SQLite has triggers instead).
            ExclusionConstraint(
                name="booking_occupancy_staff_no_overlap",
                expressions=[
                    ("staff", RangeOperators.EQUAL),
                    (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                condition=Q(is_active=True, staff__isnull=False),
            ),
            ExclusionConstraint(
                name="booking_occupancy_resource_no_overlap",
                expressions=[
                    ("resource", RangeOperators.EQUAL),
                    (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                condition=Q(is_active=True, resource__isnull=False),
            ),
            ExclusionConstraint(
                name="booking_occupancy_client_no_overlap",
                expressions=[
                    ("client", RangeOperators.EQUAL),
                    (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                condition=Q(is_active=True, client__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["staff", "starts_at"], name="booking_occ_staff_idx"),
            models.Index(fields=["resource", "starts_at"], name="booking_occ_resource_idx"),
            models.Index(fields=["branch", "starts_at"], name="booking_occ_branch_idx"),
            models.Index(fields=["client", "starts_at"], name="booking_occ_client_idx"),
        ]

    def __str__(self) -> str:
        holder = f"{self.client}" if self.client_id else f"{self.staff or '-'} / {self.resource or '-'}"
        return f"{holder} {self.starts_at:%Y-%m-%d %H:%M}-{self.ends_at:%H:%M}"

    def get_constraints(self) -> list[tuple[type[models.Model], Sequence[models.BaseConstraint]]]:
        # What full_clean() checks: the exclusion constraints are the database's to check, under concurrency
        # (FIELD-NOTES: a Python check passed rows the database then rejected), and their Python check is
        # PostgreSQL-only besides.
        return [
            (model, [c for c in constraints if not isinstance(c, ExclusionConstraint)])
            for model, constraints in super().get_constraints()
        ]


# --- client messaging: reminders, waiting list, reviews, mailings (backend/booking/models_comms.py) -----------------
from .models_comms import *  # noqa: E402, F403
