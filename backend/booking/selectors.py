"""Staff schedule reads: a master's working intervals in UTC, computed day by day in the branch's zone."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.catalog.models import MAX_BUFFER_MINUTES, BranchService, Resource, Service, StaffService
from backend.catalog.selectors import branch_list, service_list_for_branch
from backend.core.exceptions import NotFound, ValidationFailed
from backend.organizations.models import Branch, Membership, Role
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for

from .exceptions import BookingErrorCode
from .models import (
    ACTIVE_STATUSES,
    MAX_VISIT_LINES,
    AppointmentLine,
    ExceptionKind,
    GroupSession,
    GroupSessionStatus,
    Occupancy,
    PatternKind,
    ScheduleException,
    WorkPattern,
)
from .services.availability import (
    MAX_SEARCH_DAYS,
    Board,
    ServiceSpec,
    Session,
    Slot,
    intervals_merge,
    local_day_bounds,
    visit_fit,
    visit_slots,
)
from .services.catalog import BookingPolicy, booking_policy
from .services.schedules import MAX_HORIZON_DAYS, MAX_YEAR, MIN_YEAR

Interval = tuple[dt.datetime, dt.datetime]
LocalRange = tuple[dt.time, dt.time]


def _parse_breaks(raw: Iterable[Sequence[str]]) -> list[LocalRange]:
    return sorted((dt.time.fromisoformat(start), dt.time.fromisoformat(end)) for start, end in raw)


def day_segments(day_start: dt.time, day_end: dt.time, breaks: Sequence[LocalRange]) -> list[LocalRange]:
    """The local working ranges of one day: its hours with the (validated, non-overlapping) breaks cut out."""
    segments: list[LocalRange] = []
    cursor = day_start
    for start, end in sorted(breaks):
        if start > cursor:
            segments.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < day_end:
        segments.append((cursor, day_end))
    return segments


def pattern_works_on(pattern: WorkPattern | Any, day: dt.date) -> bool:
    """Whether ``day`` is a working day of the pattern (inside anchor..end, on the cycle or the weekdays)."""
    if not pattern.anchor_date <= day <= pattern.end_date:
        return False
    if pattern.kind == PatternKind.CYCLE:
        on, off = pattern.cycle_on or 0, pattern.cycle_off or 0
        return (day - pattern.anchor_date).days % (on + off) < on
    return day.weekday() in (pattern.weekdays or [])


def _to_utc(day: dt.date, local: dt.time, zone: ZoneInfo) -> dt.datetime:
    # fold=0: a wall time skipped by a spring-forward gap maps with the offset before the change (so 03:30 on a
    # 03:00 -> 04:00 day means 04:30 summer time); a repeated autumn hour means its first occurrence.
    return dt.datetime.combine(day, local, tzinfo=zone).astimezone(dt.UTC)


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _range_check(first_day: dt.date, last_day: dt.date) -> None:
    fields: dict[str, list[str]] = {}
    for field, value in (("first_day", first_day), ("last_day", last_day)):
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            fields[field] = [_("Enter a date between %(min)d and %(max)d.") % {"min": MIN_YEAR, "max": MAX_YEAR}]
    if not fields and last_day < first_day:
        fields["last_day"] = [_("The end date is before the start.")]
    elif not fields and (last_day - first_day).days > MAX_HORIZON_DAYS:
        fields["last_day"] = [_("A schedule spans at most %(n)d days.") % {"n": MAX_HORIZON_DAYS}]
    if fields:
        raise ValidationFailed(_("Some fields are invalid."), code=BookingErrorCode.INVALID_DATES, fields=fields)


# --- plain reads on the request path ------------------------------------------------------------------------------
# The slot search runs on every tap of a booking screen. Its reads are written as plain SQL (portable between SQLite
# and PostgreSQL) returning tuples: building an ORM query cost more than running it (decision 0010).


def _table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[no-any-return]


def _time(value: Any) -> Any:
    return dt.time.fromisoformat(value) if isinstance(value, str) else value


def _moment(value: Any) -> Any:
    """A stored instant as an aware UTC datetime (SQLite hands back text, PostgreSQL an aware value)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _at(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def working_intervals(
    *, user: Any, branch_id: int, staff_id: int, first_day: dt.date, last_day: dt.date
) -> list[Interval]:
    """A master's working time at a branch on the local days ``first_day``..``last_day``, as sorted, merged
    ``[start, end)`` pairs of aware UTC datetimes: patterns minus breaks, days off and vacations removed, extra days
    added with their own hours (an extra day replaces the patterns' hours that day).

    Another tenant's branch is a 404; reading another master's schedule needs the schedule-view right, one's own
    the staffing-self right.
    """
    branch = (
        Branch.objects.select_related("organization")
        .filter(id=branch_id, organization_id__in=organization_ids_for(user))
        .first()
    )
    if branch is None:
        raise NotFound(_("Not found."))
    own = staff_id == getattr(user, "pk", None)
    if own and branch.organization_id in organization_ids_for(user, Perm.STAFFING_SELF):
        organization_access_check(user, branch.organization_id, Perm.STAFFING_SELF)
    else:
        organization_access_check(user, branch.organization_id, Perm.SCHEDULE_VIEW)
    _range_check(first_day, last_day)
    return branch_working_intervals(branch=branch, staff_ids=[staff_id], first_day=first_day, last_day=last_day)[
        staff_id
    ]


def branch_working_intervals(
    *, branch: Branch, staff_ids: Iterable[int], first_day: dt.date, last_day: dt.date
) -> dict[int, list[Interval]]:
    """``working_intervals`` for several masters of an already authorized branch, in two queries (no access check:
    callers check the branch first). Every asked master has an entry, empty when they do not work then."""
    zone = ZoneInfo(branch.effective_time_zone)
    wanted = list(staff_ids)
    patterns: dict[int, list[_PatternRow]] = {staff_id: [] for staff_id in wanted}
    exceptions: dict[int, list[_ExceptionRow]] = {staff_id: [] for staff_id in wanted}
    if wanted:
        day_lo, day_hi = connection.ops.adapt_datefield_value(first_day), connection.ops.adapt_datefield_value(last_day)
        scope = f"organization_id = %s AND branch_id = %s AND staff_id IN ({_marks(wanted)})"
        params = [branch.organization_id, branch.pk, *wanted]
        # Only table names and placeholders are formatted into these statements, never a value.
        sql = (
            "SELECT 0, staff_id, kind, anchor_date, end_date, cycle_on, cycle_off, weekdays, day_start, day_end, "  # noqa: S608
            "breaks "
            f"FROM {_table(WorkPattern)} WHERE {scope} AND anchor_date <= %s AND end_date >= %s "
            "UNION ALL "
            "SELECT 1, staff_id, kind, start_date, end_date, NULL, NULL, NULL, day_start, day_end, breaks "
            f"FROM {_table(ScheduleException)} WHERE {scope} AND start_date <= %s AND end_date >= %s"
        )
        for source, staff, kind, lo, hi, on, off, weekdays, start, end, breaks in _rows(
            sql, [*params, day_hi, day_lo, *params, day_hi, day_lo]
        ):
            if source == 0:
                patterns[staff].append(
                    _PatternRow(
                        staff,
                        kind,
                        _date(lo),
                        _date(hi),
                        on,
                        off,
                        _json(weekdays),
                        _time(start),
                        _time(end),
                        _json(breaks),
                    )
                )
            else:
                exceptions[staff].append(
                    _ExceptionRow(staff, kind, _date(lo), _date(hi), _time(start), _time(end), _json(breaks))
                )
    return {
        staff_id: _staff_intervals(patterns[staff_id], exceptions[staff_id], zone, first_day, last_day)
        for staff_id in wanted
    }


class _PatternRow(NamedTuple):
    """The fields of a work pattern the day-by-day computation reads (plain values, not a model instance)."""

    staff_id: int
    kind: str
    anchor_date: dt.date
    end_date: dt.date
    cycle_on: int | None
    cycle_off: int | None
    weekdays: list[int]
    day_start: dt.time
    day_end: dt.time
    breaks: list[list[str]]


class _ExceptionRow(NamedTuple):
    """The fields of a schedule exception the day-by-day computation reads."""

    staff_id: int
    kind: str
    start_date: dt.date
    end_date: dt.date
    day_start: dt.time | None
    day_end: dt.time | None
    breaks: list[list[str]]


def _staff_intervals(
    patterns: Sequence[_PatternRow],
    exceptions: Sequence[_ExceptionRow],
    zone: ZoneInfo,
    first_day: dt.date,
    last_day: dt.date,
) -> list[Interval]:
    intervals: list[Interval] = []
    day = first_day
    while day <= last_day:
        todays = [e for e in exceptions if e.start_date <= day <= e.end_date]
        extra = [e for e in todays if e.kind == ExceptionKind.EXTRA_DAY]
        ranges: list[LocalRange] = []
        if extra:
            for e in extra:
                assert e.day_start is not None and e.day_end is not None  # the service requires them
                ranges += day_segments(e.day_start, e.day_end, _parse_breaks(e.breaks))
        elif not todays:
            for p in patterns:
                if pattern_works_on(p, day):
                    ranges += day_segments(p.day_start, p.day_end, _parse_breaks(p.breaks))
        for start, end in ranges:
            utc_start, utc_end = _to_utc(day, start, zone), _to_utc(day, end, zone)
            if utc_end > utc_start:
                intervals.append((utc_start, utc_end))
        day += dt.timedelta(days=1)
    return _merge(intervals)


# --- the booking context: who asks, at which branch ------------------------------------------------------------


@dataclass(frozen=True)
class BookingContext:
    """A branch as the caller may book it: as staff of its organization, or as a customer (``public``), who sees
    only what accepts online booking and books within the lead time and the horizon."""

    branch: Branch
    public: bool

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.branch.effective_time_zone)

    @cached_property
    def policy(self) -> BookingPolicy:
        # Read once per context (a request): the branch and its organization are loaded with it.
        return booking_policy(self.branch)

    @property
    def step_minutes(self) -> int:
        return self.policy.slot_step_minutes

    def bounds(self, now: dt.datetime) -> Interval:
        """The earliest and latest start this caller may book: customers after the lead time and within the horizon;
        staff (walk-ins, callers) from now, as far as a schedule reaches."""
        if self.public:
            return now + self.policy.lead_time, now + self.policy.horizon
        return now, now + dt.timedelta(days=MAX_HORIZON_DAYS)


