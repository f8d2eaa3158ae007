"""An organization's settings for its messages to clients: reminder offsets, confirmation and rating requests, the
waiting list's hold, birthday greetings. Written by owners and managers (``Perm.COMMS_SETTINGS``)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from backend.booking.exceptions_comms import BookingCommsErrorCode
from backend.booking.models_comms import (
    MAX_BIRTHDAY_DAYS_AHEAD,
    MAX_GREETING_LENGTH,
    MAX_HOLD_MINUTES,
    MAX_REVIEW_DELAY_MINUTES,
    CommsSettings,
)
from backend.core.events import event_record, snapshot
from backend.core.exceptions import ValidationFailed
from backend.core.models import EventAction
from backend.organizations.models import Organization
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check

#: At most this many reminders per visit, each 5 minutes to 30 days before it.
MAX_REMINDERS = 5
MIN_OFFSET_MINUTES, MAX_OFFSET_MINUTES = 5, 30 * 24 * 60
SETTINGS_FIELDS = (
    "confirmation_requests",
    "review_requests",
    "review_request_delay_minutes",
    "waitlist_hold_minutes",
    "birthday_greetings",
    "birthday_days_ahead",
    "birthday_text",
)
_BOUNDS = {
    "review_request_delay_minutes": (0, MAX_REVIEW_DELAY_MINUTES),
    "waitlist_hold_minutes": (1, MAX_HOLD_MINUTES),
    "birthday_days_ahead": (0, MAX_BIRTHDAY_DAYS_AHEAD),
}


def comms_settings_get(*, user: Any, organization_id: int) -> tuple[CommsSettings, list[int]]:
    """The organization's messaging settings and reminder offsets (minutes before, largest first)."""
    organization_access_check(user, organization_id, Perm.ORG_VIEW)
    row = CommsSettings.objects.filter(organization_id=organization_id).first()
    offsets = Organization.objects.values_list("booking_reminder_offsets_minutes", flat=True).get(pk=organization_id)
    return row or CommsSettings(organization_id=organization_id), sorted(offsets or [], reverse=True)


def _check(changes: dict[str, Any], offsets: list[int] | None) -> None:
    errors: dict[str, list[str]] = {}
    for name, (low, high) in _BOUNDS.items():
        value = changes.get(name)
        if value is not None and not (isinstance(value, int) and low <= value <= high):
            errors[name] = [_("Enter a number from %(low)d to %(high)d.") % {"low": low, "high": high}]
    text = changes.get("birthday_text")
    if text is not None and len(text) > MAX_GREETING_LENGTH:
        errors["birthday_text"] = [_("At most %(n)d characters.") % {"n": MAX_GREETING_LENGTH}]
    if offsets is not None:
        if len(offsets) > MAX_REMINDERS or len(set(offsets)) != len(offsets):
            errors["reminder_offsets_minutes"] = [_("At most %(n)d different reminders.") % {"n": MAX_REMINDERS}]
        elif any(not isinstance(m, int) or not MIN_OFFSET_MINUTES <= m <= MAX_OFFSET_MINUTES for m in offsets):
            errors["reminder_offsets_minutes"] = [
                _("Each reminder goes %(low)d minutes to %(days)d days before the visit.")
                % {"low": MIN_OFFSET_MINUTES, "days": MAX_OFFSET_MINUTES // (24 * 60)}
            ]
    if errors:
        raise ValidationFailed(
            _("Some fields are invalid."), code=BookingCommsErrorCode.INVALID_SETTINGS, fields=errors
        )


@transaction.atomic
def comms_settings_update(
    *, user: Any, organization_id: int, reminder_offsets_minutes: list[int] | None = None, **changes: Any
) -> tuple[CommsSettings, list[int]]:
    """Change the fields given (``SETTINGS_FIELDS`` and the reminder offsets); each change is in the event log.

    New offsets apply to visits booked or moved from now on; reminders already scheduled keep their moments.
    """
    organization_access_check(user, organization_id, Perm.COMMS_SETTINGS)
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationFailed(
            _("Unknown settings."),
            code=BookingCommsErrorCode.INVALID_SETTINGS,
            fields={name: [_("Unknown field.")] for name in sorted(unknown)},
        )
    changes = {k: v for k, v in changes.items() if v is not None}
    _check(changes, reminder_offsets_minutes)
    organization = Organization.objects.select_for_update().get(pk=organization_id)
    row, _created = CommsSettings.objects.select_for_update().get_or_create(organization=organization)
    before = snapshot(row, SETTINGS_FIELDS)
    for name, value in changes.items():
        setattr(row, name, value)
    row.save()
    event_record(entity=row, action=EventAction.UPDATE, actor=user, before=before, after=snapshot(row, SETTINGS_FIELDS))
    if reminder_offsets_minutes is not None:
        offsets = sorted(reminder_offsets_minutes, reverse=True)
        old = {"booking_reminder_offsets_minutes": organization.booking_reminder_offsets_minutes}
        organization.booking_reminder_offsets_minutes = offsets
        organization.save(update_fields=["booking_reminder_offsets_minutes", "updated_at"])
        event_record(
            entity=organization,
            action=EventAction.UPDATE,
            actor=user,
            before=old,
            after={"booking_reminder_offsets_minutes": offsets},
        )
    return row, sorted(organization.booking_reminder_offsets_minutes or [], reverse=True)
