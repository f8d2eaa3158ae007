"""The shift itself: the worker checks in and out from the phone (time and place, checked against the site), the
foreman (a dispatcher, manager or owner of the order's organization) marks no-shows and excused absences and gives
a 1-10 quality score.

Offer states on the day: ``accepted`` / ``confirmed`` → ``checked_in`` → ``completed``, or → ``no_show`` /
``excused`` (a no-show may later be excused). A no-show lowers the worker's reliability and rank in the same
transaction, with a reason the worker reads in their rating; an excused absence is recorded apart and counts
neither way. A no-show or an excused absence gives the place up (``Shift.accepted_count`` counts the offers that
hold one, ``OFFER_HOLDS_PLACE``) and is counted in ``no_show_count`` (excused ones are not).

Check-in is allowed from ``STAFFING_CHECK_IN_EARLY_MINUTES`` (60) before the shift starts until it ends, within the
site's ``check_in_radius_m`` of it; check-out within the same radius. Counters change by conditional UPDATEs
(``F()``), the board hears of them after commit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.clock import clock_now
from backend.core.cursors import keyset_page
from backend.core.events import event_record, snapshot
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for, tenant_row_for_change
from backend.staffing import solver_adapter as adapter
from backend.staffing.exceptions import StaffingErrorCode
from backend.staffing.models import (
    Attendance,
    Offer,
    OfferStatus,
    ReliabilityChange,
    ReliabilityReason,
    Shift,
    ShiftStatus,
    Worker,
)

from .board import publish_board
from .locking import conflict_retry, worker_lock
from .money import attendance_amounts_set, worked_hours
from .offers import worker_active_check
from .reliability import worker_reliability_update

DEFAULT_CHECK_IN_EARLY_MINUTES = 60
ON_THE_DAY = (OfferStatus.ACCEPTED, OfferStatus.CONFIRMED)
ATTENDANCE_FIELDS = (
    "checked_in_at",
    "checked_out_at",
    "check_in_distance_m",
    "check_out_distance_m",
    "hours",
    "quality_score",
    "no_show",
    "excused",
    "excuse_reason",
    "pay_amount",
    "bill_amount",
)


class AttendanceErrorCode(StrEnum):
    """Refusals of the attendance services (alongside ``StaffingErrorCode``)."""

    TOO_FAR_FROM_SITE = "too_far_from_site"
    NO_SHIFT_TO_CHECK_IN = "no_shift_to_check_in"
    NOT_CHECKED_IN = "not_checked_in"
    SHIFT_NOT_STARTED = "shift_not_started"
    ATTENDANCE_ALREADY_MARKED = "attendance_already_marked"
    NOT_PRESENT = "not_present"
    INVALID_QUALITY = "invalid_quality"


class Outcome(StrEnum):
    """What the foreman marks for an accepted offer."""

    NO_SHOW = "no_show"
    EXCUSED = "excused"
    PRESENT = "present"


def check_in_early() -> dt.timedelta:
    """How long before a shift starts its workers may check in (``STAFFING_CHECK_IN_EARLY_MINUTES``)."""
    minutes = int(getattr(settings, "STAFFING_CHECK_IN_EARLY_MINUTES", DEFAULT_CHECK_IN_EARLY_MINUTES))
    return dt.timedelta(minutes=minutes)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points in degrees (the solver's definition of distance)."""
    return adapter.distance_km((lat1, lon1), (lat2, lon2)) * 1000.0


def _worker_of(user: Any) -> Worker:
    worker = Worker.objects.filter(user_id=getattr(user, "pk", 0) or 0).first()
    if worker is None:
        raise NotFound(_("You are not in a worker pool."), code=StaffingErrorCode.NOT_A_WORKER)
    return worker


def _near_site(offer: Offer, latitude: Decimal, longitude: Decimal) -> float:
    """The distance from the order's site, refused (422, nothing written) beyond the site's radius."""
    site = offer.shift.order.site
    meters = distance_m(float(latitude), float(longitude), float(site.latitude), float(site.longitude))
    if meters > site.check_in_radius_m:
        raise ValidationFailed(
            _("You are %(distance)d m from the site; check in within %(radius)d m of it.")
            % {"distance": round(meters), "radius": site.check_in_radius_m},
            code=AttendanceErrorCode.TOO_FAR_FROM_SITE,
            fields={"latitude": [_("Too far from the site.")], "distance_m": [str(round(meters))]},
        )
    return meters


def _offer_status_move(offer: Offer, *, from_statuses: tuple[str, ...], to: str, actor: Any) -> None:
    """Conditional UPDATE of the offer's status (a concurrent mark loses here) with its event."""
    before = offer.status
    moved = Offer.objects.filter(pk=offer.pk, status__in=from_statuses).update(status=to, updated_at=timezone.now())
    if not moved:
        raise Conflict(_("This call-up has already been marked."), code=AttendanceErrorCode.ATTENDANCE_ALREADY_MARKED)
    offer.status = to
    event_record(
        entity=offer,
        action=EventAction.STATUS,
        actor=actor,
        before={"status": before},
        after={"status": to},
        note="attendance",
    )