def is_customer(user: Any) -> bool:
    """A customer is an authenticated user without an active membership: they see the public catalog."""
    return bool(getattr(user, "is_authenticated", False)) and not organization_ids_for(user)


def _public_branches() -> QuerySet[Branch]:
    return Branch.objects.filter(
        is_active=True, online_booking=True, organization__is_active=True, organization__online_booking=True
    )


def booking_context(*, user: Any, branch_id: int) -> BookingContext:
    """The branch for booking reads: staff need the catalog right in its organization (404 outside their tenancy);
    a customer reaches only a branch that accepts online booking (any other is a 404)."""
    member_of = organization_ids_for(user)
    if not member_of and getattr(user, "is_authenticated", False):
        branch = next(iter(_public_branches().select_related("organization").filter(pk=branch_id).order_by()), None)
        if branch is None:
            raise NotFound(_("Branch not found."))
        return BookingContext(branch=branch, public=True)
    found = Branch.objects.select_related("organization").filter(
        pk=branch_id, is_active=True, organization_id__in=member_of
    )
    branch = next(iter(found.order_by()), None)
    if branch is None:
        raise NotFound(_("Branch not found."))
    organization_access_check(user, branch.organization_id, Perm.CATALOG_VIEW)
    return BookingContext(branch=branch, public=False)


