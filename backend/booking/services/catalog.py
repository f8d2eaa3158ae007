"""The booking side of the catalog: a branch's booking policy, how a visit's services line up in time, and the writes
that set both up (what a branch offers, how a service is booked, the online switches, the policy).

The reads are shared rules: the appointment services book by them and the availability search offers slots by them,
so a slot it offers is a slot the booking accepts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from backend.booking.exceptions import BookingErrorCode
from backend.catalog.models import (
    MAX_BUFFER_MINUTES,
    MAX_GROUP_CAPACITY,
    BranchService,
    ResourceKind,
    Service,
    StaffService,
)
from backend.core.events import event_record, snapshot
from backend.core.exceptions import ValidationFailed
from backend.core.models import EventAction
from backend.organizations.models import (
    MAX_CANCEL_CUTOFF_MINUTES,
    MAX_LEAD_TIME_MINUTES,
    SLOT_STEP_CHOICES,
    Branch,
    Organization,
)
from backend.organizations.models import MAX_HORIZON_DAYS as MAX_POLICY_HORIZON_DAYS
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, tenant_row_for_change


@dataclass(frozen=True)
class BookingPolicy:
    """A branch's effective booking rules (the branch's overrides, else its organization's; defaults in
    ``backend.organizations.models``: step 15 min, lead time 60 min, horizon 60 days, cutoff 120 min, reminders
    24 h and 2 h before).

    ``online`` is the organization's and the branch's switch together; the service's, the branch offer's and the
    master's switches are checked per booking.
    """

    slot_step_minutes: int
    lead_time_minutes: int
    horizon_days: int
    cancel_cutoff_minutes: int
    reminder_offsets_minutes: tuple[int, ...]
    online: bool
    time_zone: str

    @property
    def slot_step(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.slot_step_minutes)

    @property
    def lead_time(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.lead_time_minutes)

    @property
    def horizon(self) -> dt.timedelta:
        return dt.timedelta(days=self.horizon_days)

    @property
    def cancel_cutoff(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.cancel_cutoff_minutes)


def booking_policy(branch: Branch) -> BookingPolicy:
    """The effective booking policy of ``branch`` (its organization must be loaded or loadable)."""
    org = branch.organization
    offsets = org.booking_reminder_offsets_minutes or []
    return BookingPolicy(
        slot_step_minutes=branch.booking_slot_step_minutes or org.booking_slot_step_minutes,
        lead_time_minutes=(
            branch.booking_lead_time_minutes
            if branch.booking_lead_time_minutes is not None
            else org.booking_lead_time_minutes
        ),
        horizon_days=branch.booking_horizon_days or org.booking_horizon_days,
        cancel_cutoff_minutes=org.booking_cancel_cutoff_minutes,
        reminder_offsets_minutes=tuple(sorted({int(m) for m in offsets}, reverse=True)),
        online=bool(org.online_booking and org.is_active and branch.online_booking and branch.is_active),
        time_zone=branch.effective_time_zone,
    )


@dataclass(frozen=True)
class LineTiming:
    """Where one service of a visit lies: the service itself and the interval it holds (with its buffers)."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    occupied_from: dt.datetime
    occupied_until: dt.datetime


@dataclass(frozen=True)
class LineShape:
    """What a line's timing depends on: its duration and buffers, in minutes."""

    duration_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0


def visit_line_timings(start: dt.datetime, shapes: Sequence[LineShape]) -> list[LineTiming]:
    """The timings of a visit's services in sequence, the first one starting at ``start``.

    Each line holds ``[start - buffer_before, end + buffer_after)``; the next line starts when the previous one's
    held time ends plus its own buffer before, so the held intervals of one visit touch and never overlap (the
    database would refuse an overlap even within one visit when one master does two lines).
    """
    timings: list[LineTiming] = []
    cursor = start
    for index, shape in enumerate(shapes):
        before = dt.timedelta(minutes=shape.buffer_before_minutes)
        after = dt.timedelta(minutes=shape.buffer_after_minutes)
        starts_at = cursor if index == 0 else cursor + before
        ends_at = starts_at + dt.timedelta(minutes=shape.duration_minutes)
        timings.append(LineTiming(starts_at, ends_at, starts_at - before, ends_at + after))
        cursor = ends_at + after
    return timings


