"""Reviews: the rating request after a done visit (through the worker), the 1-10 answer becoming one Review."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from backend.booking.models import Appointment
from backend.booking.models_comms import AppointmentMessage, CommsSettings, Review
from backend.booking.services import appointments
from backend.booking.services.reviews import review_submit
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import Event
from backend.notifications.models import OutboxMessage
from tests.booking.comms_world import Salon, book, finish, future, queue_clock_reaches, salon_make, worker_run
from tests.factories import UserFactory

H = dt.timedelta(hours=1)


def _done_visit(salon: Salon, *, customer: bool = True) -> tuple[Appointment, Any]:
    """A visit booked for tomorrow (by the customer, or by staff), then marked arrived and done."""
    client = salon.client()
    start = future(days=1)
    if customer:
        user = UserFactory(phone=client.phone)
        appointment = appointments.appointment_create_for_customer(
            user=user, branch_id=salon.branch.pk, service_ids=[salon.service.pk], start=start, staff_id=salon.master.pk
        )
    else:
        user, appointment = None, book(salon, client, start)
    return finish(salon, appointment), user


@pytest.mark.django_db(transaction=True)
def test_done_visit_gets_a_rating_request_and_the_answer_becomes_a_review() -> None:
    salon = salon_make()
    appointment, customer = _done_visit(salon)
    # the request is due an hour after the visit ends
    request = AppointmentMessage.objects.get(appointment=appointment, kind="review_request")
    assert request.due_at == appointment.ends_at + H
    queue_clock_reaches(request.due_at)
    worker_run()
    [message] = OutboxMessage.objects.all()
    assert "1 to 10" in message.body and message.recipient == appointment.client.phone
    # when the customer answers 9 with a comment
    review = review_submit(user=customer, appointment_id=appointment.pk, score=9, comment="  Great cut  ")
    assert (review.score, review.comment, review.staff_id, review.client_id) == (
        9,
        "Great cut",
        appointment.staff_id,
        appointment.client_id,
    )
    assert Event.objects.filter(entity_type="booking.review", entity_id=str(review.pk), action="create").exists()
    # and a second answer is refused
    with pytest.raises(Conflict) as caught:
        review_submit(user=customer, appointment_id=appointment.pk, score=3)
    assert caught.value.code == "already_reviewed"
    assert Review.objects.get().score == 9


@pytest.mark.django_db
def test_staff_record_an_answer_given_by_phone() -> None:
    salon = salon_make()
    appointment, _user = _done_visit(salon, customer=False)
    review = review_submit(user=salon.manager, appointment_id=appointment.pk, score=10)
    assert (review.author_id, review.score) == (salon.manager.pk, 10)
    # the pending request is no longer needed
    assert AppointmentMessage.objects.get(appointment=appointment, kind="review_request").status == "cancelled"


@pytest.mark.django_db
@pytest.mark.parametrize("score", [0, 11, -1, 100])
def test_score_outside_1_10_is_refused(score: int) -> None:
    salon = salon_make()
    appointment, customer = _done_visit(salon)
    with pytest.raises(ValidationFailed) as caught:
        review_submit(user=customer, appointment_id=appointment.pk, score=score)
    assert caught.value.code == "invalid_score"
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_the_database_refuses_a_score_outside_1_10() -> None:
    salon = salon_make()
    appointment, _user = _done_visit(salon)
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(
            organization=salon.org,
            branch=salon.branch,
            appointment=appointment,
            client=appointment.client,
            staff=appointment.staff,
            score=11,
        )


@pytest.mark.django_db
def test_only_a_done_visit_by_its_client_can_be_rated() -> None:
    salon = salon_make()
    client = salon.client()
    customer = UserFactory(phone=client.phone)
    upcoming = appointments.appointment_create_for_customer(
        user=customer,
        branch_id=salon.branch.pk,
        service_ids=[salon.service.pk],
        start=future(days=2),
        staff_id=salon.master.pk,
    )
    with pytest.raises(Conflict) as caught:
        review_submit(user=customer, appointment_id=upcoming.pk, score=8)
    assert caught.value.code == "not_reviewable"
    done, _owner = _done_visit(salon)
    with pytest.raises(NotFound):
        review_submit(user=UserFactory(), appointment_id=done.pk, score=8)
    with pytest.raises(ValidationFailed):
        review_submit(user=salon.manager, appointment_id=done.pk, score=8, comment="x" * 2001)
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_no_rating_request_when_switched_off() -> None:
    salon = salon_make()
    CommsSettings.objects.create(organization=salon.org, review_requests=False)
    appointment, _user = _done_visit(salon)
    assert not AppointmentMessage.objects.filter(appointment=appointment, kind="review_request").exists()
