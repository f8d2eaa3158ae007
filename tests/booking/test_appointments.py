"""Appointments at the service level: customer and staff bookings, several services in one visit, group classes,
price snapshots, cancel with the cutoff, reschedule, the status flow, holds, and refusals that change nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from backend.booking.exceptions import BookingErrorCode
from backend.booking.models import (
    Appointment,
    AppointmentLine,
    AppointmentStatus,
    BookingChannel,
    GroupSession,
    Occupancy,
)
from backend.booking.services.appointments import (
    appointment_cancel,
    appointment_create_for_client,
    appointment_create_for_customer,
    appointment_hold,
    appointment_hold_release,
    appointment_hold_take,
    appointment_reschedule,
    appointment_status_set,
)
from backend.catalog.models import BranchService, StaffService
from backend.core.exceptions import ApplicationError, Conflict, NotFound, ValidationFailed
from backend.core.models import Event, EventAction
from backend.crm.models import Client, ClientSource
from backend.organizations.models import Role
from tests.booking.appointments_world import NOW, World, local, world_build
from tests.conftest import member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def w(db: Any) -> World:
    return world_build()


def book(w: World, start: dt.datetime, *services: Any, staff: Any = None, user: Any = None, **kw: Any) -> Appointment:
    return appointment_create_for_customer(
        user=user or w.customer,
        branch_id=w.branch.pk,
        service_ids=[s.pk for s in services or (w.haircut,)],
        staff_id=(staff or w.master).pk,
        start=start,
        now=NOW,
        **kw,
    )


def tables() -> dict[str, Any]:
    """What a refused call must leave as it was."""
    return {
        "appointments": sorted(Appointment.objects.values_list("id", "status", "starts_at", "ends_at", "staff_id")),
        "lines": AppointmentLine.objects.count(),
        "occupancies": sorted(Occupancy.objects.values_list("id", "starts_at", "ends_at", "is_active")),
        "sessions": sorted(GroupSession.objects.values_list("id", "seats_taken", "status")),
        "clients": Client.objects.count(),
        "events": Event.objects.count(),
    }


def refused(call: Any, code: str, error: type[ApplicationError] = ApplicationError) -> ApplicationError:
    before = tables()
    with pytest.raises(error) as caught:
        call()
    assert caught.value.code == code, (caught.value.code, caught.value.message, caught.value.fields)
    assert tables() == before
    return caught.value


# --- booking -----------------------------------------------------------------------------------------------------


def test_a_customer_books_a_visit_and_gets_a_client_card_by_their_phone(w: World) -> None:
    # given a customer the organization has never seen
    assert not Client.objects.filter(organization=w.org).exists()
    # when they book a haircut with Aigerim at 10:00
    appointment = book(w, local(2, 10))
    # then the visit is booked for 10:00-11:00 at the master's own price, in the organization's currency
    assert (appointment.status, appointment.channel) == (AppointmentStatus.BOOKED, BookingChannel.CUSTOMER)
    assert (appointment.starts_at, appointment.ends_at) == (local(2, 10), local(2, 11))
    assert (appointment.price, appointment.currency) == (Decimal("5000"), "KZT")
    # and the card was created by the user's phone, with the booking linked to it and to the account
    client = Client.objects.get(organization=w.org)
    assert (client.phone, client.first_name, appointment.client_id) == (w.customer.phone, "Saule", client.pk)
    assert appointment.customer_id == w.customer.pk
    # and the master is held 10:00-11:10 (the 10-minute buffer after)
    [occupancy] = Occupancy.objects.filter(line__isnull=False)
    assert (occupancy.staff_id, occupancy.starts_at, occupancy.ends_at) == (w.master.pk, local(2, 10), local(2, 11, 10))
    # and the client is held for the visit itself, 10:00-11:00 (no buffer)
    [held] = Occupancy.objects.filter(appointment=appointment)
    assert (held.client_id, held.staff_id, held.starts_at, held.ends_at) == (
        client.pk,
        None,
        local(2, 10),
        local(2, 11),
    )
    # and both changes are events by the customer
    assert (
        Event.objects.filter(entity_type="booking.appointment", action=EventAction.CREATE, actor=w.customer).count()
        == 1
    )
    assert Event.objects.filter(entity_type="crm.client", action=EventAction.CREATE).count() == 1


def test_a_second_booking_reuses_the_card_and_a_deleted_card_is_restored(w: World) -> None:
    # given a customer with a card that was deleted since
    first = book(w, local(2, 10))
    Client.objects.filter(pk=first.client_id).update(deleted_at=timezone.now())
    # when they book again
    second = book(w, local(3, 10))
    # then the same card is used and restored
    assert second.client_id == first.client_id
    assert Client.objects.get(pk=first.client_id).deleted_at is None
    assert Client.objects.filter(organization=w.org).count() == 1


def test_several_services_in_one_visit_run_in_sequence_with_their_buffers(w: World) -> None:
    # when a customer books a haircut then colouring from 10:00
    appointment = book(w, local(2, 10), w.haircut, w.colouring)
    # then the colouring starts after the haircut's 10-minute buffer and its own 15 minutes before
    lines = list(appointment.lines.order_by("position"))
    assert [(ln.service_id, ln.starts_at, ln.ends_at) for ln in lines] == [
        (w.haircut.pk, local(2, 10), local(2, 11)),
        (w.colouring.pk, local(2, 11, 25), local(2, 12, 55)),
    ]
    # and each line keeps its own price snapshot; the visit costs their sum
    assert [ln.price for ln in lines] == [Decimal("5000"), Decimal("9000")]
    assert appointment.price == Decimal("14000")
    assert (appointment.starts_at, appointment.ends_at) == (local(2, 10), local(2, 12, 55))
    # and the held intervals touch without overlapping
    held = sorted(Occupancy.objects.filter(line__isnull=False).values_list("starts_at", "ends_at"))
    assert held == [(local(2, 10), local(2, 11, 10)), (local(2, 11, 10), local(2, 12, 55))]
    # and the client once, for the whole visit
    assert list(Occupancy.objects.filter(client__isnull=False).values_list("starts_at", "ends_at")) == [
        (local(2, 10), local(2, 12, 55))
    ]


def test_the_price_is_a_snapshot(w: World) -> None:
    appointment = book(w, local(2, 10))
    StaffService.objects.filter(staff=w.master, service=w.haircut).update(price=Decimal("9999"))
    appointment.refresh_from_db()
    assert appointment.price == Decimal("5000")
    assert appointment.lines.get().price == Decimal("5000")


def test_staff_book_a_client_with_a_source_and_any_service_offered_at_the_branch(w: World) -> None:
    # given a client of the organization, a source, and a service that is not bookable online
    client = Client.objects.create(organization=w.org, phone="+77015559999", first_name="Walk-in")
    source = ClientSource.objects.create(organization=w.org, name="Instagram")
    BranchService.objects.filter(branch=w.branch, service=w.colouring).update(online_booking=False)
    # when the manager books it for them, with the other master
    appointment = appointment_create_for_client(
        user=w.manager,
        branch_id=w.branch.pk,
        client_id=client.pk,
        service_ids=[w.colouring.pk],
        staff_id=w.other_master.pk,
        start=local(2, 10),
        source_id=source.pk,
        notes="  prefers cold water ",
        now=NOW,
    )
    # then it is booked by staff, with the source, the notes and no customer account
    assert (appointment.channel, appointment.source_id, appointment.customer_id) == (
        BookingChannel.STAFF,
        source.pk,
        None,
    )
    assert appointment.notes == "prefers cold water"
    assert appointment.created_by == w.manager
    assert appointment.price == Decimal("9000")  # the service's price: this master has no own price


def test_any_master_is_chosen_when_none_is_named(w: World) -> None:
    # given Aigerim busy at 10:00
    book(w, local(2, 10))
    # when another customer books 10:00 with any master
    other = UserFactory()
    appointment = appointment_create_for_customer(
        user=other, branch_id=w.branch.pk, service_ids=[w.haircut.pk], start=local(2, 10), now=NOW
    )
    # then Dana, who is free, gets it
    assert appointment.staff_id == w.other_master.pk


def test_a_taken_time_is_a_409_with_the_next_free_slots_and_back_to_back_is_fine(w: World) -> None:
    # given 10:00-11:00 (+10 min buffer) booked with Aigerim
    book(w, local(2, 10))
    # when another customer asks for 10:30 with her
    other = UserFactory()
    error = refused(lambda: book(w, local(2, 10, 30), user=other), BookingErrorCode.SLOT_TAKEN, Conflict)
    # then the answer offers free starts after the refused one, with her
    slots = error.fields["next_slots"]
    assert slots and all(s["staff_id"] == w.master.pk for s in slots)
    assert dt.datetime.fromisoformat(slots[0]["start"]) >= local(2, 11, 10)
    # and 11:10, right after the buffer, is free
    assert book(w, local(2, 11, 10), user=other).starts_at == local(2, 11, 10)


def test_a_resource_is_chosen_and_its_time_is_held(w: World) -> None:
    # given one chair and a massage with Aigerim at 10:00 that takes it
    first = book(w, local(2, 10), w.massage)
    assert first.lines.get().resource_id == w.chair.pk
    # when Dana's client wants a massage at 10:00 too, then there is no chair left
    other = UserFactory()
    refused(lambda: book(w, local(2, 10), w.massage, staff=w.other_master, user=other), BookingErrorCode.SLOT_TAKEN)


# --- refusals --------------------------------------------------------------------------------------------------------


def test_bad_times_are_refused_with_their_codes_and_nothing_changes(w: World) -> None:
    refused(lambda: book(w, local(1, 7)), BookingErrorCode.IN_PAST, ValidationFailed)
    refused(lambda: book(w, local(1, 8, 30)), BookingErrorCode.TOO_SOON, ValidationFailed)  # lead time 60 min
    far = NOW + dt.timedelta(days=w.org.booking_horizon_days, hours=2)
    refused(lambda: book(w, far), BookingErrorCode.TOO_FAR, ValidationFailed)
    refused(lambda: book(w, local(2, 19)), BookingErrorCode.OUTSIDE_SCHEDULE, ValidationFailed)
    refused(lambda: book(w, local(2, 12, 30)), BookingErrorCode.OUTSIDE_SCHEDULE, ValidationFailed)  # into the break
    refused(lambda: book(w, local(2, 10).replace(second=30)), BookingErrorCode.INVALID_TIME, ValidationFailed)
    refused(lambda: book(w, dt.datetime(2027, 3, 2, 10)), BookingErrorCode.INVALID_TIME, ValidationFailed)


def test_masters_and_services_that_cannot_be_booked_are_refused(w: World) -> None:
    # another branch's master, and a master of this branch who does not do yoga
    refused(lambda: book(w, local(2, 10), staff=w.other_branch_master), BookingErrorCode.STAFF_UNAVAILABLE)
    refused(lambda: book(w, local(2, 10), w.yoga, staff=w.other_master), BookingErrorCode.STAFF_UNAVAILABLE)
    # a master whose link is not bookable online is refused to customers
    StaffService.objects.filter(staff=w.master, service=w.haircut).update(online_booking=False)
    refused(lambda: book(w, local(2, 10)), BookingErrorCode.STAFF_UNAVAILABLE)
    # an archived service is unknown to the booking
    w.colouring.is_active = False
    w.colouring.save(update_fields=["is_active"])
    refused(lambda: book(w, local(2, 10), w.colouring), "not_found", NotFound)
    # and over-long notes
    refused(lambda: book(w, local(2, 10), staff=w.other_master, notes="x" * 1001), BookingErrorCode.INVALID_NOTES)


def test_a_customer_cannot_book_an_organization_that_does_not_accept_online_booking(w: World) -> None:
    w.org.online_booking = False
    w.org.save(update_fields=["online_booking"])
    refused(lambda: book(w, local(2, 10)), "not_found", NotFound)


def test_staff_book_only_in_their_organization_with_the_booking_right(w: World) -> None:
    client = Client.objects.create(organization=w.org, phone="+77015559998")
    stranger = world_build("Salon B").manager
    call = dict(branch_id=w.branch.pk, client_id=client.pk, service_ids=[w.haircut.pk], start=local(2, 10), now=NOW)
    refused(lambda: appointment_create_for_client(user=stranger, **call), "not_found", NotFound)
    analyst = member(w.org, Role.ANALYST)
    refused(lambda: appointment_create_for_client(user=analyst, **call), "forbidden")
    # and staff have to name the client
    refused(lambda: book(w, local(2, 10), user=w.manager), BookingErrorCode.CLIENT_REQUIRED, ValidationFailed)


# --- cancel, reschedule, status ---------------------------------------------------------------------------------------


def test_a_cancelled_slot_can_be_booked_again(w: World) -> None:
    appointment = book(w, local(2, 10))
    cancelled = appointment_cancel(user=w.customer, appointment_id=appointment.pk, reason="ill", now=NOW)
    assert (cancelled.status, cancelled.cancel_reason, cancelled.cancelled_by) == (
        AppointmentStatus.CANCELLED,
        "ill",
        w.customer,
    )
    assert not Occupancy.objects.get(line__appointment=appointment).is_active
    again = book(w, local(2, 10), user=UserFactory())
    assert again.starts_at == local(2, 10)


def test_a_customer_cancels_only_before_the_cutoff_but_staff_may_later(w: World) -> None:
    # given a visit at 10:00 and "now" 09:00, inside the 120-minute cutoff
    appointment = book(w, local(2, 10))
    late = local(2, 9)
    refused(
        lambda: appointment_cancel(user=w.customer, appointment_id=appointment.pk, now=late),
        BookingErrorCode.CUTOFF_PASSED,
        Conflict,
    )
    refused(
        lambda: appointment_reschedule(user=w.customer, appointment_id=appointment.pk, start=local(2, 15), now=late),
        BookingErrorCode.CUTOFF_PASSED,
        Conflict,
    )
    assert appointment_cancel(user=w.manager, appointment_id=appointment.pk, now=late).status == "cancelled"


def test_a_reschedule_moves_the_held_time_and_frees_the_old_one(w: World) -> None:
    appointment = book(w, local(2, 10))
    moved = appointment_reschedule(user=w.customer, appointment_id=appointment.pk, start=local(2, 15), now=NOW)
    assert (moved.starts_at, moved.ends_at, moved.rescheduled_count) == (local(2, 15), local(2, 16), 1)
    # the master's time (with the buffer) and the client's (the visit itself) moved; nothing of the old time held
    assert sorted(Occupancy.objects.values_list("starts_at", "ends_at", "is_active")) == [
        (local(2, 15), local(2, 16), True),
        (local(2, 15), local(2, 16, 10), True),
    ]
    assert book(w, local(2, 10), user=UserFactory()).starts_at == local(2, 10)
    # a move onto a taken time changes nothing
    refused(
        lambda: appointment_reschedule(user=w.customer, appointment_id=appointment.pk, start=local(2, 10), now=NOW),
        BookingErrorCode.SLOT_TAKEN,
        Conflict,
    )
    # a move by a few minutes overlapping its own old time is fine
    assert appointment_reschedule(
        user=w.customer, appointment_id=appointment.pk, start=local(2, 15, 30), now=NOW
    ).starts_at == local(2, 15, 30)


def test_the_status_flow_and_its_illegal_steps(w: World) -> None:
    appointment = book(w, local(2, 10))
    at = local(2, 10, 5)
    for status in ("confirmed", "arrived", "done"):
        appointment = appointment_status_set(user=w.master, appointment_id=appointment.pk, status=status, now=at)
    assert appointment.status == AppointmentStatus.DONE
    assert Client.objects.get(pk=appointment.client_id).last_visit_at == local(2, 10)
    for status in ("arrived", "confirmed", "no_show"):
        refused(
            lambda status=status: appointment_status_set(
                user=w.master, appointment_id=appointment.pk, status=status, now=at
            ),
            BookingErrorCode.INVALID_TRANSITION,
            Conflict,
        )
    refused(
        lambda: appointment_cancel(user=w.manager, appointment_id=appointment.pk, now=at),
        BookingErrorCode.INVALID_TRANSITION,
    )


def test_a_no_show_is_marked_only_once_the_visit_has_started_and_frees_the_time(w: World) -> None:
    appointment = book(w, local(2, 10))
    refused(
        lambda: appointment_status_set(user=w.master, appointment_id=appointment.pk, status="no_show", now=NOW),
        BookingErrorCode.TOO_SOON,
    )
    appointment_status_set(user=w.master, appointment_id=appointment.pk, status="no_show", now=local(2, 10, 15))
    assert not Occupancy.objects.get(line__appointment=appointment).is_active


def test_a_customer_confirms_but_cannot_mark_arrival_and_strangers_see_nothing(w: World) -> None:
    appointment = book(w, local(2, 10))
    assert appointment_status_set(
        user=w.customer, appointment_id=appointment.pk, status="confirmed", now=NOW
    ).status == ("confirmed")
    refused(
        lambda: appointment_status_set(user=w.customer, appointment_id=appointment.pk, status="arrived", now=NOW),
        "not_found",
    )
    refused(lambda: appointment_cancel(user=UserFactory(), appointment_id=appointment.pk, now=NOW), "not_found")
    stranger = world_build("Salon B").manager
    refused(lambda: appointment_cancel(user=stranger, appointment_id=appointment.pk, now=NOW), "not_found")


# --- group classes ---------------------------------------------------------------------------------------------------


def test_a_group_class_takes_exactly_its_capacity(w: World) -> None:
    customers = [UserFactory() for _ in range(4)]
    booked = [book(w, local(2, 10), w.yoga, user=c) for c in customers[:3]]
    session = GroupSession.objects.get()
    assert {a.group_session_id for a in booked} == {session.pk}
    assert (session.capacity, session.seats_taken) == (3, 3)
    assert Occupancy.objects.filter(group_session=session).count() == 1  # the master is held once
    refused(lambda: book(w, local(2, 10), w.yoga, user=customers[3]), BookingErrorCode.GROUP_FULL, Conflict)
    # one place freed is one place to take
    appointment_cancel(user=customers[0], appointment_id=booked[0].pk, now=NOW)
    assert book(w, local(2, 10), w.yoga, user=customers[3]).group_session_id == session.pk


def test_a_client_is_in_a_class_once_and_the_last_one_out_frees_the_master(w: World) -> None:
    first = book(w, local(2, 10), w.yoga)
    refused(lambda: book(w, local(2, 10), w.yoga), BookingErrorCode.ALREADY_BOOKED, Conflict)
    appointment_cancel(user=w.customer, appointment_id=first.pk, now=NOW)
    session = GroupSession.objects.get()
    assert (session.status, session.seats_taken) == ("cancelled", 0)
    assert not Occupancy.objects.get(group_session=session).is_active
    # and the master can take an individual visit then
    assert book(w, local(2, 10), user=UserFactory()).staff_id == w.master.pk


def test_a_class_and_an_individual_visit_of_one_master_do_not_overlap(w: World) -> None:
    book(w, local(2, 10), w.yoga)
    refused(lambda: book(w, local(2, 10, 30), user=UserFactory()), BookingErrorCode.SLOT_TAKEN, Conflict)


# --- waiting-list holds ---------------------------------------------------------------------------------------------


def test_a_hold_keeps_the_slot_until_it_is_taken_or_released(w: World) -> None:
    client = Client.objects.create(organization=w.org, phone=w.customer.phone)
    hold = appointment_hold(
        branch_id=w.branch.pk,
        client_id=client.pk,
        service_ids=[w.haircut.pk],
        staff_id=w.master.pk,
        start=local(2, 10),
        hold_minutes=15,
        customer_id=w.customer.pk,
        now=NOW,
    )
    assert (hold.status, hold.channel, hold.hold_expires_at) == ("held", "waitlist", NOW + dt.timedelta(minutes=15))
    refused(lambda: book(w, local(2, 10), user=UserFactory()), BookingErrorCode.SLOT_TAKEN, Conflict)
    taken = appointment_hold_take(user=w.customer, appointment_id=hold.pk, now=NOW + dt.timedelta(minutes=5))
    assert (taken.status, taken.hold_expires_at) == ("booked", None)
    # a taken hold is not released
    assert appointment_hold_release(appointment_id=hold.pk).status == "booked"


def test_a_lapsed_hold_cannot_be_taken_and_its_release_frees_the_slot(w: World) -> None:
    client = Client.objects.create(organization=w.org, phone=w.customer.phone)
    hold = appointment_hold(
        branch_id=w.branch.pk,
        client_id=client.pk,
        service_ids=[w.haircut.pk],
        staff_id=w.master.pk,
        start=local(2, 10),
        hold_minutes=15,
        customer_id=w.customer.pk,
        now=NOW,
    )
    refused(
        lambda: appointment_hold_take(user=w.customer, appointment_id=hold.pk, now=NOW + dt.timedelta(minutes=20)),
        BookingErrorCode.INVALID_TRANSITION,
    )
    assert appointment_hold_release(appointment_id=hold.pk, now=NOW).status == "cancelled"
    assert book(w, local(2, 10), user=UserFactory()).starts_at == local(2, 10)
