"""Staffing: the shared worker pool, corporate clients and their sites, orders and their shifts, call-up offers,
attendance, reliability changes and the solver runs behind each plan.

Tenancy: a ``Worker`` belongs to the pool of an HQ organization (``Worker.organization``), which its franchises
dispatch from; everything an order touches (clients, sites, orders, shifts, offers, attendance, solver runs) carries
the organization that runs the order, a franchise or the HQ itself, so a franchise sees only its own.

Counters on ``Shift`` are the atomic guards: ``accepted_count`` is raised by a conditional UPDATE that only
succeeds while it is below ``call_cap``, and a CHECK constraint backs it (see ``services/offers.py``).
Times are stored in UTC; an order's dates and daily window are the site's local wall-clock times.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from backend.core.models import TimeStampedModel


class WorkerStatus(models.TextChoices):
    CANDIDATE = "candidate", _("candidate")
    INTERVIEWED = "interviewed", _("interviewed")
    ACTIVE = "active", _("active")
    SUSPENDED = "suspended", _("suspended")


class Worker(TimeStampedModel):
    """A person in an HQ's shared pool: profile, home location, skills, status and the current reliability.

    ``reliability`` is the show probability (Beta posterior over decayed shows and no-shows, shrunk to the pool's
    prior); ``rank`` (0-100) combines it with the foremen's quality scores. The counts are raw, undecayed totals
    kept for display; ``decayed_shows`` / ``decayed_no_shows`` are what the solver is given.
    """

    organization = models.ForeignKey(
        "organizations.Organization",
        verbose_name=_("pool owner (HQ)"),
        on_delete=models.PROTECT,
        related_name="staffing_workers",
    )
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staffing_worker")
    photo = models.ImageField(_("photo"), upload_to="staffing/workers/", blank=True)
    home_latitude = models.DecimalField(_("home latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    home_longitude = models.DecimalField(_("home longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    skills = models.JSONField(_("skills"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=WorkerStatus.choices, default=WorkerStatus.CANDIDATE, db_index=True
    )
    interview_notes = models.TextField(_("interview notes"), blank=True)
    interviewed_at = models.DateTimeField(_("interviewed at"), null=True, blank=True)
    interviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    max_shifts_per_day = models.PositiveSmallIntegerField(_("shifts per day at most"), default=1)
    reliability = models.FloatField(_("reliability"), default=0.8, help_text=_("estimated show probability"))
    rank = models.FloatField(_("rank"), default=50.0, help_text=_("0-100"))
    decayed_shows = models.FloatField(_("decayed shows"), default=0.0)
    decayed_no_shows = models.FloatField(_("decayed no-shows"), default=0.0)
    shows_count = models.PositiveIntegerField(_("shows"), default=0)
    no_shows_count = models.PositiveIntegerField(_("no-shows"), default=0)
    excused_count = models.PositiveIntegerField(_("excused absences"), default=0)
    quality_sum = models.PositiveIntegerField(_("sum of quality scores"), default=0)
    quality_count = models.PositiveIntegerField(_("quality scores"), default=0)
    reliability_updated_at = models.DateTimeField(_("reliability updated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("worker")
        verbose_name_plural = _("workers")
        ordering = ("organization_id", "-rank", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(reliability__gte=0.0) & Q(reliability__lte=1.0), name="staffing_worker_reliability_range"
            ),
            models.CheckConstraint(condition=Q(rank__gte=0.0) & Q(rank__lte=100.0), name="staffing_worker_rank_range"),
            models.CheckConstraint(
                condition=Q(decayed_shows__gte=0.0) & Q(decayed_no_shows__gte=0.0),
                name="staffing_worker_decayed_nonnegative",
            ),
            models.CheckConstraint(
                condition=(Q(home_latitude__isnull=True) & Q(home_longitude__isnull=True))
                | (
                    Q(home_latitude__gte=-90, home_latitude__lte=90)
                    & Q(home_longitude__gte=-180, home_longitude__lte=180)
                ),
                name="staffing_worker_home_point",
            ),
            models.CheckConstraint(condition=Q(max_shifts_per_day__gte=1), name="staffing_worker_shifts_per_day"),
        ]
        indexes = [models.Index(fields=["organization", "status"], name="staffing_worker_org_status")]

    def __str__(self) -> str:
        return str(self.user)


class WorkerAvailability(TimeStampedModel):
    """A window the worker declared from the phone: they can work between ``starts_at`` and ``ends_at`` (UTC)."""

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="availability")
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))

    class Meta:
        verbose_name = _("availability window")
        verbose_name_plural = _("availability windows")
        ordering = ("worker_id", "starts_at", "id")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="staffing_availability_order"),
            models.UniqueConstraint(fields=["worker", "starts_at", "ends_at"], name="staffing_availability_uniq"),
        ]
        indexes = [models.Index(fields=["worker", "ends_at"], name="staffing_avail_worker_end")]

    def __str__(self) -> str:
        return f"{self.worker}: {self.starts_at:%Y-%m-%d %H:%M}..{self.ends_at:%Y-%m-%d %H:%M}"


class CorporateClient(TimeStampedModel):
    """A legal entity that orders workers. INN, KPP and OGRN are checked (control digits) by the services."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="corporate_clients"
    )
    name = models.CharField(_("name"), max_length=200)
    legal_name = models.CharField(_("legal name"), max_length=300, blank=True)
    inn = models.CharField(_("INN"), max_length=12)
    kpp = models.CharField(_("KPP"), max_length=9, blank=True)
    ogrn = models.CharField(_("OGRN"), max_length=15, blank=True)
    legal_address = models.CharField(_("legal address"), max_length=300, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=200, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=16, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("corporate client")
        verbose_name_plural = _("corporate clients")
        ordering = ("organization_id", "name", "id")
        constraints = [
            # One legal entity per organization; a second KPP (a separate division) is a separate client row.
            models.UniqueConstraint(fields=["organization", "inn", "kpp"], name="staffing_client_inn_kpp_uniq"),
        ]
        # The client list pages by (name, id) inside one organization (decision 0033).
        indexes = [models.Index(fields=["organization", "name", "id"], name="staffing_client_org_name")]

    def __str__(self) -> str:
        return self.name


class SiteCondition(models.TextChoices):
    WARM_WAREHOUSE = "warm_warehouse", _("warm warehouse")
    COLD_WAREHOUSE = "cold_warehouse", _("cold warehouse")
    OUTDOOR = "outdoor", _("outdoor")
    INDOOR = "indoor", _("indoor")
    CONSTRUCTION = "construction", _("construction site")
    STORE = "store", _("store")


class Site(TimeStampedModel):
    """Where a client's work happens: address, geo point (for distances and check-in), working conditions."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="sites")
    client = models.ForeignKey(CorporateClient, on_delete=models.PROTECT, related_name="sites")
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    conditions = models.CharField(_("conditions"), max_length=32, choices=SiteCondition.choices)
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, help_text=_("defaults to the organization's")
    )
    check_in_radius_m = models.PositiveIntegerField(_("check-in radius, m"), default=300)
    notes = models.TextField(_("notes"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ("organization_id", "client_id", "name", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90) & Q(longitude__gte=-180, longitude__lte=180),
                name="staffing_site_point",
            ),
        ]
        # The site list pages by (name, id) inside one organization (decision 0033).
        indexes = [models.Index(fields=["organization", "name", "id"], name="staffing_site_org_name")]

    def __str__(self) -> str:
        return f"{self.client} / {self.name}"

    @property
    def effective_time_zone(self) -> str:
        return self.time_zone or self.organization.time_zone


class OrderStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    CONFIRMED = "confirmed", _("confirmed")
    IN_PROGRESS = "in_progress", _("in progress")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")


class Order(TimeStampedModel):
    """A client's order: ``headcount`` people with ``skills`` at a site every day from ``start_date`` to
    ``end_date`` (inclusive) in the daily window ``shift_start``-``shift_end`` (site-local; an end at or before the
    start crosses midnight). ``pay_rate`` is paid to each worker per hour, ``bill_rate`` billed to the client.

    ``handed_from``: the HQ whose contact centre took the order and handed it to this franchise.
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="orders")
    client = models.ForeignKey(CorporateClient, on_delete=models.PROTECT, related_name="orders")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="orders")
    handed_from = models.ForeignKey(
        "organizations.Organization",
        verbose_name=_("handed over by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="handed_orders",
    )
    title = models.CharField(_("title"), max_length=200)
    start_date = models.DateField(_("first day"))
    end_date = models.DateField(_("last day"))
    shift_start = models.TimeField(_("shift starts"))
    shift_end = models.TimeField(_("shift ends"))
    headcount = models.PositiveIntegerField(_("workers per day"))
    skills = models.JSONField(_("skills"), default=list, blank=True)
    pay_rate = models.DecimalField(_("pay rate per hour"), max_digits=10, decimal_places=2)
    bill_rate = models.DecimalField(_("bill rate per hour"), max_digits=10, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="RUB")
    status = models.CharField(
        _("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.DRAFT, db_index=True
    )
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ("organization_id", "-start_date", "id")
        constraints = [
            models.CheckConstraint(condition=Q(end_date__gte=F("start_date")), name="staffing_order_dates"),
            models.CheckConstraint(condition=~Q(shift_end=F("shift_start")), name="staffing_order_window"),
            models.CheckConstraint(condition=Q(headcount__gte=1), name="staffing_order_headcount"),
            models.CheckConstraint(condition=Q(pay_rate__gte=0) & Q(bill_rate__gte=0), name="staffing_order_rates"),
        ]
        # The order list pages by (start_date, id), latest first, inside one organization (decision 0033).
        indexes = [models.Index(fields=["organization", "start_date", "id"], name="staffing_order_org_start")]

    def __str__(self) -> str:
        return f"{self.title} ({self.start_date}..{self.end_date})"


class ShiftStatus(models.TextChoices):
    OPEN = "open", _("open")
    CANCELLED = "cancelled", _("cancelled")
    DONE = "done", _("done")


class Shift(TimeStampedModel):
    """One day of an order. ``call_cap`` is the planned call count (the solver's called list); the counters follow
    the offers and are changed only by conditional UPDATEs in the services, so the CHECKs hold under concurrency."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="shifts")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shifts")
    date = models.DateField(_("date"))
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    headcount = models.PositiveIntegerField(_("workers needed"))
    status = models.CharField(_("status"), max_length=16, choices=ShiftStatus.choices, default=ShiftStatus.OPEN)
    call_cap = models.PositiveIntegerField(_("planned calls"), default=0)
    offered_count = models.PositiveIntegerField(_("offered"), default=0)
    accepted_count = models.PositiveIntegerField(_("accepted"), default=0)
    confirmed_count = models.PositiveIntegerField(_("confirmed"), default=0)
    checked_in_count = models.PositiveIntegerField(_("checked in"), default=0)
    no_show_count = models.PositiveIntegerField(_("no-shows"), default=0)
    expected_attendance = models.FloatField(_("expected attendance"), default=0.0)
    fill_probability = models.FloatField(_("fill probability"), default=0.0)

    class Meta:
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")
        ordering = ("order_id", "starts_at", "id")
        constraints = [
            models.UniqueConstraint(fields=["order", "date"], name="staffing_shift_order_date_uniq"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="staffing_shift_times"),
            models.CheckConstraint(condition=Q(headcount__gte=1), name="staffing_shift_headcount"),
            # The database's last word on "first come, capped at the planned call count".
            models.CheckConstraint(condition=Q(accepted_count__lte=F("call_cap")), name="staffing_shift_accept_cap"),
            # Confirmed workers are accepted workers who also confirmed (a release lowers both).
            models.CheckConstraint(
                condition=Q(confirmed_count__lte=F("accepted_count")), name="staffing_shift_confirmed_lte_accepted"
            ),
        ]
        indexes = [models.Index(fields=["organization", "starts_at"], name="staffing_shift_org_start")]

    def __str__(self) -> str:
        return f"{self.order.title} {self.date}"


class OfferStatus(models.TextChoices):
    STANDBY = "standby", _("on standby")
    OFFERED = "offered", _("offered")
    ACCEPTED = "accepted", _("accepted")
    DECLINED = "declined", _("declined")
    EXPIRED = "expired", _("expired")
    WITHDRAWN = "withdrawn", _("withdrawn")
    CONFIRMED = "confirmed", _("confirmed")
    RELEASED = "released", _("released (not confirmed in time)")
    CHECKED_IN = "checked_in", _("checked in")
    COMPLETED = "completed", _("completed")
    NO_SHOW = "no_show", _("no-show")
    EXCUSED = "excused", _("excused absence")


#: An offer in one of these holds a place on the shift (counted in ``Shift.accepted_count``). A later no-show or
#: excused absence keeps its place in the count: the place was held until the shift (``no_show_count`` says more).
OFFER_HOLDS_PLACE = (OfferStatus.ACCEPTED, OfferStatus.CONFIRMED, OfferStatus.CHECKED_IN, OfferStatus.COMPLETED)


class Offer(TimeStampedModel):
    """A call-up of one worker for one shift, with the figures that explain why they were called.

    ``wave`` 1 is the solver's called list; later waves come from standby as people decline or time out.
    ``position`` is the worker's place in the plan's order; ``is_standby`` says which list they came from.
    A worker who accepts a full shift stays ``standby`` and is offered again first when a place frees up.
    """

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="offers")
    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="offers")
    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="offers")
    solver_run = models.ForeignKey("SolverRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="offers")
    wave = models.PositiveSmallIntegerField(_("wave"), default=0, help_text=_("0: not offered yet"))
    position = models.PositiveIntegerField(_("position in the plan"), default=0)
    is_standby = models.BooleanField(_("from standby"), default=False)
    pinned = models.BooleanField(_("pinned by the dispatcher"), default=False)
    show_probability = models.FloatField(_("show probability"), default=0.0)
    worker_rank = models.FloatField(_("rank when planned"), default=0.0)
    distance_km = models.FloatField(_("distance, km"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=OfferStatus.choices, default=OfferStatus.STANDBY, db_index=True
    )
    offered_at = models.DateTimeField(_("offered at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True, db_index=True)
    responded_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    confirm_requested_at = models.DateTimeField(_("confirmation asked at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ("shift_id", "is_standby", "position", "id")
        constraints = [
            # Also stops double taps that carry different idempotency keys.
            models.UniqueConstraint(fields=["shift", "worker"], name="staffing_offer_shift_worker_uniq"),
            models.CheckConstraint(
                condition=Q(show_probability__gte=0.0) & Q(show_probability__lte=1.0),
                name="staffing_offer_probability_range",
            ),
        ]
        indexes = [
            models.Index(fields=["worker", "status"], name="staffing_offer_worker_status"),
            models.Index(fields=["shift", "status"], name="staffing_offer_shift_status"),
        ]

    def __str__(self) -> str:
        return f"{self.worker} → {self.shift} ({self.get_status_display()})"


class Attendance(TimeStampedModel):
    """What happened on the day for one accepted offer: check-in/out (time, place, distance to the site), hours,
    the foreman's 1-10 quality score, a no-show or an excused absence (which does not count against reliability).
    ``pay_amount`` / ``bill_amount`` are hours × the order's rates, frozen when the hours are."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="attendances")
    offer = models.OneToOneField(Offer, on_delete=models.PROTECT, related_name="attendance")
    shift = models.ForeignKey(Shift, on_delete=models.PROTECT, related_name="attendances")
    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="attendances")
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    check_in_latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    check_in_longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    check_in_distance_m = models.FloatField(_("check-in distance, m"), null=True, blank=True)
    checked_out_at = models.DateTimeField(_("checked out at"), null=True, blank=True)
    check_out_latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    check_out_longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    check_out_distance_m = models.FloatField(_("check-out distance, m"), null=True, blank=True)
    hours = models.DecimalField(_("hours"), max_digits=5, decimal_places=2, null=True, blank=True)
    quality_score = models.PositiveSmallIntegerField(_("quality (1-10)"), null=True, blank=True)
    no_show = models.BooleanField(_("no-show"), default=False)
    excused = models.BooleanField(_("excused absence"), default=False)
    excuse_reason = models.CharField(_("excuse"), max_length=300, blank=True)
    pay_amount = models.DecimalField(_("pay"), max_digits=12, decimal_places=2, null=True, blank=True)
    bill_amount = models.DecimalField(_("bill"), max_digits=12, decimal_places=2, null=True, blank=True)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        ordering = ("shift_id", "worker_id")
        constraints = [
            models.CheckConstraint(
                condition=Q(quality_score__isnull=True) | Q(quality_score__gte=1, quality_score__lte=10),
                name="staffing_attendance_quality_range",
            ),
            models.CheckConstraint(condition=~(Q(no_show=True) & Q(excused=True)), name="staffing_attendance_absence"),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True)
                | (Q(checked_in_at__isnull=False) & Q(checked_out_at__gte=F("checked_in_at"))),
                name="staffing_attendance_out_after_in",
            ),
            models.CheckConstraint(
                condition=Q(hours__isnull=True) | Q(hours__gte=0, hours__lte=24), name="staffing_attendance_hours"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.worker} @ {self.shift}"


