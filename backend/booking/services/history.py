"""Past visits recorded at once (an import from the previous system, the demo's history): each visit already
happened, so there is no slot to search, no reminder to send and no journal to tell; the rules that still hold
are the booking path's: staff with the booking right at the branch, the organisation's own clients, services
the branch offers and the master performs, the master's duration and buffers, prices from the catalogue (the
master's own, else the service's), and no two visits holding one master's or one client's time at once. Those
are checked in Python for the whole batch against the stored occupancies, then the exclusion constraints
(PostgreSQL) have the last word. All or nothing: one bad visit and nothing is written."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.booking.exceptions import BookingErrorCode
from backend.booking.exceptions_comms import BookingCommsErrorCode
from backend.booking.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentLine,
    AppointmentStatus,
    BookingChannel,
    Occupancy,
)
from backend.booking.models_comms import (
    AppointmentMessage,
    AppointmentMessageKind,
    AppointmentMessageStatus,
    Review,
)
from backend.booking.selectors import visit_specs
from backend.booking.services.availability import ServiceSpec
from backend.booking.services.reviews import review_fields_check
from backend.core.clock import clock_now
from backend.core.events import event_record_many, snapshot
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.crm.models import Client
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for

from .appointments import (
    APPOINTMENT_EVENT_FIELDS,
    _client_occupancy,
    _invalid,
    _occupancy,
    _prices,
    _staff_check,
    _staff_context,
    client_busy_error,
    slot_taken_error,
)
from .reviews import REVIEW_FIELDS

MAX_PAST_VISITS = 2000
PAST_OUTCOMES = frozenset({AppointmentStatus.DONE, AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED})
LINE_FIELDS = ("position", "service", "staff", "resource", "starts_at", "ends_at", "price")


@dataclass(frozen=True)
class PastVisit:
    """One visit that happened: who, what, with whom, when, and how it ended (``outcome`` at ``settled_at``)."""

    client_id: int
    service_id: int
    staff_id: int
    start: dt.datetime
    outcome: str
    settled_at: dt.datetime
    cancel_reason: str = ""


def _overlaps(spans: list[tuple[dt.datetime, dt.datetime]]) -> bool:
    spans.sort()
    return any(spans[k + 1][0] < spans[k][1] for k in range(len(spans) - 1))


@transaction.atomic
def appointments_record_past(
    *, user: Any, branch_id: int, visits: Sequence[PastVisit], now: dt.datetime | None = None
) -> list[Appointment]:
    """Record ``visits`` (one service each) at ``branch_id`` as they ended: done, no-show or cancelled, with one
    create event each carrying the final status (note ``history``) and the clients' last visit moved forward.
    404 for a branch, client or service out of reach; 422 for a visit not yet over, an unknown outcome or a master
    who does not perform the service; 409 ``slot_taken`` / ``client_busy`` for visits holding the same time."""
    now = now or clock_now()
    context = _staff_context(user, branch_id)
    branch = context.branch
    organization = branch.organization
    organization_access_check(user, organization.pk, Perm.BOOKING_MANAGE)
    if len(visits) > MAX_PAST_VISITS:
        raise ValidationFailed(
            _("At most %(n)d visits at once.") % {"n": MAX_PAST_VISITS}, fields={"visits": [str(len(visits))]}
        )
    if not visits:
        return []
    client_ids = {v.client_id for v in visits}
    clients = {
        c.pk: c
        for c in Client.objects.filter(organization_id=organization.pk, pk__in=client_ids, deleted_at__isnull=True)
    }
    if len(clients) != len(client_ids):
        raise NotFound(_("Client not found."))
    specs: dict[int, ServiceSpec] = {}
    for service_id in sorted({v.service_id for v in visits}):
        (spec,) = visit_specs(context, [service_id])  # 404 for a service the branch does not offer
        if spec.capacity > 1:
            raise _invalid("service_id", _("Group classes are not recorded here."), BookingErrorCode.INVALID_REFERENCE)
        specs[service_id] = spec
    planned = []
    for visit in visits:
        spec = specs[visit.service_id]
        _staff_check([spec], visit.staff_id)
        if visit.outcome not in PAST_OUTCOMES:
            raise _invalid(
                "outcome", _("A past visit is done, missed or cancelled."), BookingErrorCode.INVALID_TRANSITION
            )
        if visit.start.tzinfo is None:
            raise _invalid("start", _("Give a time with its UTC offset."), BookingErrorCode.INVALID_TIME)
        end = visit.start + spec.durations[visit.staff_id]
        if end > now or visit.settled_at > now:
            raise _invalid("start", _("The visit is not over yet."), BookingErrorCode.INVALID_TIME)
        planned.append((visit, spec, end))
    _overlap_check(organization.pk, planned)
    prices = _prices(organization.pk, {(v.staff_id, v.service_id) for v in visits})
    appointments = [
        Appointment(
            organization_id=organization.pk,
            branch_id=branch.pk,
            client_id=visit.client_id,
            staff_id=visit.staff_id,
            starts_at=visit.start,
            ends_at=end,
            status=visit.outcome,
            status_changed_at=visit.settled_at,
            channel=BookingChannel.STAFF,
            source_id=clients[visit.client_id].source_id,
            price=prices[(visit.staff_id, visit.service_id)],
            currency=organization.currency,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            cancelled_at=visit.settled_at if visit.outcome == AppointmentStatus.CANCELLED else None,
            cancelled_by=user
            if visit.outcome == AppointmentStatus.CANCELLED and getattr(user, "is_authenticated", False)
            else None,
            cancel_reason=visit.cancel_reason[:255] if visit.outcome == AppointmentStatus.CANCELLED else "",
        )
        for visit, _spec, end in planned
    ]
    appointments = Appointment.objects.bulk_create(appointments, batch_size=500)
    lines = [
        AppointmentLine(
            appointment=appointment,
            position=0,
            service_id=visit.service_id,
            staff_id=visit.staff_id,
            resource_id=None,
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            duration_minutes=int((appointment.ends_at - appointment.starts_at).total_seconds() // 60),
            buffer_before_minutes=int(spec.buffer_before.total_seconds() // 60),
            buffer_after_minutes=int(spec.buffer_after.total_seconds() // 60),
            price=appointment.price or Decimal("0"),
        )
        for appointment, (visit, spec, _end) in zip(appointments, planned, strict=True)
    ]
    lines = AppointmentLine.objects.bulk_create(lines, batch_size=500)
    Occupancy.objects.bulk_create(
        [_occupancy(line.appointment, line) for line in lines] + [_client_occupancy(a) for a in appointments],
        batch_size=500,
    )
    entities = []
    for appointment, line in zip(appointments, lines, strict=True):
        after = snapshot(appointment, APPOINTMENT_EVENT_FIELDS)
        after["lines"] = [snapshot(line, LINE_FIELDS)]
        entities.append((appointment, None, after))
    event_record_many(entities=entities, action=EventAction.CREATE, actor=user, note="history")
    last: dict[int, dt.datetime] = {}
    for appointment in appointments:
        if appointment.status == AppointmentStatus.DONE:
            last[appointment.client_id] = max(
                last.get(appointment.client_id, appointment.starts_at), appointment.starts_at
            )
    _last_visits_forward(last)
    return appointments


def _last_visits_forward(last: dict[int, dt.datetime]) -> None:
    """Each client's last visit moved to ``last[client]`` where it is earlier (only ever forward, as
    ``_status_write`` moves it): one statement run for every client (an ORM update each costs a round trip and a
    compile; a CASE per client is as slow)."""
    if not last:
        return
    ops = connection.ops
    table = connection.ops.quote_name(Client._meta.db_table)
    sql = (
        f"UPDATE {table} SET last_visit_at = %s, updated_at = %s"  # noqa: S608 (the model's table, values bound)
        " WHERE id = %s AND (last_visit_at IS NULL OR last_visit_at < %s)"
    )
    stamp = ops.adapt_datetimefield_value(timezone.now())
    rows = []
    for client_id, starts_at in sorted(last.items()):
        at = ops.adapt_datetimefield_value(starts_at)
        rows.append((at, stamp, client_id, at))
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _overlap_check(organization_id: int, planned: list[tuple[PastVisit, ServiceSpec, dt.datetime]]) -> None:
    """No master's (with buffers) nor client's time held twice, within the batch or against stored visits."""
    holding = [(v, s, e) for v, s, e in planned if v.outcome in ACTIVE_STATUSES]
    if not holding:
        return
    first = min(v.start for v, _s, _e in holding) - dt.timedelta(days=1)
    last = max(e for _v, _s, e in holding) + dt.timedelta(days=1)
    staff: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    client: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for visit, spec, end in holding:
        staff[visit.staff_id].append((visit.start - spec.buffer_before, end + spec.buffer_after))
        client[visit.client_id].append((visit.start, end))
    stored = Occupancy.objects.filter(
        organization_id=organization_id, is_active=True, starts_at__lt=last, ends_at__gt=first
    ).filter(Q(staff_id__in=list(staff)) | Q(client_id__in=list(client)))
    for staff_id, client_id, starts_at, ends_at in stored.values_list("staff_id", "client_id", "starts_at", "ends_at"):
        if staff_id in staff:
            staff[staff_id].append((starts_at, ends_at))
        if client_id in client:
            client[client_id].append((starts_at, ends_at))
    if any(_overlaps(spans) for spans in staff.values()):
        raise slot_taken_error([])
    if any(_overlaps(spans) for spans in client.values()):
        raise client_busy_error()


MAX_PAST_REVIEWS = 2000


@dataclass(frozen=True)
class PastReview:
    """A score (and comment) a client gave for a done visit at ``submitted_at``, as staff recorded it."""

    appointment_id: int
    score: int
    submitted_at: dt.datetime
    comment: str = ""


@transaction.atomic
def reviews_record_past(*, user: Any, reviews: Sequence[PastReview], now: dt.datetime | None = None) -> list[Review]:
    """Record ``reviews`` as staff typing in what clients said (``review_submit``'s staff path, a batch at once):
    the same checks (the booking right in the visit's organisation, a done visit not rated yet, a score from 1 to
    10, a comment of at most ``MAX_REVIEW_COMMENT_LENGTH``), each review stamped when it was given, the visits'
    scheduled rating requests cancelled, one create event each (note ``history``). All or nothing: 404 for a visit
    out of reach, 422 for a bad score or comment or a moment not over by ``now``, 409 ``not_reviewable`` /
    ``already_reviewed``. Returns the reviews, in the given order."""
    now = now or clock_now()
    if len(reviews) > MAX_PAST_REVIEWS:
        raise ValidationFailed(
            _("At most %(n)d reviews at once.") % {"n": MAX_PAST_REVIEWS}, fields={"reviews": [str(len(reviews))]}
        )
    if not reviews:
        return []
    ids = [r.appointment_id for r in reviews]
    if len(set(ids)) != len(ids):
        raise Conflict(_("This visit has already been rated."), code=BookingCommsErrorCode.ALREADY_REVIEWED)
    appointments = Appointment.objects.select_for_update().filter(pk__in=ids).in_bulk()
    if len(appointments) != len(ids):
        raise NotFound(_("Not found."))
    reachable = organization_ids_for(user)
    for organization_id in sorted({a.organization_id for a in appointments.values()}):
        if organization_id not in reachable:
            raise NotFound(_("Not found."))
        organization_access_check(user, organization_id, Perm.BOOKING_MANAGE)
    comments = []
    for review in reviews:
        comment = review_fields_check(score=review.score, comment=review.comment)
        if review.submitted_at.tzinfo is None or review.submitted_at > now:
            raise _invalid(
                "submitted_at", _("A past review needs a moment that is over."), BookingErrorCode.INVALID_TIME
            )
        if appointments[review.appointment_id].status != AppointmentStatus.DONE:
            raise Conflict(_("Only a finished visit can be rated."), code=BookingCommsErrorCode.NOT_REVIEWABLE)
        comments.append(comment)
    if Review.objects.filter(appointment_id__in=ids).exists():
        raise Conflict(_("This visit has already been rated."), code=BookingCommsErrorCode.ALREADY_REVIEWED)
    rows = Review.objects.bulk_create(
        [
            Review(
                organization_id=appointment.organization_id,
                branch_id=appointment.branch_id,
                appointment=appointment,
                client_id=appointment.client_id,
                staff_id=appointment.staff_id,
                score=review.score,
                comment=comment,
                author=user,
                created_at=review.submitted_at,  # business time, as review_submit stamps it
            )
            for review, comment in zip(reviews, comments, strict=True)
            for appointment in (appointments[review.appointment_id],)
        ],
        batch_size=500,
    )
    AppointmentMessage.objects.filter(
        appointment_id__in=ids, kind=AppointmentMessageKind.REVIEW_REQUEST, status=AppointmentMessageStatus.SCHEDULED
    ).update(status=AppointmentMessageStatus.CANCELLED, updated_at=timezone.now())
    event_record_many(
        entities=[(review, None, snapshot(review, REVIEW_FIELDS)) for review in rows],
        action=EventAction.CREATE,
        actor=user,
        note="history",
    )
    return rows