def _master_ids(branch: Branch) -> QuerySet[Membership]:
    """Active masters of the branch's organization (a membership narrowed to another branch does not count)."""
    return Membership.objects.filter(
        organization_id=branch.organization_id,
        role=Role.MASTER,
        is_active=True,
        user__is_active=True,
    ).filter(Q(branch__isnull=True) | Q(branch_id=branch.pk))


def bookable_services(context: BookingContext) -> QuerySet[Service]:
    """Services offered at the branch (active, not deleted, listed for the branch); online ones for customers."""
    offered = BranchService.objects.filter(branch_id=context.branch.pk, is_active=True)
    services = Service.objects.filter(
        organization_id=context.branch.organization_id, is_active=True, deleted_at__isnull=True
    )
    if context.public:
        offered = offered.filter(online_booking=True)
        services = services.filter(online_booking=True)
    return services.filter(id__in=offered.values("service_id"))


def bookable_staff_services(context: BookingContext, service_ids: Iterable[int]) -> QuerySet[StaffService]:
    """Who performs these services at the branch: active links of active masters (online ones for customers)."""
    links = StaffService.objects.filter(
        organization_id=context.branch.organization_id,
        service_id__in=list(service_ids),
        is_active=True,
        staff_id__in=_master_ids(context.branch).values("user_id"),
    )
    if context.public:
        links = links.filter(online_booking=True)
    return links