# --- writes: what a branch offers, how a service is booked, the organization's and branch's policy -----------------


class _Keep:
    """The "leave it as it is" value of an optional argument that may also be set to None (a branch override)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()

SERVICE_BOOKING_FIELDS = (
    "online_booking",
    "is_group",
    "capacity",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "resource_kind",
)
BRANCH_SERVICE_FIELDS = ("branch", "service", "is_active", "online_booking")
ORGANIZATION_POLICY_FIELDS = (
    "online_booking",
    "booking_slot_step_minutes",
    "booking_lead_time_minutes",
    "booking_horizon_days",
    "booking_cancel_cutoff_minutes",
    "booking_reminder_offsets_minutes",
)
BRANCH_POLICY_FIELDS = (
    "online_booking",
    "booking_slot_step_minutes",
    "booking_lead_time_minutes",
    "booking_horizon_days",
)
#: At most this many reminders per appointment, each at most this many minutes before it.
MAX_REMINDERS = 5
MAX_REMINDER_OFFSET_MINUTES = 30 * 24 * 60


class _Errors:
    def __init__(self, code: BookingErrorCode) -> None:
        self.code = code
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def whole(self, field: str, value: Any, low: int, high: int) -> int | None:
        """``value`` as an int in ``low..high`` (booleans are not numbers), or None with the field's error noted."""
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.add(field, _("Enter a whole number between %(low)d and %(high)d.") % {"low": low, "high": high})
            return None
        return value

    def raise_any(self) -> None:
        if self.fields:
            raise ValidationFailed(_("Some fields are invalid."), code=self.code, fields=self.fields)


def _event_update(entity: Any, *, user: Any, before: dict[str, Any], fields: Sequence[str], **kw: Any) -> None:
    after = snapshot(entity, fields)
    if after != before:
        event_record(entity=entity, action=EventAction.UPDATE, actor=user, before=before, after=after, **kw)


@transaction.atomic
def service_booking_update(
    *,
    user: Any,
    service_id: int,
    online_booking: bool | None = None,
    is_group: bool | None = None,
    capacity: int | None = None,
    buffer_before_minutes: int | None = None,
    buffer_after_minutes: int | None = None,
    resource_kind: str | None = None,
) -> Service:
    """Set how a service is booked: online or not, a group class with its capacity, the buffers before and after,
    the kind of resource it needs ("" for none). Arguments left None stay as they are; one event for the change."""
    service = tenant_row_for_change(
        Service, service_id, user=user, perm=Perm.CATALOG_CHANGE, visible=Q(deleted_at__isnull=True)
    )
    errors = _Errors(BookingErrorCode.INVALID_CATALOG)
    values: dict[str, Any] = {}
    if online_booking is not None:
        values["online_booking"] = bool(online_booking)
    if is_group is not None:
        values["is_group"] = bool(is_group)
    if capacity is not None:
        values["capacity"] = errors.whole("capacity", capacity, 1, MAX_GROUP_CAPACITY)
    for name, value in (
        ("buffer_before_minutes", buffer_before_minutes),
        ("buffer_after_minutes", buffer_after_minutes),
    ):
        if value is not None:
            values[name] = errors.whole(name, value, 0, MAX_BUFFER_MINUTES)
    if resource_kind is not None:
        if resource_kind not in {"", *ResourceKind.values}:
            errors.add("resource_kind", _("Unknown resource kind."))
        values["resource_kind"] = resource_kind
    group = values.get("is_group", service.is_group)
    if group and values.get("capacity", service.capacity) < 2 and "capacity" not in errors.fields:
        errors.add("capacity", _("A group service has at least 2 places."))
    errors.raise_any()
    before = snapshot(service, SERVICE_BOOKING_FIELDS)
    for name, value in values.items():
        setattr(service, name, value)
    service.save(update_fields=[*values, "updated_at"])
    _event_update(service, user=user, before=before, fields=SERVICE_BOOKING_FIELDS)
    return service


