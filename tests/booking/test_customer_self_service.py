"""A customer's self-service reads and actions (what the Telegram bot calls): the masters of a whole visit, the days
with a free slot, a quote, and actions on the caller's own visits only — a forged id is a 404 that changes nothing,
even for a manager of the organization; a staff-booked visit is the client's own through their phone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from backend.booking import customer_selectors as cs
from backend.booking.appointment_selectors import appointment_get
from backend.booking.exceptions_comms import BookingCommsErrorCode
from backend.booking.models import Appointment, AppointmentStatus, ExceptionKind, ScheduleException
from backend.booking.models_comms import Review, WaitlistEntry
from backend.booking.services import customer_actions as actions
from backend.booking.services.appointments import (
    appointment_create_for_client,
    appointment_status_set,
    visit_quote,
)
from backend.booking.services.availability import local_day_bounds
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.crm.models import Client
from tests.booking.appointments_world import NOW, ZONE, World, local, world_build
from tests.booking.comms_world import future, salon_make
from tests.booking.test_appointments import book, refused, tables
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db: Any) -> World:
    return world_build()


def test_masters_of_a_visit_perform_every_service_of_it(w: World) -> None:
    both = cs.visit_masters(user=w.customer, branch_id=w.branch.pk, service_ids=[w.haircut.pk, w.colouring.pk])
    assert [m.pk for m in both] == [w.master.pk, w.other_master.pk]
    assert [m.pk for m in cs.visit_masters(user=w.customer, branch_id=w.branch.pk, service_ids=[w.yoga.pk])] == [
        w.master.pk
    ]
    other = world_build("Salon B")
    with pytest.raises(NotFound):
        cs.visit_masters(user=w.customer, branch_id=w.branch.pk, service_ids=[other.haircut.pk])


def test_slot_days_are_the_days_with_a_free_slot(w: World) -> None:
    ScheduleException.objects.create(
        organization=w.org,
        branch=w.branch,
        staff=w.master,
        kind=ExceptionKind.DAY_OFF,
        start_date=dt.date(2027, 3, 3),
        end_date=dt.date(2027, 3, 3),
    )
    kwargs = {"user": w.customer, "branch_id": w.branch.pk, "service_ids": [w.haircut.pk], "now": NOW}
    first = dt.date(2027, 3, 1)
    assert cs.slot_days(first_day=first, **kwargs) == [first + dt.timedelta(days=i) for i in range(7)]
    named = cs.slot_days(first_day=first, staff_id=w.master.pk, **kwargs)
    assert dt.date(2027, 3, 3) not in named and len(named) == 6
    assert cs.branch_today(user=w.customer, branch_id=w.branch.pk, now=NOW) == first


def test_a_quote_names_the_master_and_their_own_price(w: World) -> None:
    common = {"user": w.customer, "branch_id": w.branch.pk, "service_ids": [w.haircut.pk], "now": NOW}
    own = visit_quote(start=local(2, 10), staff_id=w.master.pk, **common)
    assert own is not None and (own.price, own.currency, own.slot.staff_id) == (Decimal("5000"), "KZT", w.master.pk)
    plain = visit_quote(start=local(2, 10), staff_id=w.other_master.pk, **common)
    assert plain is not None and plain.price == Decimal("4000")
    book(w, local(2, 10), staff=w.master)
    assert visit_quote(start=local(2, 10), staff_id=w.master.pk, **common) is None
    anyone = visit_quote(start=local(2, 10), **common)
    assert anyone is not None and anyone.slot.staff_id == w.other_master.pk


def test_the_client_of_a_staff_booked_visit_confirms_and_cancels_it_by_their_phone(w: World) -> None:
    client = Client.objects.create(organization=w.org, phone=w.customer.phone, first_name="Saule")
    visit = appointment_create_for_client(
        user=w.manager,
        branch_id=w.branch.pk,
        client_id=client.pk,
        service_ids=[w.haircut.pk],
        staff_id=w.master.pk,
        start=local(2, 10),
        now=NOW,
    )
    assert visit.customer_id is None
    # "my visits" lists it too (the bot, the app's list and home), and the API reads it
    assert [a.pk for a in cs.customer_upcoming_visits(user=w.customer, now=NOW)] == [visit.pk]
    assert appointment_get(user=w.customer, appointment_id=visit.pk).pk == visit.pk
    assert cs.customer_visit(user=w.customer, appointment_id=visit.pk).pk == visit.pk
    assert actions.customer_visit_confirm(user=w.customer, appointment_id=visit.pk).status == "confirmed"
    assert actions.customer_visit_cancel(user=w.customer, appointment_id=visit.pk, now=NOW).status == "cancelled"


def test_a_phone_owns_only_live_clients_with_that_phone_and_no_phone_owns_nothing(w: World) -> None:
    # given staff-booked visits for a client with the customer's phone, one whose client was deleted, and one for a
    # client with no phone
    mine = Client.objects.create(organization=w.org, phone=w.customer.phone, first_name="Saule")
    gone = Client.objects.create(organization=w.org, phone="+77010000999", first_name="Gone")
    blank = Client.objects.create(organization=w.org, phone="", first_name="Walk-in")
    visits = {}
    for hour, client, master in ((10, mine, w.master), (10, gone, w.other_master), (15, blank, w.master)):
        visits[client.pk] = appointment_create_for_client(
            user=w.manager,
            branch_id=w.branch.pk,
            client_id=client.pk,
            service_ids=[w.haircut.pk],
            staff_id=master.pk,
            start=local(2, hour),
            now=NOW,
        )
    gone_user = UserFactory(phone=gone.phone)
    Client.objects.filter(pk=gone.pk).update(deleted_at=NOW)
    # then the customer sees their own only; a deleted client's visits belong to nobody by phone; and an account
    # without a phone does not own the phoneless walk-in
    assert [a.pk for a in cs.customer_upcoming_visits(user=w.customer, now=NOW)] == [visits[mine.pk].pk]
    assert cs.customer_upcoming_visits(user=gone_user, now=NOW) == []
    phoneless = UserFactory(phone="")
    assert cs.customer_upcoming_visits(user=phoneless, now=NOW) == []
    for who in (gone_user, phoneless):
        with pytest.raises(NotFound):
            appointment_get(user=who, appointment_id=visits[blank.pk].pk)


@pytest.mark.parametrize("action", ["cancel", "confirm", "reschedule", "rate", "comment"])
def test_a_forged_visit_id_is_a_404_that_changes_nothing_even_for_a_manager(w: World, action: str) -> None:
    visit = book(w, local(2, 10))
    calls = {
        "cancel": lambda u: actions.customer_visit_cancel(user=u, appointment_id=visit.pk, now=NOW),
        "confirm": lambda u: actions.customer_visit_confirm(user=u, appointment_id=visit.pk),
        "reschedule": lambda u: actions.customer_visit_reschedule(
            user=u, appointment_id=visit.pk, start=local(2, 15), now=NOW
        ),
        "rate": lambda u: actions.customer_visit_rate(user=u, appointment_id=visit.pk, score=1),
        "comment": lambda u: actions.customer_review_comment(user=u, appointment_id=visit.pk, comment="bad"),
    }
    for stranger in (UserFactory(), w.manager):
        refused(lambda s=stranger: calls[action](s), "not_found", NotFound)
    with pytest.raises(NotFound):
        cs.customer_visit(user=w.manager, appointment_id=visit.pk)


def test_a_rating_then_its_comment_once(w: World) -> None:
    visit = book(w, local(2, 10))
    for status in ("arrived", "done"):
        appointment_status_set(user=w.manager, appointment_id=visit.pk, status=status)
    with pytest.raises(NotFound):  # not rated yet
        actions.customer_review_comment(user=w.customer, appointment_id=visit.pk, comment="Lovely")
    review = actions.customer_visit_rate(user=w.customer, appointment_id=visit.pk, score=9)
    assert (review.score, review.comment) == (9, "")
    with pytest.raises(ValidationFailed):
        actions.customer_review_comment(user=w.customer, appointment_id=visit.pk, comment="   ")
    commented = actions.customer_review_comment(user=w.customer, appointment_id=visit.pk, comment="  Lovely  ")
    assert Review.objects.get(pk=commented.pk).comment == "Lovely"
    before = tables()
    with pytest.raises(Conflict) as caught:
        actions.customer_review_comment(user=w.customer, appointment_id=visit.pk, comment="Again")
    assert caught.value.code == BookingCommsErrorCode.ALREADY_REVIEWED
    assert tables() == before and Review.objects.get(pk=commented.pk).comment == "Lovely"


def test_moving_a_visit_searches_with_the_master_it_keeps(w: World) -> None:
    visit = book(w, local(2, 10), staff=w.master)
    # the master is busy at 15:00 on the 2nd with someone else; the other master is not
    book(w, local(2, 15), staff=w.master, user=UserFactory())
    slots = cs.reschedule_slots(user=w.customer, appointment_id=visit.pk, day=dt.date(2027, 3, 2), now=NOW).slots
    starts = {s.start for s in slots}
    assert local(2, 15) not in starts and local(2, 16, 30) in starts
    assert {s.staff_id for s in slots} == {w.master.pk}
    assert cs.reschedule_days(user=w.customer, appointment_id=visit.pk, first_day=dt.date(2027, 3, 2), now=NOW)
    moved = actions.customer_visit_reschedule(user=w.customer, appointment_id=visit.pk, start=local(2, 16, 30), now=NOW)
    assert (moved.starts_at, moved.staff_id) == (local(2, 16, 30), w.master.pk)
    with pytest.raises(NotFound):
        cs.reschedule_slots(user=UserFactory(), appointment_id=visit.pk, day=dt.date(2027, 3, 2), now=NOW)


def test_joining_the_waiting_list_for_a_day(db: Any) -> None:
    salon = salon_make()
    customer = UserFactory()
    day = (future(days=2)).astimezone(ZONE).date()
    entry = actions.customer_waitlist_join_day(
        user=customer, branch_id=salon.branch.pk, service_id=salon.service.pk, day=day
    )
    assert isinstance(entry, WaitlistEntry) and entry.customer_id == customer.pk
    assert (entry.earliest, entry.latest) == local_day_bounds(ZONE, day)
    assert Appointment.objects.filter(status=AppointmentStatus.HELD).count() == 0


def test_the_organization_a_customer_books_with_without_a_link(w: World) -> None:
    assert cs.customer_origin(w.customer) == (None, None)  # nobody's client yet
    Client.objects.create(organization=w.org, phone=w.customer.phone)
    assert cs.customer_origin(w.customer) == (w.org.pk, None)
    other = world_build("Salon B")
    Client.objects.create(organization=other.org, phone=w.customer.phone)
    assert cs.customer_origin(w.customer) == (None, None)  # two: they follow a link first