def _counters(shift_id: int, **deltas: int) -> None:
    """Move a shift's counters by ``deltas`` in one UPDATE (the CHECK constraints hold the invariants)."""
    Shift.objects.filter(pk=shift_id).update(
        **{f"{name}_count": F(f"{name}_count") + delta for name, delta in deltas.items() if delta}
    )


def _place_given_up(offer: Offer) -> dict[str, int]:
    """Counter moves of an offer that held a place and now does not (a no-show or an excused absence)."""
    return {"accepted": -1, "confirmed": -1 if offer.confirmed_at is not None else 0}


def _shift_label(shift: Shift) -> str:
    return f"{shift.order.title}, {shift.date:%d.%m.%Y}"


@conflict_retry
@transaction.atomic
def attendance_check_in(
    *, user: Any, latitude: Decimal, longitude: Decimal, now: dt.datetime | None = None
) -> Attendance:
    """The caller (a pool worker) checks in to their accepted shift that is open now, at the given point.

    409 ``no_shift_to_check_in`` when no accepted shift of theirs opens for check-in now, 422 ``too_far_from_site``
    beyond the site's radius; nothing is written then. A show counts for the worker's reliability at once.
    """
    now = now or clock_now()
    # Lock order (services/locking.py): the worker, then the shift, then the offer.
    worker = worker_lock(_worker_of(user).pk)
    worker_active_check(worker)
    offer = (
        Offer.objects.select_related("shift", "shift__order", "shift__order__site")
        .filter(
            worker=worker,
            status__in=ON_THE_DAY,
            shift__status=ShiftStatus.OPEN,
            shift__starts_at__lte=now + check_in_early(),
            shift__ends_at__gt=now,
        )
        .order_by("shift__starts_at", "id")
        .first()
    )
    if offer is None:
        raise Conflict(
            _("You have no accepted shift to check in to now."), code=AttendanceErrorCode.NO_SHIFT_TO_CHECK_IN
        )
    organization_access_check(user, offer.organization_id, Perm.STAFFING_SELF)  # still a member there
    meters = _near_site(offer, latitude, longitude)
    Shift.objects.select_for_update().get(pk=offer.shift_id)
    Offer.objects.select_for_update().get(pk=offer.pk)
    shift = offer.shift
    attendance, created = Attendance.objects.get_or_create(
        offer=offer,
        defaults={"organization_id": offer.organization_id, "shift": shift, "worker": worker},
    )
    before = None if created else snapshot(attendance, ATTENDANCE_FIELDS)
    attendance.checked_in_at = now
    attendance.check_in_latitude, attendance.check_in_longitude = latitude, longitude
    attendance.check_in_distance_m = round(meters, 1)
    attendance.save()
    _offer_status_move(offer, from_statuses=ON_THE_DAY, to=OfferStatus.CHECKED_IN, actor=user)
    _counters(shift.pk, checked_in=1)
    event_record(
        entity=attendance,
        action=EventAction.CREATE if created else EventAction.UPDATE,
        actor=user,
        before=before,
        after=snapshot(attendance, ATTENDANCE_FIELDS),
        note="check-in",
    )
    worker_reliability_update(
        worker_id=worker.pk,
        reason=ReliabilityReason.SHOW,
        reason_text=_("Came to %(shift)s.") % {"shift": _shift_label(shift)},
        actor=user,
        offer=offer,
        shift=shift,
        now=now,
    )
    publish_board([shift.pk])
    return attendance


@conflict_retry
@transaction.atomic
def attendance_check_out(
    *, user: Any, latitude: Decimal, longitude: Decimal, now: dt.datetime | None = None
) -> Attendance:
    """The caller checks out of the shift they are checked in to: hours (inside the shift's window, to the quarter
    hour) and the pay and bill amounts they earn are frozen. 409 ``not_checked_in``, 422 ``too_far_from_site``."""
    now = now or clock_now()
    worker = _worker_of(user)
    offer = (
        Offer.objects.select_for_update(of=("self",))
        .select_related("shift", "shift__order", "shift__order__site")
        .filter(worker=worker, status=OfferStatus.CHECKED_IN)
        .order_by("shift__starts_at", "id")
        .first()
    )
    if offer is None:
        raise Conflict(_("You are not checked in to a shift."), code=AttendanceErrorCode.NOT_CHECKED_IN)
    meters = _near_site(offer, latitude, longitude)
    attendance = Attendance.objects.select_for_update().get(offer=offer)
    assert attendance.checked_in_at is not None  # a checked-in offer has its check-in
    before = snapshot(attendance, ATTENDANCE_FIELDS)
    shift = offer.shift
    attendance.checked_out_at = max(now, attendance.checked_in_at)
    attendance.check_out_latitude, attendance.check_out_longitude = latitude, longitude
    attendance.check_out_distance_m = round(meters, 1)
    hours = worked_hours(
        checked_in_at=attendance.checked_in_at,
        checked_out_at=attendance.checked_out_at,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
    )
    attendance_amounts_set(attendance, hours=hours, order=shift.order)
    attendance.save()
    _offer_status_move(offer, from_statuses=(OfferStatus.CHECKED_IN,), to=OfferStatus.COMPLETED, actor=user)
    event_record(
        entity=attendance,
        action=EventAction.UPDATE,
        actor=user,
        before=before,
        after=snapshot(attendance, ATTENDANCE_FIELDS),
        note="check-out",
    )
    publish_board([shift.pk])
    return attendance