@transaction.atomic
def branch_service_set(
    *, user: Any, branch_id: int, service_id: int, offered: bool = True, online_booking: bool = True
) -> BranchService:
    """Offer (or stop offering) a service at a branch, bookable online or by staff only. 404 for a branch outside
    the caller's tenancy, 422 ``invalid_reference`` for a service that is not an active one of its organization."""
    branch = tenant_row_for_change(Branch, branch_id, user=user, perm=Perm.CATALOG_CHANGE)
    if not Service.objects.filter(
        pk=service_id, organization_id=branch.organization_id, deleted_at__isnull=True
    ).exists():
        raise ValidationFailed(
            _("Unknown service."),
            code=BookingErrorCode.INVALID_REFERENCE,
            fields={"service_id": [_("Not a service of this organization.")]},
        )
    offer = BranchService.objects.select_for_update().filter(branch_id=branch.pk, service_id=service_id).first()
    if offer is None:
        offer = BranchService(organization_id=branch.organization_id, branch_id=branch.pk, service_id=service_id)
        offer.is_active, offer.online_booking = bool(offered), bool(online_booking)
        try:
            with transaction.atomic():
                offer.save()
        except IntegrityError:
            # A concurrent first offer of the same pair: change that one instead.
            return branch_service_set(
                user=user, branch_id=branch_id, service_id=service_id, offered=offered, online_booking=online_booking
            )
        event_record(entity=offer, action=EventAction.CREATE, actor=user, after=snapshot(offer, BRANCH_SERVICE_FIELDS))
        return offer
    before = snapshot(offer, BRANCH_SERVICE_FIELDS)
    offer.is_active, offer.online_booking = bool(offered), bool(online_booking)
    offer.save(update_fields=["is_active", "online_booking", "updated_at"])
    _event_update(offer, user=user, before=before, fields=BRANCH_SERVICE_FIELDS)
    return offer


@transaction.atomic
def staff_service_online_set(*, user: Any, staff_service_id: int, online_booking: bool) -> StaffService:
    """Let customers book this master for this service themselves, or only staff for them."""
    link = tenant_row_for_change(StaffService, staff_service_id, user=user, perm=Perm.CATALOG_CHANGE)
    before = snapshot(link, ("online_booking",))
    link.online_booking = bool(online_booking)
    link.save(update_fields=["online_booking", "updated_at"])
    _event_update(link, user=user, before=before, fields=("online_booking",))
    return link


def _step_check(errors: _Errors, value: Any) -> int | None:
    if value not in SLOT_STEP_CHOICES or isinstance(value, bool):
        errors.add(
            "slot_step_minutes",
            _("Choose one of %(choices)s minutes.") % {"choices": ", ".join(map(str, SLOT_STEP_CHOICES))},
        )
        return None
    return int(value)


def _offsets_check(errors: _Errors, value: Any) -> list[int] | None:
    if not isinstance(value, list | tuple) or len(value) > MAX_REMINDERS:
        errors.add("reminder_offsets_minutes", _("Give at most %(n)d reminders.") % {"n": MAX_REMINDERS})
        return None
    offsets = [errors.whole("reminder_offsets_minutes", v, 1, MAX_REMINDER_OFFSET_MINUTES) for v in value]
    if any(v is None for v in offsets):
        return None
    return sorted({int(v) for v in offsets if v is not None}, reverse=True)


