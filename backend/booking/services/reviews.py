"""Reviews: the client's 1-10 score of a done visit (and a comment), one per appointment.

The rating request goes out after the visit (``reminders.review_request_schedule``); the answer arrives through the
API (the customer, or staff typing in what the client said on the phone) and becomes a ``Review``. The database
keeps the rules: a score between 1 and 10 (a check constraint) and one review per appointment (one-to-one).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.booking.exceptions_comms import BookingCommsErrorCode
from backend.booking.models import Appointment, AppointmentStatus
from backend.booking.models_comms import (
    MAX_REVIEW_COMMENT_LENGTH,
    MAX_SCORE,
    MIN_SCORE,
    AppointmentMessage,
    AppointmentMessageKind,
    AppointmentMessageStatus,
    Review,
)
from backend.core.clock import clock_now
from backend.core.events import event_record, snapshot
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for

from .messaging import customer_owns

REVIEW_FIELDS = ("appointment", "client", "staff", "score", "comment")


def appointment_for_client_action(*, user: Any, appointment_id: int, staff_perm: Perm) -> Appointment:
    """Lock and return an appointment the caller may act on as its client, or as staff holding ``staff_perm``.

    Anyone else gets a 404 (its existence is not confirmed); staff of the organization without the right, a 403.
    """
    appointment = (
        Appointment.objects.select_for_update()
        .select_related("client", "organization", "branch")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None:
        raise NotFound(_("Not found."))
    if appointment.organization_id in organization_ids_for(user):
        organization_access_check(user, appointment.organization_id, staff_perm)
        return appointment
    if customer_owns(user=user, customer_id=appointment.customer_id, client=appointment.client):
        return appointment
    raise NotFound(_("Not found."))


def review_fields_check(*, score: Any, comment: str | None) -> str:
    """A review's score (``MIN_SCORE``..``MAX_SCORE``) and comment (at most ``MAX_REVIEW_COMMENT_LENGTH`` once
    stripped): the comment to store, or 422 ``invalid_score`` naming the fields. The one rule for a live review and
    a past one (``booking.services.history.reviews_record_past``)."""
    errors: dict[str, list[str]] = {}
    if not isinstance(score, int) or not MIN_SCORE <= score <= MAX_SCORE:
        errors["score"] = [_("Give a score from %(min)d to %(max)d.") % {"min": MIN_SCORE, "max": MAX_SCORE}]
    comment = (comment or "").strip()
    if len(comment) > MAX_REVIEW_COMMENT_LENGTH:
        errors["comment"] = [_("At most %(n)d characters.") % {"n": MAX_REVIEW_COMMENT_LENGTH}]
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), code=BookingCommsErrorCode.INVALID_SCORE, fields=errors)
    return comment


@transaction.atomic
def review_submit(*, user: Any, appointment_id: int, score: int, comment: str = "") -> Review:
    """Record the client's score (1-10) and comment for a done visit; 409 if it is not done or already reviewed."""
    appointment = appointment_for_client_action(
        user=user, appointment_id=appointment_id, staff_perm=Perm.BOOKING_MANAGE
    )
    comment = review_fields_check(score=score, comment=comment)
    if appointment.status != AppointmentStatus.DONE:
        raise Conflict(_("Only a finished visit can be rated."), code=BookingCommsErrorCode.NOT_REVIEWABLE)
    if Review.objects.filter(appointment=appointment).exists():
        raise Conflict(_("This visit has already been rated."), code=BookingCommsErrorCode.ALREADY_REVIEWED)
    try:
        with transaction.atomic():
            review = Review.objects.create(
                organization_id=appointment.organization_id,
                branch_id=appointment.branch_id,
                appointment=appointment,
                client_id=appointment.client_id,
                staff_id=appointment.staff_id,
                score=score,
                comment=comment,
                author=user,
                created_at=clock_now(),  # business time: a simulated day's review is written on that day
            )
    except IntegrityError as exc:  # a concurrent submit won (the appointment lock makes this rare)
        raise Conflict(_("This visit has already been rated."), code=BookingCommsErrorCode.ALREADY_REVIEWED) from exc
    # No need to ask any more.
    AppointmentMessage.objects.filter(
        appointment=appointment, kind=AppointmentMessageKind.REVIEW_REQUEST, status=AppointmentMessageStatus.SCHEDULED
    ).update(status=AppointmentMessageStatus.CANCELLED, updated_at=timezone.now())
    event_record(entity=review, action=EventAction.CREATE, actor=user, after=snapshot(review, REVIEW_FIELDS))
    return review


@transaction.atomic
def review_comment_add(*, user: Any, appointment_id: int, comment: str) -> Review:
    """Add the comment to a visit's score given without one (a rating button first, the words after): the same
    caller rules as ``review_submit``; 404 for a visit not yet rated, 409 ``already_reviewed`` once it has a comment,
    422 for an empty or too long one."""
    appointment = appointment_for_client_action(
        user=user, appointment_id=appointment_id, staff_perm=Perm.BOOKING_MANAGE
    )
    comment = (comment or "").strip()
    if not comment or len(comment) > MAX_REVIEW_COMMENT_LENGTH or "\x00" in comment:
        message = _("Write from 1 to %(n)d characters.") % {"n": MAX_REVIEW_COMMENT_LENGTH}
        raise ValidationFailed(
            _("Some fields are invalid."), code=BookingCommsErrorCode.INVALID_SCORE, fields={"comment": [message]}
        )
    review = Review.objects.select_for_update().filter(appointment=appointment).first()
    if review is None:
        raise NotFound(_("Not found."))
    if review.comment:
        raise Conflict(_("This visit has already been rated."), code=BookingCommsErrorCode.ALREADY_REVIEWED)
    before = snapshot(review, REVIEW_FIELDS)
    review.comment = comment
    review.save(update_fields=["comment", "updated_at"])
    event_record(
        entity=review, action=EventAction.UPDATE, actor=user, before=before, after=snapshot(review, REVIEW_FIELDS)
    )
    return review