class _ServiceRow(NamedTuple):
    """What a visit's step needs of its service (read as plain values, not a model instance)."""

    id: int
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    resource_kind: str
    capacity: int
    is_group: bool


_SERVICE_FIELDS = _ServiceRow._fields
_SERVICE_SELECT = ", ".join(f"s.{name}" for name in _SERVICE_FIELDS)


def visit_specs(context: BookingContext, service_ids: Sequence[int]) -> list[ServiceSpec]:
    """The steps of a visit, in order, with each qualified master's duration: 404 for a service the caller cannot
    book at the branch (unknown, another organization's, archived, not offered or not online), 422 for a group
    service in a visit of several services or a visit of too many."""
    if not 1 <= len(service_ids) <= MAX_VISIT_LINES:
        raise ValidationFailed(
            _("A visit has between 1 and %(n)d services.") % {"n": MAX_VISIT_LINES},
            fields={"service_ids": [_("Choose between 1 and %(n)d services.") % {"n": MAX_VISIT_LINES}]},
        )
    wanted = set(service_ids)
    # One plain query: each qualified master's link (the rules of ``bookable_staff_services``) joined with its
    # service and the branch's offer (those of ``bookable_services``). A service nobody performs is looked up on its
    # own: it still answers, with no slots.
    asked = sorted(wanted)
    org_id, branch_id = context.branch.organization_id, context.branch.pk
    online = (
        " AND ss.online_booking = %s AND s.online_booking = %s AND bs.online_booking = %s" if context.public else ""
    )
    sql = (
        f"SELECT ss.staff_id, ss.duration_minutes, {_SERVICE_SELECT}"  # noqa: S608 (names and placeholders only)
        f" FROM {_table(StaffService)} ss JOIN {_table(Service)} s ON s.id = ss.service_id"
        f" JOIN {_table(BranchService)} bs ON bs.service_id = s.id AND bs.branch_id = %s"
        f" WHERE ss.organization_id = %s AND ss.service_id IN ({_marks(asked)}) AND ss.is_active = %s"
        " AND s.organization_id = %s AND s.is_active = %s AND s.deleted_at IS NULL AND bs.is_active = %s"
        f"{online} AND ss.staff_id IN (SELECT m.user_id FROM {_table(Membership)} m"
        f" JOIN {_table(get_user_model())} u ON u.id = m.user_id WHERE m.organization_id = %s AND m.role = %s"
        " AND m.is_active = %s AND u.is_active = %s AND (m.branch_id IS NULL OR m.branch_id = %s))"
    )
    params: list[Any] = [branch_id, org_id, *asked, True, org_id, True, True]
    params += [True, True, True] if context.public else []
    params += [org_id, Role.MASTER.value, True, True, branch_id]
    services: dict[int, _ServiceRow] = {}
    durations: dict[int, dict[int, dt.timedelta]] = {}
    for staff_id, own_minutes, *row in _rows(sql, params):
        service = services.get(row[0]) or services.setdefault(row[0], _ServiceRow._make([*row[:-1], bool(row[-1])]))
        durations.setdefault(service.id, {})[staff_id] = dt.timedelta(minutes=own_minutes or service.duration_minutes)
    if len(services) != len(wanted):
        missing = bookable_services(context).filter(pk__in=wanted - set(services)).order_by()
        services.update({row[0]: _ServiceRow(*row) for row in missing.values_list(*_SERVICE_FIELDS)})
    if len(services) != len(wanted):
        raise NotFound(_("Service not found."))
    if len(service_ids) > 1 and any(s.is_group for s in services.values()):
        raise ValidationFailed(
            _("A group service is booked on its own."),
            fields={"service_ids": [_("A group service is booked on its own.")]},
        )
    return [
        ServiceSpec(
            service_id=pk,
            durations=durations.get(pk, {}),
            buffer_before=dt.timedelta(minutes=services[pk].buffer_before_minutes),
            buffer_after=dt.timedelta(minutes=services[pk].buffer_after_minutes),
            resource_kinds=(services[pk].resource_kind,) if services[pk].resource_kind else (),
            capacity=services[pk].capacity if services[pk].is_group else 1,
        )
        for pk in service_ids
    ]