def _offer_for_foreman(user: Any, offer_id: int) -> Offer:
    offer = tenant_row_for_change(
        Offer, offer_id, user=user, perm=Perm.STAFFING_MANAGE, not_found=_("Call-up not found.")
    )
    return Offer.objects.select_related("shift", "shift__order", "shift__order__site").get(pk=offer.pk)


@conflict_retry
@transaction.atomic
def attendance_mark(
    *,
    user: Any,
    offer_id: int,
    outcome: str,
    hours: Decimal | None = None,
    excuse_reason: str = "",
    now: dt.datetime | None = None,
) -> Attendance:
    """The foreman marks an accepted call-up of a shift that has started:

    * ``no_show``: the worker did not come. Their reliability and rank drop in this transaction, with the reason;
    * ``excused``: an absence with a reason (also over an earlier no-show, which is then undone); counts neither way;
    * ``present``: the worker came without checking in from the phone; ``hours`` worked are required.

    409 ``shift_not_started`` before the shift starts, ``attendance_already_marked`` for a call-up in another state.
    """
    now = now or clock_now()
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise ValidationFailed(_("Unknown outcome."), fields={"outcome": [_("no_show, excused or present.")]}) from None
    offer = _offer_for_foreman(user, offer_id)
    shift = offer.shift
    # Lock order (services/locking.py): the worker (their reliability moves), the shift, the offer, the attendance.
    worker_lock(offer.worker_id)
    Shift.objects.select_for_update().get(pk=shift.pk)
    offer.status = Offer.objects.select_for_update().values_list("status", flat=True).get(pk=offer.pk)
    if now < shift.starts_at:
        raise Conflict(_("The shift has not started yet."), code=AttendanceErrorCode.SHIFT_NOT_STARTED)
    allowed: tuple[str, ...] = ON_THE_DAY + ((OfferStatus.NO_SHOW,) if outcome == Outcome.EXCUSED else ())
    if offer.status not in allowed:
        raise Conflict(
            _("This call-up cannot be marked %(outcome)s now.") % {"outcome": outcome.value},
            code=AttendanceErrorCode.ATTENDANCE_ALREADY_MARKED,
        )
    if outcome == Outcome.PRESENT and (hours is None or not Decimal(0) <= hours <= Decimal(24)):
        raise ValidationFailed(_("Say how many hours the worker worked."), fields={"hours": [_("0 to 24.")]})
    attendance, created = Attendance.objects.select_for_update().get_or_create(
        offer=offer,
        defaults={"organization_id": offer.organization_id, "shift": shift, "worker_id": offer.worker_id},
    )
    before = None if created else snapshot(attendance, ATTENDANCE_FIELDS)
    was_no_show = offer.status == OfferStatus.NO_SHOW
    attendance.marked_by = user if getattr(user, "is_authenticated", False) else None
    label = _shift_label(shift)
    if outcome == Outcome.NO_SHOW:
        attendance.no_show, attendance.excused = True, False
        deltas = {**_place_given_up(offer), "no_show": 1}
        status, reason = OfferStatus.NO_SHOW, ReliabilityReason.NO_SHOW
        text = _("Did not come to %(shift)s after accepting it.") % {"shift": label}
    elif outcome == Outcome.EXCUSED:
        attendance.no_show, attendance.excused = False, True
        attendance.excuse_reason = excuse_reason[:300]
        deltas = {"no_show": -1} if was_no_show else _place_given_up(offer)
        status, reason = OfferStatus.EXCUSED, ReliabilityReason.EXCUSED
        text = _("Excused absence from %(shift)s: it does not count.") % {"shift": label}
    else:
        assert hours is not None
        attendance.checked_in_at = attendance.checked_in_at or shift.starts_at
        attendance.checked_out_at = min(shift.ends_at, attendance.checked_in_at + dt.timedelta(hours=float(hours)))
        attendance_amounts_set(attendance, hours=hours.quantize(Decimal("0.01")), order=shift.order)
        deltas = {"checked_in": 1}
        status, reason = OfferStatus.COMPLETED, ReliabilityReason.SHOW
        text = _("Came to %(shift)s (marked by the foreman).") % {"shift": label}
    attendance.save()
    _offer_status_move(offer, from_statuses=allowed, to=status, actor=user)
    _counters(shift.pk, **deltas)
    event_record(
        entity=attendance,
        action=EventAction.CREATE if created else EventAction.UPDATE,
        actor=user,
        before=before,
        after=snapshot(attendance, ATTENDANCE_FIELDS),
        note=f"attendance: {outcome.value}",
    )
    worker_reliability_update(
        worker_id=offer.worker_id, reason=reason, reason_text=text, actor=user, offer=offer, shift=shift, now=now
    )
    publish_board([shift.pk])
    return attendance


