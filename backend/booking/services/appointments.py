"""Appointments: book (as a customer, or for a client by staff), reschedule, cancel, move through the status flow, and
hold a freed slot for the waiting list.

Rules, in the order a booking checks them:

1. The branch: a customer reaches only one that accepts online booking (anything else is a 404); staff book in their
   own organization with the booking right (``booking_context`` and ``Perm.BOOKING_MANAGE``).
2. The services: offered at that branch, active, not archived and, for customers, bookable online (``visit_specs``:
   404 otherwise); a group service is booked on its own.
3. The master: a master of that branch (a membership narrowed to another branch does not count) qualified for every
   service (``catalog.StaffService``) and, for customers, bookable online: 422 ``staff_unavailable`` otherwise. No
   master named means "any": the availability search picks one fairly.
4. The time: whole minutes, not in the past (422 ``in_past``); for customers on the branch's slot grid (422
   ``invalid_time``), after the lead time (``too_soon``) and within the horizon (``too_far``); every service with
   its buffers inside the master's working time (422 ``outside_schedule``); free (409 ``slot_taken`` with the next
   free slots).
5. The database has the last word: inserting the occupancy rows (decision 0009) fails for a slot someone took a moment
   ago (SQLSTATE 23P01 on PostgreSQL, the trigger's message on SQLite): 409 ``slot_taken``. A deadlock (40P01) or a
   serialization failure (40001) is retried a few times, then answered 409 too; never a 500.

Each write runs in one transaction (a savepoint when the request already holds one), records its event there, and
then tells the rest of booking (``_after_change``): the reminders and the waiting list (``services.reminders``) and
the journal's sockets (``services.journal``, after commit).

Prices are snapshots: each line keeps the master's price of its service at booking time (``StaffService`` own price,
else the service's); a reschedule keeps them. Cancelling or moving is the customer's only up to the organization's
cutoff before the start; staff may do either until the visit has begun.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.booking.db import SQLITE_CLIENT_OVERLAP_MESSAGE, SQLITE_OVERLAP_MESSAGE
from backend.booking.exceptions import BookingErrorCode
from backend.booking.models import (
    ACTIVE_STATUSES,
    MAX_CANCEL_REASON_LENGTH,
    MAX_NOTES_LENGTH,
    STATUS_TRANSITIONS,
    Appointment,
    AppointmentLine,
    AppointmentStatus,
    BookingChannel,
    GroupSession,
    GroupSessionStatus,
    Occupancy,
)
from backend.booking.selectors import (
    BookingContext,
    booking_context,
    branch_working_intervals,
    next_free_slots,
    visit_plan,
    visit_specs,
)
from backend.booking.services.availability import ServiceSpec, Slot
from backend.booking.services.catalog import LineShape, booking_policy, visit_line_timings
from backend.booking.services.messaging import customer_owns
from backend.booking.services.schedules import MAX_YEAR, MIN_YEAR
from backend.catalog.models import Service, StaffService
from backend.core.access_trace import access_traced
from backend.core.clock import clock_now
from backend.core.events import event_record, restore_record, snapshot
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.crm.cleaning import client_derived_refresh
from backend.crm.models import Client, ClientSource
from backend.organizations.models import Branch
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for

#: How many times one booking is tried when the database refuses it for a transient reason (a deadlock between
#: concurrent conflicting inserts, a serialization failure) or for an overlap that a fresh read may route around
#: (another resource, another "any" master).
ATTEMPTS = 3
#: How many free slots a 409 ``slot_taken`` offers.
NEXT_SLOTS = 3
_OVERLAP_SQLSTATE = "23P01"
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
#: Statuses a visit can still be moved or cancelled from.
OPEN_STATUSES = frozenset({AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED})

APPOINTMENT_EVENT_FIELDS = (
    "branch",
    "client",
    "customer",
    "staff",
    "group_session",
    "starts_at",
    "ends_at",
    "status",
    "channel",
    "source",
    "price",
    "currency",
    "notes",
    "cancel_reason",
    "hold_expires_at",
)

T = TypeVar("T")
logger = logging.getLogger("brigada.booking")


# --- errors -----------------------------------------------------------------------------------------------------------


def _invalid(field: str, message: str, code: BookingErrorCode) -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={field: [message]})


def slot_taken_error(slots: Sequence[Slot]) -> Conflict:
    """The 409 ``slot_taken`` answer: ``fields.next_slots`` lists the next free visits (start, end, master)."""
    return Conflict(
        _("This time has just been taken."),
        code=BookingErrorCode.SLOT_TAKEN,
        fields={
            "next_slots": [
                {"start": s.start.isoformat(), "end": s.end.isoformat(), "staff_id": s.staff_id} for s in slots
            ]
        },
    )


def _sqlstate(exc: BaseException) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)


#: The PostgreSQL exclusion constraint that keeps a client out of two visits at once.
_CLIENT_CONSTRAINT = "booking_occupancy_client_no_overlap"


def _is_client_overlap(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    if _sqlstate(exc) == _OVERLAP_SQLSTATE and getattr(diag, "constraint_name", None) == _CLIENT_CONSTRAINT:
        return True
    return SQLITE_CLIENT_OVERLAP_MESSAGE in str(exc) or _CLIENT_CONSTRAINT in str(exc)


def client_busy_error() -> Conflict:
    """The 409 ``client_busy`` answer: the client already has a visit that overlaps this time (no retry helps)."""
    return Conflict(
        _("This client already has a visit at this time."), code=BookingErrorCode.CLIENT_BUSY, fields={"start": []}
    )


def _is_overlap(exc: IntegrityError) -> bool:
    return _sqlstate(exc) == _OVERLAP_SQLSTATE or SQLITE_OVERLAP_MESSAGE in str(exc)


def _is_session_race(exc: IntegrityError) -> bool:
    # PostgreSQL names the constraint; SQLite names its columns.
    message = str(exc)
    return "booking_session_one_per_slot" in message or "booking_groupsession.service_id" in message


def _is_transient(exc: OperationalError) -> bool:
    return _sqlstate(exc) in _TRANSIENT_SQLSTATES


class _Overlap(Exception):
    """The database refused an occupancy: the slot was taken between the check and the insert."""


class _SessionRace(Exception):
    """Two first bookings of one class created its session at once: the loser joins the winner's."""