# Occupancies are read this far around a window: a buffer reaches at most this far outside its service.
_MARGIN = dt.timedelta(minutes=MAX_BUFFER_MINUTES)


def booking_board(
    *, branch: Branch, specs: Sequence[ServiceSpec], window: Interval, staff_ids: Iterable[int] | None = None
) -> Board:
    """The branch's occupancy over ``window`` for the masters and resources ``specs`` may use, in a fixed number of
    queries: schedules, the masters' active occupancies (at any branch: a master is in one place at a time), the
    resources' occupancies, and the open group sessions of the services."""
    zone = ZoneInfo(branch.effective_time_zone)
    masters = set(staff_ids) if staff_ids is not None else {m for spec in specs for m in spec.durations}
    first_day = window[0].astimezone(zone).date()
    last_day = (window[1] - dt.timedelta(microseconds=1)).astimezone(zone).date()
    board = Board(zone=zone)
    board.working = branch_working_intervals(branch=branch, staff_ids=masters, first_day=first_day, last_day=last_day)
    # From the local midnight of the first day: the fairness rule counts the whole day's booked minutes.
    lo, hi = local_day_bounds(zone, first_day)[0] - _MARGIN, window[1] + _MARGIN
    kinds = {kind for spec in specs for kind in spec.resource_kinds}
    resource_ids: list[int] = []
    if kinds:
        wanted_kinds = sorted(kinds)
        for rid, kind in _rows(
            f"SELECT id, kind FROM {_table(Resource)} WHERE branch_id = %s AND is_active = %s "  # noqa: S608
            f"AND kind IN ({_marks(wanted_kinds)}) ORDER BY id",
            [branch.pk, True, *wanted_kinds],
        ):
            board.resources.setdefault(kind, []).append(rid)
            resource_ids.append(rid)
    busy: dict[int, list[Interval]] = {m: [] for m in masters}
    booked: dict[int, list[Interval]] = {m: [] for m in masters}
    held: dict[int, list[Interval]] = {rid: [] for rid in resource_ids}
    # One query for the masters' and the resources' held time, with the service range each holding belongs to.
    holders = [f"o.staff_id IN ({_marks(list(masters))})"] if masters else []
    if resource_ids:
        holders.append(f"o.resource_id IN ({_marks(resource_ids)})")
    rows = (
        _rows(
            "SELECT o.staff_id, o.resource_id, o.starts_at, o.ends_at, l.starts_at, l.ends_at, g.starts_at, g.ends_at "  # noqa: S608
            f"FROM {_table(Occupancy)} o LEFT JOIN {_table(AppointmentLine)} l ON l.id = o.line_id "
            f"LEFT JOIN {_table(GroupSession)} g ON g.id = o.group_session_id "
            f"WHERE ({' OR '.join(holders)}) AND o.is_active = %s AND o.starts_at < %s AND o.ends_at > %s",
            [*masters, *resource_ids, True, _at(hi), _at(lo)],
        )
        if holders
        else []
    )
    for staff_id, rid, *moments in rows:
        start, end, line_start, line_end, session_start, session_end = map(_moment, moments)
        if rid in held:
            held[rid].append((start, end))
        if staff_id not in busy:
            continue
        busy[staff_id].append((start, end))
        service_range = (line_start, line_end) if line_start is not None else (session_start, session_end)
        if service_range[0] is not None:
            booked[staff_id].append(service_range)
    board.staff_busy = {m: intervals_merge(ranges) for m, ranges in busy.items()}
    board.booked = booked
    board.resource_busy = {rid: intervals_merge(ranges) for rid, ranges in held.items()}
    group_ids = [spec.service_id for spec in specs if spec.capacity > 1]
    if group_ids:
        for session in GroupSession.objects.filter(
            branch_id=branch.pk,
            service_id__in=group_ids,
            status=GroupSessionStatus.SCHEDULED,
            starts_at__gte=window[0],
            starts_at__lt=window[1],
        ).only("service_id", "staff_id", "starts_at", "capacity", "seats_taken", "resource_id"):
            board.sessions[(session.service_id, session.staff_id, session.starts_at)] = Session(
                seats_left=session.capacity - session.seats_taken,
                resource_ids=(session.resource_id,) if session.resource_id else (),
            )
    return board