class ReliabilityReason(models.TextChoices):
    NO_SHOW = "no_show", _("did not come to an accepted shift")
    SHOW = "show", _("came to a shift")
    QUALITY = "quality", _("foreman's quality score")
    EXCUSED = "excused", _("excused absence (does not count)")
    RELEASED = "released", _("did not confirm in time")
    RECOMPUTE = "recompute", _("nightly recomputation (time decay)")
    MANUAL = "manual", _("set by the dispatcher")


class ReliabilityChange(models.Model):
    """One change of a worker's reliability and rank with its reason; the worker sees these in their rating."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="reliability_changes"
    )
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="reliability_changes")
    occurred_at = models.DateTimeField(_("when"), db_index=True)
    reliability_before = models.FloatField(_("reliability before"))
    reliability_after = models.FloatField(_("reliability after"))
    rank_before = models.FloatField(_("rank before"))
    rank_after = models.FloatField(_("rank after"))
    reason = models.CharField(_("reason"), max_length=16, choices=ReliabilityReason.choices)
    reason_text = models.CharField(_("explanation"), max_length=500, blank=True)
    offer = models.ForeignKey(Offer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    shift = models.ForeignKey(Shift, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("reliability change")
        verbose_name_plural = _("reliability changes")
        ordering = ("worker_id", "-occurred_at", "-id")

    def __str__(self) -> str:
        return f"{self.worker}: {self.rank_before:.1f} → {self.rank_after:.1f} ({self.get_reason_display()})"


class DispatchOverrideKind(models.TextChoices):
    PIN = "pin", _("always call")
    EXCLUDE = "exclude", _("never call")


class DispatchOverride(TimeStampedModel):
    """A dispatcher's say on one worker for one order: pinned workers are called, excluded ones never are."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="dispatch_overrides"
    )
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="dispatch_overrides")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="dispatch_overrides")
    kind = models.CharField(_("kind"), max_length=8, choices=DispatchOverrideKind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("dispatch override")
        verbose_name_plural = _("dispatch overrides")
        ordering = ("order_id", "worker_id")
        constraints = [models.UniqueConstraint(fields=["order", "worker"], name="staffing_override_uniq")]

    def __str__(self) -> str:
        return f"{self.order}: {self.get_kind_display()} {self.worker}"


class SolverRunKind(models.TextChoices):
    PLAN = "plan", _("plan")
    RERUN = "rerun", _("re-run")
    REPLAN = "replan", _("incremental re-plan")


class SolverRunStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    INFEASIBLE = "infeasible", _("infeasible")
    FAILED = "failed", _("failed")


class SolverRun(TimeStampedModel):
    """One call of the solver for an order: the instance it was given, the solution it returned and its figures
    (status, expected attendance, fill probability, expected cost, wall time)."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="solver_runs")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="solver_runs")
    kind = models.CharField(_("kind"), max_length=8, choices=SolverRunKind.choices, default=SolverRunKind.PLAN)
    status = models.CharField(
        _("status"), max_length=12, choices=SolverRunStatus.choices, default=SolverRunStatus.QUEUED, db_index=True
    )
    input = models.JSONField(_("instance"), default=dict, blank=True)
    output = models.JSONField(_("solution"), default=dict, blank=True)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task_id = models.CharField(_("task id"), max_length=64, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    build_s = models.FloatField(_("instance build time, s"), null=True, blank=True)
    solve_s = models.FloatField(_("solve time, s"), null=True, blank=True)

    class Meta:
        verbose_name = _("solver run")
        verbose_name_plural = _("solver runs")
        ordering = ("order_id", "-created_at", "-id")
        # An order's runs page by (created_at, id), newest first (decision 0033).
        indexes = [models.Index(fields=["order", "created_at", "id"], name="staffing_run_order_created")]

    def __str__(self) -> str:
        return f"{self.order} {self.get_kind_display()} {self.get_status_display()}"