def _attempts(write: Callable[[], T], *, on_taken: Callable[[], Conflict]) -> T:
    """Run ``write`` in a savepoint up to ``ATTEMPTS`` times: an overlap, a deadlock or a serialization failure rolls
    the attempt back and tries again on fresh reads; when attempts run out the answer is ``on_taken()`` (a 409)."""
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                try:
                    return write()
                except IntegrityError as exc:
                    if _is_client_overlap(exc):
                        raise client_busy_error() from exc
                    if _is_overlap(exc):
                        raise _Overlap from exc
                    if _is_session_race(exc):
                        raise _SessionRace from exc
                    raise
        except (_Overlap, _SessionRace):
            pass
        except OperationalError as exc:
            if not _is_transient(exc):
                raise
            logger.info("booking write retried after SQLSTATE %s (attempt %d)", _sqlstate(exc), attempt + 1)
            # A short random pause, so the transactions that just deadlocked do not meet again at once.
            time.sleep(random.uniform(0.005, 0.03) * (attempt + 1))
    raise on_taken()


# --- the hooks of the rest of booking ---------------------------------------------------------------------------------


def _module(name: str) -> Any:
    """A booking module another part of the work provides (reminders, journal), or None while it is absent."""
    full = f"backend.booking.services.{name}"
    return importlib.import_module(full) if importlib.util.find_spec(full) is not None else None


def _after_change(appointment: Appointment, *, change: str, actor: Any, **previous: Any) -> None:
    """Tell reminders / waiting list (in this transaction) and the journal's sockets (after commit) of a change.

    ``change`` is one of ``reminders.AppointmentChange`` ("created", "rescheduled", "cancelled", "status").
    """
    reminders = _module("reminders")
    if reminders is not None:
        reminders.appointment_changed(appointment=appointment, change=change, actor=actor, **previous)
    journal = _module("journal")
    if journal is not None:
        journal.publish_appointment_change(appointment, change=change)


# --- input checks -----------------------------------------------------------------------------------------------------


def _notes_clean(notes: str | None, *, field: str = "notes", limit: int = MAX_NOTES_LENGTH) -> str:
    value = (notes or "").strip()
    if "\x00" in value:
        raise _invalid(field, _("Contains a NUL character."), BookingErrorCode.INVALID_NOTES)
    if len(value) > limit:
        raise _invalid(field, _("At most %(n)d characters.") % {"n": limit}, BookingErrorCode.INVALID_NOTES)
    return value