def _days_check(first_day: dt.date, last_day: dt.date, today: dt.date) -> None:
    fields: dict[str, list[str]] = {}
    if first_day < today:
        fields["date"] = [_("The date is in the past.")]
    if last_day < first_day:
        fields["date_to"] = [_("The end date is before the start.")]
    elif (last_day - first_day).days >= MAX_SEARCH_DAYS:
        fields["date_to"] = [_("Search at most %(n)d days at once.") % {"n": MAX_SEARCH_DAYS}]
    if fields:
        code = BookingErrorCode.HORIZON_TOO_LONG if "date_to" in fields and "date" not in fields else None
        raise ValidationFailed(
            _("Some fields are invalid."), code=code or BookingErrorCode.INVALID_DATES, fields=fields
        )


@dataclass(frozen=True)
class SlotSearch:
    """The answer of a slot search: the branch's zone (slots are shown in it) and the slots, earliest first."""

    context: BookingContext
    slots: list[Slot]


def slot_search(
    *,
    user: Any,
    branch_id: int,
    service_ids: Sequence[int],
    first_day: dt.date,
    last_day: dt.date | None = None,
    staff_id: int | None = None,
    now: dt.datetime | None = None,
) -> SlotSearch:
    """Free visits of ``service_ids`` (in sequence) at a branch on the local days ``first_day``..``last_day``, with
    ``staff_id`` or any master (chosen fairly, see ``services.availability``). 404 for a branch, service or master the
    caller cannot book; 422 for a day in the past (in the branch's zone) or a range over the search bound."""
    context = booking_context(user=user, branch_id=branch_id)
    now = now or timezone.now()
    last_day = last_day or first_day
    _days_check(first_day, last_day, now.astimezone(context.zone).date())
    specs = visit_specs(context, service_ids)
    if staff_id is not None and any(staff_id not in spec.durations for spec in specs):
        raise NotFound(_("Master not found."))
    window = (local_day_bounds(context.zone, first_day)[0], local_day_bounds(context.zone, last_day)[1])
    board = booking_board(
        branch=context.branch, specs=specs, window=window, staff_ids=None if staff_id is None else [staff_id]
    )
    not_before, not_after = context.bounds(now)
    slots = visit_slots(
        board=board,
        specs=specs,
        staff_id=staff_id,
        window=window,
        step_minutes=context.step_minutes,
        not_before=not_before,
        not_after=not_after,
    )
    return SlotSearch(context=context, slots=slots)


#: ``next_free_slots`` looks this many days ahead of the refused start.
NEXT_FREE_DAYS = 14