@transaction.atomic
def booking_policy_update(
    *,
    user: Any,
    organization_id: int,
    online_booking: bool | None = None,
    slot_step_minutes: int | None = None,
    lead_time_minutes: int | None = None,
    horizon_days: int | None = None,
    cancel_cutoff_minutes: int | None = None,
    reminder_offsets_minutes: Sequence[int] | None = None,
) -> Organization:
    """Set the organization's booking policy (owners): whether customers book it online, the slot step, the lead
    time, the horizon, the cancel / reschedule cutoff and the reminder offsets (minutes before, e.g. [1440, 120]).
    Arguments left None stay as they are; 422 ``invalid_policy`` with every bad field; one event."""
    organization = _organization_for_change(user, organization_id)
    errors = _Errors(BookingErrorCode.INVALID_POLICY)
    values: dict[str, Any] = {}
    if online_booking is not None:
        values["online_booking"] = bool(online_booking)
    if slot_step_minutes is not None:
        values["booking_slot_step_minutes"] = _step_check(errors, slot_step_minutes)
    if lead_time_minutes is not None:
        values["booking_lead_time_minutes"] = errors.whole(
            "lead_time_minutes", lead_time_minutes, 0, MAX_LEAD_TIME_MINUTES
        )
    if horizon_days is not None:
        values["booking_horizon_days"] = errors.whole("horizon_days", horizon_days, 1, MAX_POLICY_HORIZON_DAYS)
    if cancel_cutoff_minutes is not None:
        values["booking_cancel_cutoff_minutes"] = errors.whole(
            "cancel_cutoff_minutes", cancel_cutoff_minutes, 0, MAX_CANCEL_CUTOFF_MINUTES
        )
    if reminder_offsets_minutes is not None:
        values["booking_reminder_offsets_minutes"] = _offsets_check(errors, reminder_offsets_minutes)
    errors.raise_any()
    before = snapshot(organization, ORGANIZATION_POLICY_FIELDS)
    for name, value in values.items():
        setattr(organization, name, value)
    organization.save(update_fields=[*values, "updated_at"])
    _event_update(
        organization, user=user, before=before, fields=ORGANIZATION_POLICY_FIELDS, organization_id=organization.pk
    )
    return organization


def _organization_for_change(user: Any, organization_id: int) -> Organization:
    organization_access_check(user, organization_id, Perm.ORG_MANAGE)
    return Organization.objects.select_for_update().get(pk=organization_id)


@transaction.atomic
def branch_booking_update(
    *,
    user: Any,
    branch_id: int,
    online_booking: bool | None = None,
    slot_step_minutes: Any = KEEP,
    lead_time_minutes: Any = KEEP,
    horizon_days: Any = KEEP,
) -> Branch:
    """Set a branch's booking switch and its overrides of the organization's slot step, lead time and horizon
    (None: back to the organization's; ``KEEP``, the default: as it is). Owners; 422 ``invalid_policy``; one event."""
    branch = tenant_row_for_change(Branch, branch_id, user=user, perm=Perm.ORG_MANAGE)
    errors = _Errors(BookingErrorCode.INVALID_POLICY)
    values: dict[str, Any] = {}
    if online_booking is not None:
        values["online_booking"] = bool(online_booking)
    if slot_step_minutes is not KEEP:
        values["booking_slot_step_minutes"] = (
            None if slot_step_minutes is None else _step_check(errors, slot_step_minutes)
        )
    if lead_time_minutes is not KEEP:
        values["booking_lead_time_minutes"] = (
            None
            if lead_time_minutes is None
            else errors.whole("lead_time_minutes", lead_time_minutes, 0, MAX_LEAD_TIME_MINUTES)
        )
    if horizon_days is not KEEP:
        values["booking_horizon_days"] = (
            None if horizon_days is None else errors.whole("horizon_days", horizon_days, 1, MAX_POLICY_HORIZON_DAYS)
        )
    errors.raise_any()
    before = snapshot(branch, BRANCH_POLICY_FIELDS)
    for name, value in values.items():
        setattr(branch, name, value)
    branch.save(update_fields=[*values, "updated_at"])
    _event_update(branch, user=user, before=before, fields=BRANCH_POLICY_FIELDS)
    return branch