@conflict_retry
@transaction.atomic
def attendance_rate(*, user: Any, offer_id: int, quality_score: int, now: dt.datetime | None = None) -> Attendance:
    """The foreman's 1-10 quality score for a worker who came (checked in or completed); it moves their rank at once.
    A second score replaces the first. 409 ``not_present`` for a call-up whose worker did not come."""
    now = now or clock_now()
    if not 1 <= int(quality_score) <= 10:
        raise ValidationFailed(
            _("The score is from 1 to 10."),
            code=AttendanceErrorCode.INVALID_QUALITY,
            fields={"quality_score": [_("1 to 10.")]},
        )
    offer = _offer_for_foreman(user, offer_id)
    worker_lock(offer.worker_id)  # lock order: the worker (their rank moves) before the attendance
    if offer.status not in (OfferStatus.CHECKED_IN, OfferStatus.COMPLETED):
        raise Conflict(_("Only a worker who came can be scored."), code=AttendanceErrorCode.NOT_PRESENT)
    attendance = Attendance.objects.select_for_update().get(offer=offer)
    before = snapshot(attendance, ATTENDANCE_FIELDS)
    attendance.quality_score = int(quality_score)
    attendance.marked_by = user if getattr(user, "is_authenticated", False) else None
    attendance.save(update_fields=["quality_score", "marked_by", "updated_at"])
    event_record(
        entity=attendance,
        action=EventAction.UPDATE,
        actor=user,
        before=before,
        after=snapshot(attendance, ATTENDANCE_FIELDS),
        note="quality score",
    )
    worker_reliability_update(
        worker_id=offer.worker_id,
        reason=ReliabilityReason.QUALITY,
        reason_text=_("The foreman scored your work at %(shift)s %(score)d of 10.")
        % {"shift": _shift_label(offer.shift), "score": int(quality_score)},
        actor=user,
        offer=offer,
        shift=offer.shift,
        now=now,
    )
    return attendance


def worker_rating(*, user: Any, limit: int = 50) -> tuple[Worker, list[ReliabilityChange]]:
    """The caller's own reliability, rank and the latest changes with their reasons (newest first)."""
    worker = _worker_of(user)
    changes = list(
        ReliabilityChange.objects.filter(worker=worker)
        .select_related("shift", "shift__order")
        .order_by("-occurred_at", "-id")[: max(1, min(limit, 200))]
    )
    return worker, changes


def _shift_attendance_qs(*, user: Any, shift_id: int) -> QuerySet[Offer]:
    shift = Shift.objects.filter(pk=shift_id).first()
    if shift is None or shift.organization_id not in organization_ids_for(user):
        raise NotFound(_("Shift not found."))
    organization_access_check(user, shift.organization_id, Perm.STAFFING_MANAGE)
    marked = (
        *ON_THE_DAY,
        OfferStatus.CHECKED_IN,
        OfferStatus.COMPLETED,
        OfferStatus.NO_SHOW,
        OfferStatus.EXCUSED,
    )
    return Offer.objects.filter(Q(shift=shift) & Q(status__in=marked)).select_related(
        "worker", "worker__user", "attendance"
    )


def shift_attendance(*, user: Any, shift_id: int) -> list[Offer]:
    """The call-ups of a shift a foreman marks: accepted ones and everything already marked, with attendance."""
    return list(_shift_attendance_qs(user=user, shift_id=shift_id).order_by("position", "id"))


def shift_attendance_page(
    *, user: Any, shift_id: int, cursor: str | None, limit: int
) -> tuple[list[Offer], str | None]:
    """One page of :func:`shift_attendance` in plan order (by keyset) and the cursor of the next, None on the last."""
    return keyset_page(
        _shift_attendance_qs(user=user, shift_id=shift_id),
        sort="staffing.attendance",
        keys=[("position", int)],
        cursor=cursor,
        limit=limit,
    )