def _start_check(start: dt.datetime, context: BookingContext, now: dt.datetime, *, field: str = "start") -> None:
    """Whole minutes, with a zone, in the representable years, not past; a customer's within lead time and horizon."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise _invalid(field, _("Give the time with its UTC offset."), BookingErrorCode.INVALID_TIME)
    if not MIN_YEAR <= start.astimezone(dt.UTC).year <= MAX_YEAR:
        raise _invalid(
            field,
            _("Enter a date between %(min)d and %(max)d.") % {"min": MIN_YEAR, "max": MAX_YEAR},
            BookingErrorCode.INVALID_DATES,
        )
    if start.astimezone(dt.UTC).second or start.microsecond:  # in UTC: an offset may carry seconds
        raise _invalid(field, _("A visit starts on a whole minute."), BookingErrorCode.INVALID_TIME)
    local = start.astimezone(context.zone)
    if context.public and (local.hour * 60 + local.minute) % context.step_minutes:
        # Customers book the times the slot search offers (the branch's grid); staff may fit a walk-in anywhere.
        raise _invalid(
            field,
            _("Choose one of the offered times (every %(n)d minutes).") % {"n": context.step_minutes},
            BookingErrorCode.INVALID_TIME,
        )
    if start < now:
        raise _invalid(field, _("This time is in the past."), BookingErrorCode.IN_PAST)
    not_before, not_after = context.bounds(now)
    if start < not_before:
        raise _invalid(
            field,
            _("Book at least %(n)d minutes ahead.") % {"n": context.policy.lead_time_minutes},
            BookingErrorCode.TOO_SOON,
        )
    if start > not_after:
        raise _invalid(
            field,
            _("Book at most %(n)d days ahead.") % {"n": (not_after - now).days},
            BookingErrorCode.TOO_FAR,
        )


def _staff_check(specs: Sequence[ServiceSpec], staff_id: int | None) -> None:
    if staff_id is not None and any(staff_id not in spec.durations for spec in specs):
        raise _invalid(
            "staff_id",
            _("This master does not perform these services at this branch."),
            BookingErrorCode.STAFF_UNAVAILABLE,
        )


def _source_check(organization_id: int, source_id: int | None) -> None:
    if (
        source_id is not None
        and not ClientSource.objects.filter(pk=source_id, organization_id=organization_id, is_active=True).exists()
    ):
        raise _invalid("source_id", _("Unknown source."), BookingErrorCode.INVALID_REFERENCE)


def _works(branch: Branch, specs: Sequence[ServiceSpec], staff_id: int | None, start: dt.datetime) -> bool:
    """Whether some qualified master (``staff_id`` when given) works through the whole visit from ``start``, with
    its buffers (the slot search's rule), ignoring other bookings: tells "outside the schedule" from "taken"."""
    candidates = {staff_id} if staff_id is not None else set.intersection(*(set(s.durations) for s in specs))
    if not candidates:
        return False
    day = start.astimezone(ZoneInfo(branch.effective_time_zone)).date()
    working = branch_working_intervals(
        branch=branch, staff_ids=candidates, first_day=day - dt.timedelta(days=1), last_day=day + dt.timedelta(days=2)
    )
    for master in candidates:
        shapes = [
            LineShape(
                int(spec.durations[master].total_seconds() // 60),
                int(spec.buffer_before.total_seconds() // 60),
                int(spec.buffer_after.total_seconds() // 60),
            )
            for spec in specs
        ]
        timings = visit_line_timings(start, shapes)
        if all(
            any(lo <= t.occupied_from and t.occupied_until <= hi for lo, hi in working.get(master, [])) for t in timings
        ):
            return True
    return False


# --- clients ----------------------------------------------------------------------------------------------------------


def customer_client_for(*, organization_id: int, user: Any, source_id: int | None = None) -> Client:
    """The client record of the customer ``user`` in the organization, by the user's phone: found, restored when it
    was deleted (the same person came back), or created (with its event) when the organization never saw them.
    Call inside the caller's transaction (a booking, a waiting-list entry)."""
    client = Client.objects.filter(organization_id=organization_id, phone=user.phone).first()
    if client is None:
        client = Client(
            organization_id=organization_id,
            phone=user.phone,
            first_name=(user.first_name or "")[:100],
            last_name=(user.last_name or "")[:100],
            source_id=source_id,
        )
        client_derived_refresh(client)
        try:
            with transaction.atomic():
                client.save()
        except IntegrityError:
            # Two first bookings of one customer at once: the other created the card a moment ago.
            return Client.objects.get(organization_id=organization_id, phone=user.phone)
        # The card is the organization's record, never shown to the customer: its event is kept out of the
        # request's access trace, so an idempotent replay of the booking checks only what the answer shows.
        with access_traced():
            event_record(
                entity=client,
                action=EventAction.CREATE,
                actor=user,
                after=snapshot(client, ("phone", "first_name", "last_name", "source")),
                note="booked online",
            )
    elif client.deleted_at is not None:
        with access_traced():
            restore_record(entity=client, actor=user)
    return client


def _staff_client(*, organization_id: int, client_id: int) -> Client:
    client = Client.objects.filter(pk=client_id, organization_id=organization_id).first()
    if client is None:
        raise NotFound(_("Client not found."))
    if client.deleted_at is not None:
        raise Conflict(_("This client is deleted."), code=BookingErrorCode.CLIENT_DELETED)
    return client


# --- booking ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Visit:
    context: BookingContext
    specs: list[ServiceSpec]
    service_ids: list[int]
    staff_id: int | None
    start: dt.datetime


def _prices(organization_id: int, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Decimal]:
    """The price of each (master, service): the master's own, else the service's."""
    services = {s.pk: s.price for s in Service.objects.filter(pk__in={svc for _staff, svc in pairs})}
    prices = {(staff, svc): services[svc] for staff, svc in pairs}
    for link in StaffService.objects.filter(
        organization_id=organization_id,
        staff_id__in={staff for staff, _svc in pairs},
        service_id__in=set(services),
    ).only("staff_id", "service_id", "price"):
        if (link.staff_id, link.service_id) in prices and link.price is not None:
            prices[(link.staff_id, link.service_id)] = link.price
    return prices


def _visit_refused(visit: _Visit, now: dt.datetime) -> Conflict | ValidationFailed:
    """Why the visit does not fit: outside every qualified master's working time (422), else taken (409 with the
    next free slots)."""
    if not _works(visit.context.branch, visit.specs, visit.staff_id, visit.start):
        return _invalid("start", _("The master does not work at this time."), BookingErrorCode.OUTSIDE_SCHEDULE)
    return _taken(visit, now)


def _taken(visit: _Visit, now: dt.datetime) -> Conflict:
    slots = next_free_slots(
        branch_id=visit.context.branch.pk,
        service_ids=visit.service_ids,
        after=visit.start,
        staff_id=visit.staff_id,
        public=visit.context.public,
        limit=NEXT_SLOTS,
        now=now,
    )
    return slot_taken_error(slots)


#: Namespaces of the transaction-level advisory locks that queue conflicting bookings (decision 0009): the high 32
#: bits of the lock key, the row id the low ones.
_LOCK_STAFF, _LOCK_RESOURCE, _LOCK_CLIENT = 0x0B0001, 0x0B0002, 0x0B0003


def _queue_behind_conflicts(
    *, client_id: int | None, staff_ids: Iterable[int | None], resource_ids: Iterable[int | None]
) -> None:
    """Queue this write behind any other open write on the same client, masters or resources (PostgreSQL).

    Two inserts that break one exclusion constraint at once each wait for the other's transaction: a deadlock, which
    PostgreSQL notices only after ``deadlock_timeout`` (1 s), and then several more in a storm (measured: 9 s a round
    for ten requests of one client with two masters). Taking a transaction-level advisory lock per client, master and
    resource first, in one ascending order, turns the circle into a queue: the second write waits a few milliseconds,
    then the constraint (still the last word) refuses it at once. The locks end with the transaction; SQLite
    serializes writers anyway.
    """
    if connection.vendor != "postgresql":
        return
    keys = {(_LOCK_STAFF << 32) | pk for pk in staff_ids if pk is not None}
    keys |= {(_LOCK_RESOURCE << 32) | pk for pk in resource_ids if pk is not None}
    if client_id is not None:
        keys.add((_LOCK_CLIENT << 32) | client_id)
    with connection.cursor() as cursor:
        for key in sorted(keys):
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _occupancy(appointment: Appointment, line: AppointmentLine) -> Occupancy:
    return Occupancy(
        organization_id=appointment.organization_id,
        branch_id=appointment.branch_id,
        staff_id=line.staff_id,
        resource_id=line.resource_id,
        starts_at=line.starts_at - dt.timedelta(minutes=line.buffer_before_minutes),
        ends_at=line.ends_at + dt.timedelta(minutes=line.buffer_after_minutes),
        is_active=appointment.status in ACTIVE_STATUSES,
        line=line,
    )


def _client_occupancy(appointment: Appointment) -> Occupancy:
    """The appointment's hold on its client's time: the visit's own span (no buffers)."""
    return Occupancy(
        organization_id=appointment.organization_id,
        branch_id=appointment.branch_id,
        client_id=appointment.client_id,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        is_active=appointment.status in ACTIVE_STATUSES,
        appointment=appointment,
    )


def _lines_of(
    plan: Slot, specs: Sequence[ServiceSpec], prices: dict[tuple[int, int], Decimal]
) -> list[AppointmentLine]:
    lines = []
    for position, (slot_line, spec) in enumerate(zip(plan.lines, specs, strict=True)):
        lines.append(
            AppointmentLine(
                position=position,
                service_id=slot_line.service_id,
                staff_id=slot_line.staff_id,
                resource_id=slot_line.resource_ids[0] if slot_line.resource_ids else None,
                starts_at=slot_line.start,
                ends_at=slot_line.end,
                duration_minutes=int((slot_line.end - slot_line.start).total_seconds() // 60),
                buffer_before_minutes=int(spec.buffer_before.total_seconds() // 60),
                buffer_after_minutes=int(spec.buffer_after.total_seconds() // 60),
                price=prices[(slot_line.staff_id, slot_line.service_id)],
            )
        )
    return lines


def appointment_snapshot(appointment: Appointment) -> dict[str, Any]:
    """What an appointment's events carry: its fields and its lines (service, master, resource, times, price)."""
    data = snapshot(appointment, APPOINTMENT_EVENT_FIELDS)
    data["lines"] = [
        snapshot(line, ("position", "service", "staff", "resource", "starts_at", "ends_at", "price"))
        for line in appointment.lines.order_by("position")
    ]
    return data


def _individual_write(visit: _Visit, *, appointment: Appointment, now: dt.datetime) -> Appointment:
    plan = visit_plan(
        branch_id=visit.context.branch.pk,
        service_ids=visit.service_ids,
        start=visit.start,
        staff_id=visit.staff_id,
        public=visit.context.public,
        now=now,
    )
    if plan is None:
        raise _visit_refused(visit, now)
    prices = _prices(appointment.organization_id, {(ln.staff_id, ln.service_id) for ln in plan.lines})
    lines = _lines_of(plan, visit.specs, prices)
    appointment.staff_id = plan.lines[0].staff_id
    appointment.starts_at, appointment.ends_at = plan.start, plan.end
    appointment.price = sum((line.price for line in lines), Decimal("0"))
    appointment.save()
    for line in lines:
        line.appointment = appointment
    AppointmentLine.objects.bulk_create(lines)
    saved = list(appointment.lines.order_by("position"))
    _queue_behind_conflicts(
        client_id=appointment.client_id,
        staff_ids=[line.staff_id for line in saved],
        resource_ids=[line.resource_id for line in saved],
    )
    Occupancy.objects.bulk_create([_occupancy(appointment, line) for line in saved] + [_client_occupancy(appointment)])
    return appointment


def _session_join(session: GroupSession) -> bool:
    # A conditional UPDATE: exactly ``capacity`` places are ever taken, however many book at once (FIELD-NOTES).
    return bool(
        GroupSession.objects.filter(
            pk=session.pk, status=GroupSessionStatus.SCHEDULED, seats_taken__lt=F("capacity")
        ).update(seats_taken=F("seats_taken") + 1, updated_at=timezone.now())
    )


def _group_write(visit: _Visit, *, appointment: Appointment, now: dt.datetime, actor: Any) -> Appointment:
    spec = visit.specs[0]
    service_id = visit.service_ids[0]
    sessions = GroupSession.objects.filter(
        branch_id=visit.context.branch.pk,
        service_id=service_id,
        starts_at=visit.start,
        status=GroupSessionStatus.SCHEDULED,
    ).order_by("id")
    if visit.staff_id is not None:
        sessions = sessions.filter(staff_id=visit.staff_id)
    existing = list(sessions)
    session: GroupSession | None = None
    for candidate in existing:
        if Appointment.objects.filter(
            group_session=candidate, client_id=appointment.client_id, status__in=ACTIVE_STATUSES
        ).exists():
            raise Conflict(_("This client is already booked for this class."), code=BookingErrorCode.ALREADY_BOOKED)
        if _session_join(candidate):
            session = candidate
            break
    if session is None and existing and visit.staff_id is not None:
        raise Conflict(_("This class is full."), code=BookingErrorCode.GROUP_FULL)
    if session is None:
        plan = visit_plan(
            branch_id=visit.context.branch.pk,
            service_ids=visit.service_ids,
            start=visit.start,
            staff_id=visit.staff_id,
            public=visit.context.public,
            now=now,
        )
        if plan is None:
            if existing:
                raise Conflict(_("This class is full."), code=BookingErrorCode.GROUP_FULL)
            raise _visit_refused(visit, now)
        slot_line = plan.lines[0]
        price = _prices(appointment.organization_id, {(slot_line.staff_id, service_id)})[
            (slot_line.staff_id, service_id)
        ]
        session = GroupSession.objects.create(
            organization_id=appointment.organization_id,
            branch_id=appointment.branch_id,
            service_id=service_id,
            staff_id=slot_line.staff_id,
            resource_id=slot_line.resource_ids[0] if slot_line.resource_ids else None,
            starts_at=slot_line.start,
            ends_at=slot_line.end,
            capacity=spec.capacity,
            seats_taken=1,
            price=price,
        )
        Occupancy.objects.create(
            organization_id=session.organization_id,
            branch_id=session.branch_id,
            staff_id=session.staff_id,
            resource_id=session.resource_id,
            starts_at=session.starts_at - spec.buffer_before,
            ends_at=session.ends_at + spec.buffer_after,
            group_session=session,
        )
        event_record(
            entity=session,
            action=EventAction.CREATE,
            actor=actor,
            after=snapshot(session, ("branch", "service", "staff", "resource", "starts_at", "ends_at", "capacity")),
        )
    appointment.group_session = session
    appointment.staff_id = session.staff_id
    appointment.starts_at, appointment.ends_at = session.starts_at, session.ends_at
    appointment.price = session.price
    appointment.save()
    AppointmentLine.objects.create(
        appointment=appointment,
        position=0,
        service_id=service_id,
        staff_id=session.staff_id,
        resource_id=session.resource_id,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        duration_minutes=int((session.ends_at - session.starts_at).total_seconds() // 60),
        buffer_before_minutes=int(spec.buffer_before.total_seconds() // 60),
        buffer_after_minutes=int(spec.buffer_after.total_seconds() // 60),
        price=session.price,
    )
    # A place in a class holds the client's time as an individual visit does (the session holds the master's).
    _queue_behind_conflicts(client_id=appointment.client_id, staff_ids=(), resource_ids=())
    _client_occupancy(appointment).save()
    return appointment


def _book(
    *,
    user: Any,
    context: BookingContext,
    service_ids: Sequence[int],
    staff_id: int | None,
    start: dt.datetime,
    client_for: Callable[[], Client],
    channel: str,
    status: str,
    source_id: int | None,
    notes: str,
    customer_id: int | None,
    hold_expires_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    now = now or clock_now()
    notes = _notes_clean(notes)
    specs = visit_specs(context, list(service_ids))
    _staff_check(specs, staff_id)
    _start_check(start, context, now)
    organization = context.branch.organization
    _source_check(organization.pk, source_id)
    visit = _Visit(context=context, specs=specs, service_ids=list(service_ids), staff_id=staff_id, start=start)

    def write() -> Appointment:
        client = client_for()
        appointment = Appointment(
            organization_id=organization.pk,
            branch_id=context.branch.pk,
            client=client,
            customer_id=customer_id,
            status=status,
            status_changed_at=now,
            channel=channel,
            source_id=source_id if source_id is not None else client.source_id,
            currency=organization.currency,
            notes=notes,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            hold_expires_at=hold_expires_at,
        )
        if specs[0].capacity > 1:
            _group_write(visit, appointment=appointment, now=now, actor=user)
        else:
            _individual_write(visit, appointment=appointment, now=now)
        event_record(
            entity=appointment,
            action=EventAction.CREATE,
            actor=user,
            after=appointment_snapshot(appointment),
            note=channel,
        )
        if status != AppointmentStatus.HELD:
            _after_change(appointment, change="created", actor=user)
        return appointment

    return _attempts(write, on_taken=lambda: _taken(visit, now))


def _staff_context(user: Any, branch_id: int) -> BookingContext:
    context = booking_context(user=user, branch_id=branch_id)
    if context.public:
        raise NotFound(_("Branch not found."))
    organization_access_check(user, context.branch.organization_id, Perm.BOOKING_MANAGE)
    return context


@transaction.atomic
def appointment_create_for_customer(
    *,
    user: Any,
    branch_id: int,
    service_ids: Sequence[int],
    start: dt.datetime,
    staff_id: int | None = None,
    source_id: int | None = None,
    notes: str = "",
    now: dt.datetime | None = None,
) -> Appointment:
    """A customer books a visit for themselves at a branch that accepts online booking (see the module's rules);
    their client record in that organization is found by their phone, or created. Staff of any organization book
    for a client instead (``appointment_create_for_client``): a 422 ``client_required`` here."""
    context = booking_context(user=user, branch_id=branch_id)
    if not context.public:
        raise _invalid("client_id", _("Choose the client to book for."), BookingErrorCode.CLIENT_REQUIRED)
    organization_id = context.branch.organization_id
    return _book(
        user=user,
        context=context,
        service_ids=service_ids,
        staff_id=staff_id,
        start=start,
        client_for=lambda: customer_client_for(organization_id=organization_id, user=user, source_id=source_id),
        channel=BookingChannel.CUSTOMER,
        status=AppointmentStatus.BOOKED,
        source_id=source_id,
        notes=notes,
        customer_id=user.pk,
        now=now,
    )


@transaction.atomic
def appointment_create_for_client(
    *,
    user: Any,
    branch_id: int,
    client_id: int,
    service_ids: Sequence[int],
    start: dt.datetime,
    staff_id: int | None = None,
    source_id: int | None = None,
    notes: str = "",
    now: dt.datetime | None = None,
) -> Appointment:
    """Staff with the booking right book a walk-in or a caller: a client of their organization (404 for another's,
    409 ``client_deleted`` for a deleted one), any service offered at the branch (online or not), from now on."""
    context = _staff_context(user, branch_id)
    organization_id = context.branch.organization_id
    _staff_client(organization_id=organization_id, client_id=client_id)  # refuse before any other work
    return _book(
        user=user,
        context=context,
        service_ids=service_ids,
        staff_id=staff_id,
        start=start,
        client_for=lambda: _staff_client(organization_id=organization_id, client_id=client_id),
        channel=BookingChannel.STAFF,
        status=AppointmentStatus.BOOKED,
        source_id=source_id,
        notes=notes,
        customer_id=None,
        now=now,
    )


# --- one appointment: who may change it ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Access:
    """How the caller reaches an appointment: as its customer, as staff with the booking right, or as its master."""

    appointment: Appointment
    as_customer: bool
    as_manager: bool
    as_master: bool


def _appointment_for_change(user: Any, appointment_id: int) -> _Access:
    """Lock and return the appointment: the customer's own, any of the organization's for booking staff, or a
    master's own (one of its lines is theirs); anything else is a 404 (its existence is not confirmed)."""
    appointment = (
        Appointment.objects.select_for_update()
        .select_related("organization", "branch", "branch__organization")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None:
        raise NotFound(_("Appointment not found."))
    uid = getattr(user, "pk", None)
    # The client themselves: the account that booked, or the account with the client's phone (a visit booked by
    # staff, whose reminder reached that account with Confirm / Cancel buttons) — the messaging rule, one rule.
    as_customer = uid is not None and (
        appointment.customer_id == uid
        or customer_owns(user=user, customer_id=appointment.customer_id, client=appointment.client)
    )
    as_manager = appointment.organization_id in organization_ids_for(user, Perm.BOOKING_MANAGE)
    as_master = appointment.organization_id in organization_ids_for(user, Perm.STAFFING_SELF) and (
        appointment.lines.filter(staff_id=uid).exists()
    )
    if not (as_customer or as_manager or as_master):
        if appointment.organization_id in organization_ids_for(user):
            organization_access_check(user, appointment.organization_id, Perm.BOOKING_MANAGE)  # raises the 403
        raise NotFound(_("Appointment not found."))
    if as_manager:
        organization_access_check(user, appointment.organization_id, Perm.BOOKING_MANAGE)
    elif as_master:
        organization_access_check(user, appointment.organization_id, Perm.STAFFING_SELF)
    return _Access(appointment, as_customer and not as_manager, as_manager, as_master and not as_manager)


def _transition_check(appointment: Appointment, status: str) -> None:
    if status not in STATUS_TRANSITIONS.get(appointment.status, frozenset()):
        raise Conflict(
            _("An appointment that is %(now)s cannot become %(next)s.")
            % {"now": AppointmentStatus(appointment.status).label, "next": AppointmentStatus(status).label},
            code=BookingErrorCode.INVALID_TRANSITION,
            fields={"status": [appointment.status]},
        )


def _cutoff_check(appointment: Appointment, now: dt.datetime) -> None:
    policy = booking_policy(appointment.branch)
    if appointment.starts_at - now < policy.cancel_cutoff:
        raise Conflict(
            _("Changes are accepted up to %(n)d minutes before the start; please call the branch.")
            % {"n": policy.cancel_cutoff_minutes},
            code=BookingErrorCode.CUTOFF_PASSED,
        )


def _occupancies_of(appointment: Appointment) -> Any:
    return Occupancy.objects.filter(Q(line__appointment=appointment) | Q(appointment=appointment))


def _release_time(appointment: Appointment, *, actor: Any) -> None:
    """Free what the appointment holds: its lines' occupancies, or its place in a group session (the session itself,
    and its master's time, when its last participant leaves)."""
    _occupancies_of(appointment).update(is_active=False)
    if appointment.group_session_id is None:
        return
    GroupSession.objects.filter(pk=appointment.group_session_id, seats_taken__gt=0).update(
        seats_taken=F("seats_taken") - 1, updated_at=timezone.now()
    )
    emptied = GroupSession.objects.filter(
        pk=appointment.group_session_id, seats_taken=0, status=GroupSessionStatus.SCHEDULED
    ).update(status=GroupSessionStatus.CANCELLED, updated_at=timezone.now())
    if emptied:
        Occupancy.objects.filter(group_session_id=appointment.group_session_id).update(is_active=False)
        session = GroupSession.objects.get(pk=appointment.group_session_id)
        event_record(
            entity=session,
            action=EventAction.STATUS,
            actor=actor,
            before={"status": GroupSessionStatus.SCHEDULED},
            after={"status": GroupSessionStatus.CANCELLED},
            note="last participant left",
        )


def _status_write(
    appointment: Appointment, status: str, *, actor: Any, now: dt.datetime, reason: str = "", note: str = ""
) -> Appointment:
    before = snapshot(appointment, ("status", "cancel_reason"))
    appointment.status = status
    appointment.status_changed_at = now
    fields = ["status", "status_changed_at", "updated_at"]
    if status == AppointmentStatus.CANCELLED:
        appointment.cancelled_at = now
        appointment.cancelled_by = actor if getattr(actor, "is_authenticated", False) else None
        appointment.cancel_reason = reason
        fields += ["cancelled_at", "cancelled_by", "cancel_reason"]
    if status == AppointmentStatus.BOOKED:
        appointment.hold_expires_at = None
        fields.append("hold_expires_at")
    appointment.save(update_fields=fields)
    if status not in ACTIVE_STATUSES:
        _release_time(appointment, actor=actor)
    if status == AppointmentStatus.DONE:
        # The client's last visit (maintained by booking): only ever moves forward.
        Client.objects.filter(pk=appointment.client_id).filter(
            Q(last_visit_at__isnull=True) | Q(last_visit_at__lt=appointment.starts_at)
        ).update(last_visit_at=appointment.starts_at, updated_at=timezone.now())
    event_record(
        entity=appointment,
        action=EventAction.STATUS,
        actor=actor,
        before=before,
        after=snapshot(appointment, ("status", "cancel_reason")),
        note=note,
    )
    return appointment


@transaction.atomic
def appointment_cancel(
    *, user: Any, appointment_id: int, reason: str = "", now: dt.datetime | None = None
) -> Appointment:
    """Cancel a visit that is booked or confirmed: its time is free again at once. A customer cancels their own up
    to the organization's cutoff before the start (409 ``cutoff_passed`` after it); booking staff any time."""
    now = now or clock_now()
    access = _appointment_for_change(user, appointment_id)
    appointment = access.appointment
    reason = _notes_clean(reason, field="reason", limit=MAX_CANCEL_REASON_LENGTH)
    if access.as_master:
        organization_access_check(user, appointment.organization_id, Perm.BOOKING_MANAGE)  # masters do not cancel
    if appointment.status == AppointmentStatus.HELD:
        raise Conflict(_("This is a hold, not a booking."), code=BookingErrorCode.INVALID_TRANSITION)
    _transition_check(appointment, AppointmentStatus.CANCELLED)
    if access.as_customer:
        _cutoff_check(appointment, now)
    previous = appointment.status
    _status_write(appointment, AppointmentStatus.CANCELLED, actor=user, now=now, reason=reason)
    _after_change(appointment, change="cancelled", actor=user, previous_status=previous)
    return appointment


#: Who moves an appointment to each status: booking staff always; its master for the visit's own steps; its
#: customer only to confirm.
_STATUS_ACTIONS: dict[str, set[str]] = {
    AppointmentStatus.CONFIRMED: {"customer", "master", "manager"},
    AppointmentStatus.ARRIVED: {"master", "manager"},
    AppointmentStatus.DONE: {"master", "manager"},
    AppointmentStatus.NO_SHOW: {"master", "manager"},
}


@transaction.atomic
def appointment_status_set(
    *, user: Any, appointment_id: int, status: str, now: dt.datetime | None = None
) -> Appointment:
    """Move an appointment along booked -> confirmed -> arrived -> done, or to no-show: 409 ``invalid_transition``
    for a step the flow does not have (done twice, arrived after cancelled...), 409 ``too_soon`` for a no-show
    before the visit has started. A no-show frees the rest of the master's time."""
    now = now or clock_now()
    if status not in _STATUS_ACTIONS:
        raise _invalid("status", _("Unknown status."), BookingErrorCode.INVALID_TRANSITION)
    access = _appointment_for_change(user, appointment_id)
    appointment = access.appointment
    role = "manager" if access.as_manager else "master" if access.as_master else "customer"
    if role not in _STATUS_ACTIONS[status]:
        organization_access_check(user, appointment.organization_id, Perm.BOOKING_MANAGE)  # the 403 / 404
    _transition_check(appointment, status)
    if status == AppointmentStatus.NO_SHOW and now < appointment.starts_at:
        raise Conflict(_("The visit has not started yet."), code=BookingErrorCode.TOO_SOON)
    previous = appointment.status
    _status_write(appointment, status, actor=user, now=now)
    _after_change(appointment, change="status", actor=user, previous_status=previous)
    return appointment


def _reschedule_write(
    appointment: Appointment, *, context: BookingContext, start: dt.datetime, staff_id: int | None, now: dt.datetime
) -> Appointment:
    service_ids = list(appointment.lines.order_by("position").values_list("service_id", flat=True))
    specs = visit_specs(context, service_ids)
    _staff_check(specs, staff_id)
    visit = _Visit(context=context, specs=specs, service_ids=service_ids, staff_id=staff_id, start=start)
    # Read once, before any attempt: a retried attempt counts the move once, not once per attempt.
    rescheduled_count = appointment.rescheduled_count + 1

    def write() -> Appointment:
        # Fresh rows per attempt: a failed attempt's savepoint rolled the lines back, not these Python objects.
        lines = list(appointment.lines.order_by("position"))
        # The visit's own time is free for its new place: deactivated here, in the attempt's savepoint, and active
        # again (at the old or the new time) before it ends.
        _occupancies_of(appointment).update(is_active=False)
        plan = visit_plan(
            branch_id=context.branch.pk,
            service_ids=service_ids,
            start=start,
            staff_id=staff_id,
            public=context.public,
            now=now,
        )
        if plan is None:
            raise _visit_refused(visit, now)
        _queue_behind_conflicts(
            client_id=appointment.client_id,
            staff_ids=[slot_line.staff_id for slot_line in plan.lines],
            resource_ids=[rid for slot_line in plan.lines for rid in slot_line.resource_ids[:1]],
        )
        for line, slot_line in zip(lines, plan.lines, strict=True):
            line.staff_id = slot_line.staff_id
            line.resource_id = slot_line.resource_ids[0] if slot_line.resource_ids else None
            line.starts_at, line.ends_at = slot_line.start, slot_line.end
            line.save(update_fields=["staff", "resource", "starts_at", "ends_at", "updated_at"])
            fresh = _occupancy(appointment, line)
            Occupancy.objects.filter(line=line).update(
                staff_id=fresh.staff_id,
                resource_id=fresh.resource_id,
                starts_at=fresh.starts_at,
                ends_at=fresh.ends_at,
                is_active=True,
            )
        appointment.staff_id = plan.lines[0].staff_id
        appointment.starts_at, appointment.ends_at = plan.start, plan.end
        appointment.rescheduled_count = rescheduled_count
        appointment.save(update_fields=["staff", "starts_at", "ends_at", "rescheduled_count", "updated_at"])
        Occupancy.objects.filter(appointment=appointment).update(
            starts_at=appointment.starts_at, ends_at=appointment.ends_at, is_active=True
        )
        return appointment

    return _attempts(write, on_taken=lambda: _taken(visit, now))


def reschedule_master(appointment: Appointment) -> int | None:
    """Who a move keeps unless another master is named: the same master, or "any" (None) for a visit whose steps
    had different masters. The slot search of a move asks with the same answer."""
    masters = set(appointment.lines.values_list("staff_id", flat=True))
    return appointment.staff_id if len(masters) == 1 else None


@transaction.atomic
def appointment_reschedule(
    *,
    user: Any,
    appointment_id: int,
    start: dt.datetime,
    staff_id: int | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    """Move a booked or confirmed visit to ``start`` (the same services in the same order; the same master unless
    ``staff_id`` names another qualified one), by the rules of a new booking. A customer moves their own up to the
    cutoff before its *current* start; the prices stay as booked. A group class is not moved (cancel and book
    another session: 422 ``group_reschedule``)."""
    now = now or clock_now()
    access = _appointment_for_change(user, appointment_id)
    appointment = access.appointment
    if access.as_master:
        organization_access_check(user, appointment.organization_id, Perm.BOOKING_MANAGE)
    if appointment.status not in OPEN_STATUSES:
        raise Conflict(
            _("Only a booked or confirmed visit can be moved."),
            code=BookingErrorCode.INVALID_TRANSITION,
            fields={"status": [appointment.status]},
        )
    if appointment.group_session_id is not None:
        raise _invalid("start", _("Cancel and book another session instead."), BookingErrorCode.GROUP_RESCHEDULE)
    context = BookingContext(branch=appointment.branch, public=access.as_customer)
    if access.as_customer:
        _cutoff_check(appointment, now)
    _start_check(start, context, now)
    before = appointment_snapshot(appointment)
    previous = {
        "previous_starts_at": appointment.starts_at,
        "previous_ends_at": appointment.ends_at,
        "previous_staff_id": appointment.staff_id,
    }
    staff = staff_id if staff_id is not None else reschedule_master(appointment)
    _reschedule_write(appointment, context=context, start=start, staff_id=staff, now=now)
    event_record(
        entity=appointment,
        action=EventAction.UPDATE,
        actor=user,
        before=before,
        after=appointment_snapshot(appointment),
    )
    _after_change(appointment, change="rescheduled", actor=user, **previous)
    return appointment


# --- a quote before booking -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitQuote:
    """What booking ``start`` would give right now: the planned visit (each step's master) and its price."""

    slot: Slot
    price: Decimal
    currency: str


def visit_quote(
    *,
    user: Any,
    branch_id: int,
    service_ids: Sequence[int],
    start: dt.datetime,
    staff_id: int | None = None,
    now: dt.datetime | None = None,
) -> VisitQuote | None:
    """The visit and the price a booking of ``start`` would get, by the booking's own rules (the branch and services
    as the caller may book them, the fair choice of "any master", each master's own price): None when it does not
    fit now. Only a preview: the booking decides again (``appointment_create_for_customer``)."""
    context = booking_context(user=user, branch_id=branch_id)
    specs = visit_specs(context, list(service_ids))
    _staff_check(specs, staff_id)
    plan = visit_plan(
        branch_id=branch_id, service_ids=service_ids, start=start, staff_id=staff_id, public=context.public, now=now
    )
    if plan is None:
        return None
    prices = _prices(context.branch.organization_id, {(ln.staff_id, ln.service_id) for ln in plan.lines})
    total = sum((prices[(ln.staff_id, ln.service_id)] for ln in plan.lines), Decimal("0"))
    return VisitQuote(slot=plan, price=total, currency=context.branch.organization.currency)


# --- waiting-list holds ----------------------------------------------------------------------------------------------


@transaction.atomic
def appointment_hold(
    *,
    branch_id: int,
    client_id: int,
    service_ids: Sequence[int],
    start: dt.datetime,
    hold_minutes: int,
    staff_id: int | None = None,
    customer_id: int | None = None,
    actor: Any = None,
    now: dt.datetime | None = None,
) -> Appointment:
    """Hold a freed slot for a waiting-list entry for ``hold_minutes``: an appointment in status ``held`` (its time
    is taken like a booking's) that ``appointment_hold_take`` turns into a booking and ``appointment_hold_release``
    cancels. Called by the waiting list (a system action: no caller's rights are checked); 409 ``slot_taken``."""
    now = now or clock_now()
    branch = Branch.objects.select_related("organization").filter(pk=branch_id).first()
    if branch is None:
        raise NotFound(_("Branch not found."))
    context = BookingContext(branch=branch, public=False)
    organization_id = branch.organization_id
    _staff_client(organization_id=organization_id, client_id=client_id)
    return _book(
        user=actor,
        context=context,
        service_ids=service_ids,
        staff_id=staff_id,
        start=start,
        client_for=lambda: _staff_client(organization_id=organization_id, client_id=client_id),
        channel=BookingChannel.WAITLIST,
        status=AppointmentStatus.HELD,
        source_id=None,
        notes="",
        customer_id=customer_id,
        hold_expires_at=now + dt.timedelta(minutes=hold_minutes),
        now=now,
    )


@transaction.atomic
def appointment_hold_take(*, user: Any, appointment_id: int, now: dt.datetime | None = None) -> Appointment:
    """The client takes the held slot: ``held`` -> ``booked`` while the hold lasts (409 ``invalid_transition`` once
    it has lapsed or was released). Its customer or booking staff take it."""
    now = now or clock_now()
    access = _appointment_for_change(user, appointment_id)
    appointment = access.appointment
    if access.as_master:
        organization_access_check(user, appointment.organization_id, Perm.BOOKING_MANAGE)
    _transition_check(appointment, AppointmentStatus.BOOKED)
    if appointment.hold_expires_at is not None and appointment.hold_expires_at <= now:
        raise Conflict(_("This offer has expired."), code=BookingErrorCode.INVALID_TRANSITION)
    _status_write(appointment, AppointmentStatus.BOOKED, actor=user, now=now, note="hold taken")
    _after_change(appointment, change="created", actor=user)
    return appointment


@transaction.atomic
def appointment_hold_release(*, appointment_id: int, actor: Any = None, now: dt.datetime | None = None) -> Appointment:
    """Release a hold (lapsed or declined): ``held`` -> ``cancelled``, its time free again. A system action; a hold
    already taken or released is left as it is (returned unchanged)."""
    now = now or clock_now()
    appointment = (
        Appointment.objects.select_for_update().select_related("branch", "branch__organization").get(pk=appointment_id)
    )
    if appointment.status != AppointmentStatus.HELD:
        return appointment
    _status_write(appointment, AppointmentStatus.CANCELLED, actor=actor, now=now, reason="hold expired")
    _after_change(appointment, change="cancelled", actor=actor, previous_status=AppointmentStatus.HELD)
    return appointment


__all__ = [
    "ATTEMPTS",
    "appointment_cancel",
    "appointment_create_for_client",
    "appointment_create_for_customer",
    "appointment_hold",
    "appointment_hold_release",
    "appointment_hold_take",
    "appointment_reschedule",
    "appointment_snapshot",
    "appointment_status_set",
    "customer_client_for",
    "reschedule_master",
    "slot_taken_error",
    "visit_quote",
]