def next_free_slots(
    *,
    branch_id: int,
    service_ids: Sequence[int],
    after: dt.datetime,
    staff_id: int | None = None,
    public: bool = False,
    limit: int = 3,
    now: dt.datetime | None = None,
) -> list[Slot]:
    """The first ``limit`` free visits starting at or after ``after`` (within ``NEXT_FREE_DAYS``), with ``staff_id`` or
    any master, for a 409 ``slot_taken`` to offer. No access check: the caller has authorized the booking already;
    ``public`` applies a customer's switches, lead time and horizon. Unknown services or masters give no slots."""
    branch = Branch.objects.select_related("organization").filter(pk=branch_id).first()
    if branch is None:
        return []
    context = BookingContext(branch=branch, public=public)
    try:
        specs = visit_specs(context, service_ids)
    except (NotFound, ValidationFailed):
        return []
    if staff_id is not None and any(staff_id not in spec.durations for spec in specs):
        return []
    not_before, not_after = context.bounds(now or timezone.now())
    start = max(after, not_before)
    found: list[Slot] = []
    # Near first: most refused starts have a free one the same day, and a board of one day is cheap to load.
    for days_from, days_to in ((0, 1), (1, 4), (4, NEXT_FREE_DAYS)):
        window = (start + dt.timedelta(days=days_from), start + dt.timedelta(days=days_to))
        board = booking_board(
            branch=branch, specs=specs, window=window, staff_ids=None if staff_id is None else [staff_id]
        )
        found += visit_slots(
            board=board,
            specs=specs,
            staff_id=staff_id,
            window=window,
            step_minutes=context.step_minutes,
            not_before=not_before,
            not_after=not_after,
            limit=limit - len(found),
        )
        if len(found) >= limit:
            break
    return found


def visit_plan(
    *,
    branch_id: int,
    service_ids: Sequence[int],
    start: dt.datetime,
    staff_id: int | None = None,
    public: bool = False,
    now: dt.datetime | None = None,
) -> Slot | None:
    """The visit that would be booked from exactly ``start``: each step's master (fairly chosen when ``staff_id`` is
    None), times and resources, laid out as the slot search lays them out; None when it does not fit. The booking
    service may use it to build the lines it then inserts (the database still has the last word)."""
    branch = Branch.objects.select_related("organization").filter(pk=branch_id).first()
    if branch is None:
        return None
    context = BookingContext(branch=branch, public=public)
    try:
        specs = visit_specs(context, service_ids)
    except (NotFound, ValidationFailed):
        return None
    not_before, not_after = context.bounds(now or timezone.now())
    if not not_before <= start <= not_after:
        return None
    window = (start - dt.timedelta(days=1), start + dt.timedelta(days=2))
    board = booking_board(branch=branch, specs=specs, window=window, staff_ids=None if staff_id is None else [staff_id])
    return visit_fit(board=board, specs=specs, staff_id=staff_id, start=start)


# --- the journal: a branch's days, masters side by side -----------------------------------------------------------

JOURNAL_DAYS = (1, 7)
MAX_JOURNAL_STAFF = 50


def journal_branch(*, user: Any, branch_id: int) -> Branch:
    """The branch whose journal the caller may read: 404 outside their tenancy, 403 without the schedule-view right
    (the journal shows every master's day and their clients)."""
    branch = (
        Branch.objects.select_related("organization")
        .filter(pk=branch_id, organization_id__in=organization_ids_for(user))
        .first()
    )
    if branch is None:
        raise NotFound(_("Branch not found."))
    organization_access_check(user, branch.organization_id, Perm.SCHEDULE_VIEW)
    return branch


@dataclass(frozen=True)
class JournalColumn:
    """One master's column: their working time and their appointment lines (and group sessions) in the range."""

    staff: Any
    working: list[Interval]
    lines: list[AppointmentLine]
    sessions: list[GroupSession]


@dataclass(frozen=True)
class Journal:
    branch: Branch
    days: list[dt.date]
    columns: list[JournalColumn]


