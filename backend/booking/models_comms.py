"""Talking to clients about their visits: reminders and follow-ups, the waiting list, reviews and mailings.

Imported by ``backend.booking.models`` so that Django finds these models in the booking app; kept in its own module so
that the appointment models and these evolve without touching each other's lines (decision 0011).

* ``CommsSettings``: an organization's choices for these messages (the reminder offsets themselves live with the
  rest of its booking policy, ``Organization.booking_reminder_offsets_minutes``).
* ``AppointmentMessage``: one message about one appointment due at one moment (a reminder N minutes before, or the
  rating request after the visit). Moved when the appointment moves, dropped when it is cancelled; its ``version``
  tells the task that sends it whether it still speaks for the current time.
* ``WaitlistEntry`` / ``WaitlistOffer``: a client waiting for a service (a master, time windows), and the freed slots
  offered to entries in turn, each held for a few minutes.
* ``Review``: the client's 1-10 score (and comment) of one visit.
* ``Mailing``: one message sent to a segment of an organization's clients.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from backend.core.models import TimeStampedModel

DEFAULT_HOLD_MINUTES = 15
MAX_HOLD_MINUTES = 24 * 60
DEFAULT_REVIEW_DELAY_MINUTES = 60
MAX_REVIEW_DELAY_MINUTES = 7 * 24 * 60
MAX_BIRTHDAY_DAYS_AHEAD = 30
MAX_GREETING_LENGTH = 500
MAX_REVIEW_COMMENT_LENGTH = 2000
MAX_MAILING_TEXT_LENGTH = 1000
MAX_WAITLIST_WINDOWS = 7
MIN_SCORE, MAX_SCORE = 1, 10


class CommsSettings(TimeStampedModel):
    """One organization's settings for messages to clients (a missing row means the defaults)."""

    organization = models.OneToOneField(
        "organizations.Organization", on_delete=models.PROTECT, related_name="comms_settings"
    )
    confirmation_requests = models.BooleanField(
        _("ask to confirm"),
        default=True,
        help_text=_("the first reminder of a booked visit asks the client to confirm"),
    )
    review_requests = models.BooleanField(_("ask for a rating after the visit"), default=True)
    review_request_delay_minutes = models.PositiveIntegerField(
        _("rating request, minutes after the visit"),
        default=DEFAULT_REVIEW_DELAY_MINUTES,
        validators=[MaxValueValidator(MAX_REVIEW_DELAY_MINUTES)],
    )
    waitlist_hold_minutes = models.PositiveSmallIntegerField(
        _("waiting list: minutes an offer is held"),
        default=DEFAULT_HOLD_MINUTES,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_HOLD_MINUTES)],
    )
    birthday_greetings = models.BooleanField(_("birthday greetings"), default=False)
    birthday_days_ahead = models.PositiveSmallIntegerField(
        _("birthday greetings, days ahead"), default=0, validators=[MaxValueValidator(MAX_BIRTHDAY_DAYS_AHEAD)]
    )
    birthday_text = models.CharField(
        _("birthday greeting"),
        max_length=MAX_GREETING_LENGTH,
        blank=True,
        default="",
        help_text=_("empty: the standard greeting"),
    )

    class Meta:
        verbose_name = _("client messaging settings")
        verbose_name_plural = _("client messaging settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(waitlist_hold_minutes__gte=1, waitlist_hold_minutes__lte=MAX_HOLD_MINUTES),
                name="booking_comms_hold_range",
            ),
            models.CheckConstraint(
                condition=Q(birthday_days_ahead__lte=MAX_BIRTHDAY_DAYS_AHEAD), name="booking_comms_birthday_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization}"


class AppointmentMessageKind(models.TextChoices):
    REMINDER = "reminder", _("reminder")
    REVIEW_REQUEST = "review_request", _("rating request")


class AppointmentMessageStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    SENT = "sent", _("sent")  # handed to the outbox
    CANCELLED = "cancelled", _("cancelled")  # the appointment was cancelled or will not take place
    SKIPPED = "skipped", _("skipped")  # its moment had passed when it was (re)scheduled, or no way to reach the client


class AppointmentMessage(TimeStampedModel):
    """A message about an appointment, due at ``due_at``: a reminder ``offset_minutes`` before the start, or the
    rating request after the visit.

    One row per (appointment, kind, offset). Rescheduling moves ``due_at`` and bumps ``version``; the task enqueued for
    the old moment then finds a newer version and does nothing, and the outbox dedupe key carries the version, so a
    moved reminder goes out once, at the new time.
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    appointment = models.ForeignKey("booking.Appointment", on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(_("kind"), max_length=16, choices=AppointmentMessageKind.choices)
    offset_minutes = models.PositiveIntegerField(_("minutes before the start"), default=0)
    due_at = models.DateTimeField(_("due at"))
    status = models.CharField(
        _("status"), max_length=16, choices=AppointmentMessageStatus.choices, default=AppointmentMessageStatus.SCHEDULED
    )
    version = models.PositiveIntegerField(default=1)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    outbox_message = models.ForeignKey(
        "notifications.OutboxMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("appointment message")
        verbose_name_plural = _("appointment messages")
        ordering = ("due_at", "id")
        constraints = [
            models.UniqueConstraint(fields=["appointment", "kind", "offset_minutes"], name="booking_apptmsg_uniq"),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="booking_apptmsg_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.appointment_id} @ {self.due_at:%Y-%m-%d %H:%M} [{self.status}]"


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", _("waiting")
    OFFERED = "offered", _("offered a slot")
    BOOKED = "booked", _("booked")
    EXPIRED = "expired", _("expired")  # every window has passed
    CANCELLED = "cancelled", _("cancelled")


#: Entries that still want a slot.
OPEN_WAITLIST_STATUSES = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class WaitlistEntry(TimeStampedModel):
    """A client waiting for ``service`` at ``branch`` (with ``staff``, or any master) inside one of ``windows``.

    ``windows`` is a list of ``[start, end]`` ISO datetimes (UTC); ``earliest``/``latest`` span them all so the
    matching query can use an index. Entries are served first come, first served (``created_at``, then ``id``).
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey("organizations.Branch", on_delete=models.PROTECT, related_name="waitlist_entries")
    client = models.ForeignKey("crm.Client", on_delete=models.PROTECT, related_name="waitlist_entries")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="waitlist_entries",
        help_text=_("the customer account that joined, when the client joined themselves"),
    )
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="waitlist_entries")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("empty: any master who performs the service"),
    )
    windows = models.JSONField(_("time windows"), default=list)
    earliest = models.DateTimeField(_("earliest start"))
    latest = models.DateTimeField(_("latest end"))
    status = models.CharField(
        _("status"), max_length=16, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    appointment = models.ForeignKey(
        "booking.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    matched_at = models.DateTimeField(
        _("last searched for a free slot"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("the periodic search finds time a schedule gained, or free time no cancellation announced"),
    )

    class Meta:
        verbose_name = _("waiting list entry")
        verbose_name_plural = _("waiting list")
        ordering = ("created_at", "id")
        constraints = [
            models.CheckConstraint(condition=Q(latest__gt=F("earliest")), name="booking_waitlist_window_order"),
        ]
        indexes = [
            models.Index(fields=["branch", "service", "status", "created_at"], name="booking_waitlist_fifo_idx"),
            # A branch's whole list pages by (created_at, id) (decision 0033).
            models.Index(fields=["branch", "created_at", "id"], name="booking_waitlist_branch_idx"),
            models.Index(fields=["status", "latest"], name="booking_waitlist_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.client} waits for {self.service} [{self.status}]"


class WaitlistOfferStatus(models.TextChoices):
    OFFERED = "offered", _("offered")
    TAKEN = "taken", _("taken")
    DECLINED = "declined", _("declined")
    EXPIRED = "expired", _("expired")
    WITHDRAWN = "withdrawn", _("withdrawn")  # the slot was gone (booked by staff, schedule changed)


class WaitlistOffer(TimeStampedModel):
    """A freed slot (``staff``, ``starts_at``-``ends_at``) offered to one entry until ``hold_until``.

    The database keeps the rules that races would break: an entry holds at most one open offer, a slot is offered to
    at most one entry at a time, and an entry is never offered the same slot twice (so "the next one" moves on).
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(WaitlistEntry, on_delete=models.PROTECT, related_name="offers")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    hold_until = models.DateTimeField(_("held until"))
    status = models.CharField(
        _("status"), max_length=16, choices=WaitlistOfferStatus.choices, default=WaitlistOfferStatus.OFFERED
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    appointment = models.ForeignKey(
        "booking.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("waiting list offer")
        verbose_name_plural = _("waiting list offers")
        ordering = ("created_at", "id")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="booking_wloffer_end_gt_start"),
            models.UniqueConstraint(fields=["entry", "staff", "starts_at"], name="booking_wloffer_once_per_entry"),
            models.UniqueConstraint(
                fields=["entry"], condition=Q(status="offered"), name="booking_wloffer_one_open_per_entry"
            ),
            models.UniqueConstraint(
                fields=["staff", "starts_at"], condition=Q(status="offered"), name="booking_wloffer_one_open_per_slot"
            ),
        ]
        indexes = [models.Index(fields=["status", "hold_until"], name="booking_wloffer_hold_idx")]

    def __str__(self) -> str:
        return f"offer #{self.pk} of {self.starts_at:%Y-%m-%d %H:%M} to entry #{self.entry_id} [{self.status}]"


class Review(TimeStampedModel):
    """A client's score (1-10) and comment for one visit; one per appointment."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey("organizations.Branch", on_delete=models.PROTECT, related_name="reviews")
    appointment = models.OneToOneField("booking.Appointment", on_delete=models.PROTECT, related_name="review")
    client = models.ForeignKey("crm.Client", on_delete=models.PROTECT, related_name="reviews")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews_received")
    score = models.PositiveSmallIntegerField(
        _("score"), validators=[MinValueValidator(MIN_SCORE), MaxValueValidator(MAX_SCORE)]
    )
    comment = models.TextField(_("comment"), max_length=MAX_REVIEW_COMMENT_LENGTH, blank=True, default="")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("who submitted it: the customer, or staff recording the client's answer"),
    )

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=MIN_SCORE, score__lte=MAX_SCORE), name="booking_review_score_1_10"
            ),
        ]
        indexes = [
            models.Index(fields=["staff", "created_at"], name="booking_review_staff_idx"),
            # The organization's reviews page by (created_at, id), newest first (decision 0033).
            models.Index(fields=["organization", "created_at", "id"], name="booking_review_org_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.score}/10 for #{self.appointment_id}"


class Mailing(TimeStampedModel):
    """One text sent to the clients of a segment who consented to marketing and to messages."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("text"), max_length=MAX_MAILING_TEXT_LENGTH)
    filters = models.JSONField(_("segment"), default=dict, help_text=_("group_ids, source_ids, gender"))
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    sms_recipients = models.PositiveIntegerField(_("sent by SMS"), default=0)
    sms_segments = models.PositiveSmallIntegerField(_("SMS segments per message"), default=0)

    class Meta:
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"mailing #{self.pk} ({self.recipients})"


__all__ = [
    "AppointmentMessage",
    "AppointmentMessageKind",
    "AppointmentMessageStatus",
    "CommsSettings",
    "Mailing",
    "Review",
    "WaitlistEntry",
    "WaitlistOffer",
    "WaitlistOfferStatus",
    "WaitlistStatus",
]