def journal_read(
    *,
    user: Any,
    branch_id: int,
    first_day: dt.date,
    days: int = 1,
    staff_ids: Sequence[int] = (),
    include_cancelled: bool = False,
) -> Journal:
    """A branch's journal for ``days`` (1 or 7) local days from ``first_day``: the chosen masters (every master of the
    branch when none is chosen) side by side, in the order asked. A master who is not one of the branch's is a 404."""
    branch = journal_branch(user=user, branch_id=branch_id)
    if days not in JOURNAL_DAYS:
        raise ValidationFailed(_("Some fields are invalid."), fields={"days": [_("Show 1 or 7 days.")]})
    if not MIN_YEAR <= first_day.year <= MAX_YEAR:
        raise ValidationFailed(
            _("Some fields are invalid."),
            code=BookingErrorCode.INVALID_DATES,
            fields={"date": [_("Enter a date between %(min)d and %(max)d.") % {"min": MIN_YEAR, "max": MAX_YEAR}]},
        )
    if len(staff_ids) > MAX_JOURNAL_STAFF:
        raise ValidationFailed(
            _("Some fields are invalid."),
            fields={"staff_ids": [_("Choose at most %(n)d masters.") % {"n": MAX_JOURNAL_STAFF}]},
        )
    masters = {
        m.user_id: m.user for m in _master_ids(branch).select_related("user").order_by("user__first_name", "user_id")
    }
    wanted = list(dict.fromkeys(staff_ids)) if staff_ids else list(masters)
    if any(staff_id not in masters for staff_id in wanted):
        raise NotFound(_("Master not found."))
    zone = ZoneInfo(branch.effective_time_zone)
    last_day = first_day + dt.timedelta(days=days - 1)
    window = (local_day_bounds(zone, first_day)[0], local_day_bounds(zone, last_day)[1])
    working = branch_working_intervals(branch=branch, staff_ids=wanted, first_day=first_day, last_day=last_day)
    lines = AppointmentLine.objects.filter(
        appointment__branch_id=branch.pk,
        staff_id__in=wanted,
        starts_at__lt=window[1],
        ends_at__gt=window[0],
        appointment__group_session__isnull=True,
    ).select_related("appointment", "appointment__client", "service", "resource")
    sessions = GroupSession.objects.filter(
        branch_id=branch.pk, staff_id__in=wanted, starts_at__lt=window[1], ends_at__gt=window[0]
    ).select_related("service", "resource")
    if not include_cancelled:
        lines = lines.filter(appointment__status__in=ACTIVE_STATUSES)
        sessions = sessions.filter(status=GroupSessionStatus.SCHEDULED)
    by_staff: dict[int, list[AppointmentLine]] = {m: [] for m in wanted}
    for line in lines.order_by("starts_at", "id"):
        by_staff[line.staff_id].append(line)
    sessions_by_staff: dict[int, list[GroupSession]] = {m: [] for m in wanted}
    for session in sessions.order_by("starts_at", "id"):
        sessions_by_staff[session.staff_id].append(session)
    return Journal(
        branch=branch,
        days=[first_day + dt.timedelta(days=i) for i in range(days)],
        columns=[
            JournalColumn(staff=masters[m], working=working[m], lines=by_staff[m], sessions=sessions_by_staff[m])
            for m in wanted
        ],
    )


# --- the catalog as a caller books it: staff see their own, customers the public one ---------------------------


def catalog_branches(*, user: Any, organization_id: int | None = None) -> QuerySet[Branch]:
    """Branches for the catalog: staff get their organizations' active branches (404/403 for a named organization
    outside them); a customer gets the branches that accept online booking (of ``organization_id`` when named)."""
    if not is_customer(user):
        return branch_list(user=user, organization_id=organization_id)
    branches = _public_branches()
    if organization_id is not None:
        branches = branches.filter(organization_id=organization_id)
    return branches.select_related("organization").order_by("organization_id", "name", "id")


def catalog_services(*, user: Any, branch_id: int) -> QuerySet[Service]:
    """Services for the catalog: staff see their organization's active services as before; a customer sees those
    bookable online at a public branch (any other branch is a 404)."""
    if not is_customer(user):
        return service_list_for_branch(user=user, branch_id=branch_id)
    context = booking_context(user=user, branch_id=branch_id)
    return (
        bookable_services(context)
        .select_related("group", "organization")
        .order_by("group__sort_order", "group__name", "name", "id")
    )


def catalog_masters(*, user: Any, branch_id: int, service_id: int) -> list[StaffService]:
    """The masters who perform a service at a branch, with their own price and duration (online ones for a
    customer): 404 for a branch or service the caller cannot book."""
    context = booking_context(user=user, branch_id=branch_id)
    if not bookable_services(context).filter(pk=service_id).exists():
        raise NotFound(_("Service not found."))
    return list(
        bookable_staff_services(context, [service_id])
        .select_related("staff", "service__organization")
        .order_by("staff__first_name", "staff__last_name", "staff_id")
    )
