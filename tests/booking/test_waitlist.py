"""The waiting list: join, a freed slot offered first come first served with a hold the database protects, decline
or expiry passing it on, taking it booking it; races on PostgreSQL (two frees at once, expiry while taking)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from backend.booking.models import Appointment, AppointmentStatus, BookingChannel, Occupancy, PatternKind
from backend.booking.models_comms import (
    AppointmentMessage,
    CommsSettings,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistOfferStatus,
    WaitlistStatus,
)
from backend.booking.services.schedules import work_pattern_create
from backend.booking.services.waitlist import (
    waitlist_join,
    waitlist_leave,
    waitlist_offer_decline,
    waitlist_offer_expire,
    waitlist_offer_take,
    waitlist_sweep,
)
from backend.booking.tasks import waitlist_offer_expire_task
from backend.catalog.models import StaffService
from backend.core.exceptions import ApplicationError, Conflict, NotFound, ValidationFailed
from backend.core.models import Event
from backend.crm.models import Client
from backend.notifications.models import OutboxMessage
from backend.organizations.models import Role
from tests.booking.comms_world import (
    Salon,
    appointment_row,
    book,
    cancel,
    future,
    queue_clock_reaches,
    salon_make,
    worker_run,
)
from tests.conftest import member
from tests.factories import BranchFactory, MembershipFactory, OrganizationFactory, UserFactory

H = dt.timedelta(hours=1)


def _join(salon: Salon, client: Client, start: dt.datetime, *, hours: int = 4, staff: Any = None) -> WaitlistEntry:
    return waitlist_join(
        user=salon.manager,
        branch_id=salon.branch.pk,
        service_id=salon.service.pk,
        client_id=client.pk,
        staff_id=staff.pk if staff else None,
        windows=[(start - H, start + hours * H)],
    )


def _hold_passes(offer: WaitlistOffer) -> None:
    """Let the hold's time pass: for the row (its end is now behind us) and for the queue (its task is due)."""
    WaitlistOffer.objects.filter(pk=offer.pk).update(hold_until=timezone.now() - dt.timedelta(seconds=1))
    queue_clock_reaches(offer.hold_until)


@pytest.fixture
def busy_slot(db: Any) -> dict[str, Any]:
    salon = salon_make()
    start = future(days=2)
    booked = book(salon, salon.client(first_name="Booker"), start)
    return {"salon": salon, "start": start, "booked": booked}


@pytest.mark.django_db
def test_a_freed_slot_is_offered_to_the_first_in_line_and_held(busy_slot: dict[str, Any]) -> None:
    salon, start = busy_slot["salon"], busy_slot["start"]
    first, second = salon.client(first_name="First"), salon.client(first_name="Second")
    entry_1, entry_2 = _join(salon, first, start), _join(salon, second, start)
    # when the booked visit is cancelled
    cancel(busy_slot["salon"], busy_slot["booked"])
    # then the first entry is offered it, held 15 minutes, told through the outbox, with the expiry queued
    [offer] = WaitlistOffer.objects.all()
    assert (offer.entry_id, offer.staff_id, offer.starts_at, offer.status) == (
        entry_1.pk,
        salon.master.pk,
        start,
        WaitlistOfferStatus.OFFERED,
    )
    assert dt.timedelta(minutes=14) < offer.hold_until - timezone.now() <= dt.timedelta(minutes=15)
    entry_1.refresh_from_db()
    entry_2.refresh_from_db()
    assert (entry_1.status, entry_2.status) == (WaitlistStatus.OFFERED, WaitlistStatus.WAITING)
    message = OutboxMessage.objects.get(dedupe_key=f"waitlist:offer:{offer.pk}")
    assert message.recipient == first.phone and message.expires_at == offer.hold_until
    [expiry] = DBTaskResult.objects.filter(task_path=waitlist_offer_expire_task.module_path)
    assert expiry.run_after == offer.hold_until
    # and the hold is an appointment of the waiting client that the database guard covers
    hold = offer.appointment
    assert (hold.client_id, hold.channel, hold.status) == (first.pk, BookingChannel.WAITLIST, AppointmentStatus.HELD)
    assert hold.hold_expires_at == offer.hold_until
    with pytest.raises(IntegrityError), transaction.atomic():
        appointment_row(salon, salon.client(first_name="Walk-in"), start)  # a raw row: the database refuses it
    with pytest.raises(Conflict) as taken:
        book(salon, salon.client(first_name="Caller"), start)  # the booking service answers 409 slot_taken
    assert taken.value.code == "slot_taken"
    assert not AppointmentMessage.objects.filter(appointment=hold).exists()  # no reminders until taken


@pytest.mark.django_db
def test_declining_passes_the_slot_to_the_next(busy_slot: dict[str, Any]) -> None:
    salon, start = busy_slot["salon"], busy_slot["start"]
    first, second = salon.client(), salon.client()
    entry_1, entry_2 = _join(salon, first, start), _join(salon, second, start)
    cancel(busy_slot["salon"], busy_slot["booked"])
    offer_1 = WaitlistOffer.objects.get(entry=entry_1)
    # when the first declines
    waitlist_offer_decline(user=salon.manager, offer_id=offer_1.pk)
    # then the first keeps waiting, their hold is cancelled, and the second holds the slot now
    offer_1.refresh_from_db()
    entry_1.refresh_from_db()
    assert (offer_1.status, entry_1.status) == (WaitlistOfferStatus.DECLINED, WaitlistStatus.WAITING)
    assert Appointment.objects.get(pk=offer_1.appointment_id).status == AppointmentStatus.CANCELLED
    offer_2 = WaitlistOffer.objects.get(entry=entry_2)
    assert offer_2.status == WaitlistOfferStatus.OFFERED and offer_2.starts_at == start
    # and when the second declines too, the first is not offered the same slot again
    waitlist_offer_decline(user=salon.manager, offer_id=offer_2.pk)
    assert WaitlistOffer.objects.filter(status=WaitlistOfferStatus.OFFERED).count() == 0
    assert not Occupancy.objects.filter(is_active=True, staff=salon.master).exists()


@pytest.mark.django_db(transaction=True)
def test_an_expired_hold_goes_to_the_next_by_the_worker(busy_slot: dict[str, Any]) -> None:
    salon, start = busy_slot["salon"], busy_slot["start"]
    # two entries for exactly this hour with this master (so the worker's periodic search finds nothing else)
    entry_1, entry_2 = (
        waitlist_join(
            user=salon.manager,
            branch_id=salon.branch.pk,
            service_id=salon.service.pk,
            client_id=salon.client().pk,
            staff_id=salon.master.pk,
            windows=[(start, start + H)],
        )
        for _ in range(2)
    )
    cancel(busy_slot["salon"], busy_slot["booked"])
    offer_1 = WaitlistOffer.objects.get(entry=entry_1)
    # when the hold's time passes and the worker runs the expiry task
    _hold_passes(offer_1)
    worker_run()
    # then the offer expired and the slot is held for the second entry, with its own expiry queued
    offer_1.refresh_from_db()
    assert offer_1.status == WaitlistOfferStatus.EXPIRED
    offer_2 = WaitlistOffer.objects.get(entry=entry_2)
    assert offer_2.status == WaitlistOfferStatus.OFFERED
    assert DBTaskResult.objects.filter(task_path=waitlist_offer_expire_task.module_path, status="READY").count() == 1
    # and a late take of the first offer is refused, changing nothing
    with pytest.raises(Conflict) as caught:
        waitlist_offer_take(user=salon.manager, offer_id=offer_1.pk)
    assert caught.value.code == "offer_gone"
    offer_2.refresh_from_db()
    assert offer_2.status == WaitlistOfferStatus.OFFERED


@pytest.mark.django_db
def test_taking_the_offer_books_it_with_reminders(busy_slot: dict[str, Any]) -> None:
    salon, start = busy_slot["salon"], busy_slot["start"]
    client = salon.client()
    customer = UserFactory(phone=client.phone)
    entry = _join(salon, client, start)
    cancel(busy_slot["salon"], busy_slot["booked"])
    offer = WaitlistOffer.objects.get(entry=entry)
    # when the client (signed in with their phone) takes it
    appointment = waitlist_offer_take(user=customer, offer_id=offer.pk)
    # then it is their booking, the entry is booked, reminders are scheduled, and nothing expires it later
    entry.refresh_from_db()
    offer.refresh_from_db()
    assert (appointment.client_id, appointment.starts_at, appointment.status) == (client.pk, start, "booked")
    assert (entry.status, entry.appointment_id, offer.status) == (WaitlistStatus.BOOKED, appointment.pk, "taken")
    assert AppointmentMessage.objects.filter(appointment=appointment, kind="reminder").count() == 2
    assert waitlist_offer_expire(offer_id=offer.pk, now=offer.hold_until + H) == "closed"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED
    assert Event.objects.filter(entity_type="booking.waitlistoffer", entity_id=str(offer.pk)).count() == 2


@pytest.mark.django_db
def test_offers_follow_the_master_and_the_windows(busy_slot: dict[str, Any]) -> None:
    salon, start = busy_slot["salon"], busy_slot["start"]
    # given an entry for the other master, one whose window ends too early, and the canceller themselves waiting
    _join(salon, salon.client(), start, staff=salon.other_master)
    waitlist_join(
        user=salon.manager,
        branch_id=salon.branch.pk,
        service_id=salon.service.pk,
        client_id=salon.client().pk,
        windows=[(start - 2 * H, start + dt.timedelta(minutes=30))],
    )
    _join(salon, busy_slot["booked"].client, start)
    fits = _join(salon, salon.client(), start, staff=salon.master)
    cancel(busy_slot["salon"], busy_slot["booked"])
    assert list(WaitlistOffer.objects.values_list("entry_id", flat=True)) == [fits.pk]


@pytest.mark.django_db
def test_leaving_withdraws_the_offer_and_passes_it_on(busy_slot: dict[str, Any]) -> None:
    salon, start = busy_slot["salon"], busy_slot["start"]
    entry_1, entry_2 = _join(salon, salon.client(), start), _join(salon, salon.client(), start)
    cancel(busy_slot["salon"], busy_slot["booked"])
    waitlist_leave(user=salon.manager, entry_id=entry_1.pk)
    entry_1.refresh_from_db()
    assert entry_1.status == WaitlistStatus.CANCELLED
    assert WaitlistOffer.objects.get(entry=entry_1).status == WaitlistOfferStatus.WITHDRAWN
    assert WaitlistOffer.objects.get(entry=entry_2).status == WaitlistOfferStatus.OFFERED
    with pytest.raises(Conflict):
        waitlist_leave(user=salon.manager, entry_id=entry_1.pk)


@pytest.mark.django_db
def test_hold_minutes_are_configurable(busy_slot: dict[str, Any]) -> None:
    salon, start = busy_slot["salon"], busy_slot["start"]
    CommsSettings.objects.create(organization=salon.org, waitlist_hold_minutes=45)
    _join(salon, salon.client(), start)
    cancel(busy_slot["salon"], busy_slot["booked"])
    offer = WaitlistOffer.objects.get()
    assert dt.timedelta(minutes=44) < offer.hold_until - timezone.now() <= dt.timedelta(minutes=45)


@pytest.mark.django_db
def test_a_customer_joins_as_themselves() -> None:
    salon = salon_make()
    customer = UserFactory(phone="+77059990001", first_name="Aliya")
    start = future(days=3)
    entry = waitlist_join(
        user=customer, branch_id=salon.branch.pk, service_id=salon.service.pk, windows=[(start, start + 3 * H)]
    )
    assert (entry.customer_id, entry.client.phone, entry.client.organization_id) == (
        customer.pk,
        customer.phone,
        salon.org.pk,
    )
    # a second entry reuses the client record found by the phone
    again = waitlist_join(
        user=customer, branch_id=salon.branch.pk, service_id=salon.service.pk, windows=[(start, start + 3 * H)]
    )
    assert again.client_id == entry.client_id
    waitlist_leave(user=customer, entry_id=entry.pk)
    with pytest.raises(NotFound):
        waitlist_leave(user=UserFactory(), entry_id=again.pk)


@pytest.mark.django_db
def test_bad_joins_are_refused_and_change_nothing() -> None:
    salon = salon_make()
    client = salon.client()
    start = future(days=2)
    now = timezone.now()
    other_org = OrganizationFactory()
    from backend.catalog.models import Service

    foreign_service = Service.objects.create(organization=other_org, name="Theirs", duration_minutes=30)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"windows": [(start, start - H)]}, ValidationFailed, "invalid_windows"),
        ({"windows": [(now - 3 * H, now - H)]}, ValidationFailed, "invalid_windows"),
        ({"windows": []}, ValidationFailed, "invalid_windows"),
        ({"windows": [(start, start + H)] * 8}, ValidationFailed, "invalid_windows"),
        ({"windows": [(start, start + dt.timedelta(days=400))]}, ValidationFailed, "invalid_windows"),
        ({"service_id": foreign_service.pk}, ValidationFailed, "invalid_reference"),
        (
            {"client_id": Client.objects.create(organization=other_org, phone="+77050000001").pk},
            ValidationFailed,
            "invalid_reference",
        ),
        ({"branch_id": BranchFactory(organization=other_org).pk}, NotFound, "not_found"),
    ]
    for changes, error, code in cases:
        kwargs: dict[str, Any] = {
            "user": salon.manager,
            "branch_id": salon.branch.pk,
            "service_id": salon.service.pk,
            "client_id": client.pk,
            "windows": [(start, start + H)],
            **changes,
        }
        with pytest.raises(error) as caught:
            waitlist_join(**kwargs)
        assert caught.value.code == code  # type: ignore[attr-defined]
    assert not WaitlistEntry.objects.exists()
    assert not Event.objects.filter(entity_type="booking.waitlistentry").exists()


@pytest.mark.django_db
def test_time_a_schedule_gains_is_found_by_the_periodic_search() -> None:
    # given a master who performs the service but has no schedule yet, and an entry waiting for them
    salon = salon_make()
    newcomer = member(salon.org, Role.MASTER)
    StaffService.objects.create(organization=salon.org, staff=newcomer, service=salon.service)
    start = future(days=3)
    entry = _join(salon, salon.client(), start, staff=newcomer)
    now = timezone.now()
    assert waitlist_sweep(now=now)["waitlist_offers_found"] == 0
    # when the master's schedule gains the day (through the schedule service) and the search runs again
    day = start.astimezone(ZoneInfo(salon.branch.effective_time_zone)).date()
    work_pattern_create(
        user=salon.manager,
        organization_id=salon.org.pk,
        branch_id=salon.branch.pk,
        staff_id=newcomer.pk,
        kind=PatternKind.WEEKLY,
        weekdays=list(range(7)),
        anchor_date=day,
        end_date=day,
        day_start=dt.time(9),
        day_end=dt.time(21),
    )
    assert waitlist_sweep(now=now + dt.timedelta(minutes=1))["waitlist_offers_found"] == 0  # looked at recently
    assert waitlist_sweep(now=now + dt.timedelta(minutes=6))["waitlist_offers_found"] == 1
    # then the entry is offered the first free visit of its window with that master, held like any offer
    offer = WaitlistOffer.objects.get(entry=entry)
    assert (offer.staff_id, offer.starts_at, offer.status) == (newcomer.pk, start - H, WaitlistOfferStatus.OFFERED)
    assert Appointment.objects.get(pk=offer.appointment_id).status == AppointmentStatus.HELD


@pytest.mark.django_db
def test_the_sweep_expires_entries_whose_windows_passed() -> None:
    salon = salon_make()
    start = future(days=1)
    entry = _join(salon, salon.client(), start)
    assert waitlist_sweep(now=start + 10 * H) == {
        "waitlist_holds_expired": 0,
        "waitlist_entries_expired": 1,
        "waitlist_offers_found": 0,
    }
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.EXPIRED


# --- races (PostgreSQL) --------------------------------------------------------------------------------------------


def _parallel(actions: list[Any]) -> list[Any]:
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = actions[i]()
        except Exception as exc:  # collected: anything but an ApplicationError fails the assertions below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(20))
def test_two_frees_at_once_offer_each_entry_one_slot(round_: int) -> None:
    # given two booked visits of two masters at the same time, and two entries for "any master"
    salon = salon_make()
    start = future(days=2)
    visits = [book(salon, salon.client(), start, staff=s) for s in (salon.master, salon.other_master)]
    entries = [_join(salon, salon.client(), start) for _ in range(2)]
    # when both visits are cancelled at the same moment
    results = _parallel([lambda v=v: cancel(salon, v) for v in visits])
    assert [getattr(r, "status", r) for r in results] == [AppointmentStatus.CANCELLED] * 2
    # then each entry holds exactly one offer (the first in line is not offered both), on different masters
    offers = list(WaitlistOffer.objects.filter(status=WaitlistOfferStatus.OFFERED))
    assert sorted(o.entry_id for o in offers) == sorted(e.pk for e in entries)
    assert {o.staff_id for o in offers} == {salon.master.pk, salon.other_master.pk}
    assert Occupancy.objects.filter(is_active=True, client__isnull=True).count() == 2  # the two holds (masters)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(20))
def test_an_offer_expiring_while_being_taken_ends_one_way(round_: int) -> None:
    salon = salon_make()
    start = future(days=2)
    booked = book(salon, salon.client(), start)
    client = salon.client()
    customer = UserFactory(phone=client.phone)
    entry = _join(salon, client, start)
    _join(salon, salon.client(), start)  # the next in line
    cancel(salon, booked)
    offer = WaitlistOffer.objects.get(entry=entry)
    # the hold ends within a few milliseconds: the take and the expiry land on either side of it (or together)
    edge = timezone.now() + dt.timedelta(milliseconds=5 * (round_ % 4))
    WaitlistOffer.objects.filter(pk=offer.pk).update(hold_until=edge)
    results = _parallel(
        [
            lambda: waitlist_offer_take(user=customer, offer_id=offer.pk),
            lambda: waitlist_offer_expire(offer_id=offer.pk, now=edge),
        ]
    )
    offer.refresh_from_db()
    entry.refresh_from_db()
    took = isinstance(results[0], Appointment)
    assert all(isinstance(r, (Appointment, ApplicationError, str)) for r in results), results
    if took:
        assert (offer.status, entry.status, results[1]) == ("taken", "booked", "closed")
        assert Appointment.objects.get(pk=offer.appointment_id).status == AppointmentStatus.BOOKED
        assert WaitlistOffer.objects.filter(status="offered").count() == 0
    else:
        assert isinstance(results[0], Conflict) and results[0].code == "offer_gone"
        assert (offer.status, entry.status, results[1]) == ("expired", "waiting", "expired")
        assert Appointment.objects.get(pk=offer.appointment_id).status == AppointmentStatus.CANCELLED
        assert WaitlistOffer.objects.filter(status="offered").count() == 1  # passed to the next in line
    outcomes = Counter(o.status for o in WaitlistOffer.objects.filter(entry=entry))
    assert sum(outcomes.values()) == 1


@pytest.mark.django_db
def test_a_service_the_branch_does_not_offer_or_a_master_of_another_branch_is_refused() -> None:
    """An entry no slot could ever match is refused by the booking's own rules, and nothing is written."""
    from backend.catalog.models import Service

    salon = salon_make()
    client = salon.client()
    start = future(days=2)
    # The organization's own service, but not listed for this branch.
    unlisted = Service.objects.create(organization=salon.org, name="Colouring", duration_minutes=60)
    StaffService.objects.create(organization=salon.org, staff=salon.master, service=unlisted)
    # A master of the organization narrowed to another branch performs the service, but not here.
    elsewhere = BranchFactory(organization=salon.org, name="Riverside")
    outsider = UserFactory()
    MembershipFactory(user=outsider, organization=salon.org, role=Role.MASTER, branch=elsewhere)
    StaffService.objects.create(organization=salon.org, staff=outsider, service=salon.service)
    cases = [({"service_id": unlisted.pk}, "service_id"), ({"staff_id": outsider.pk}, "staff_id")]
    for changes, field in cases:
        kwargs: dict[str, Any] = {
            "user": salon.manager,
            "branch_id": salon.branch.pk,
            "service_id": salon.service.pk,
            "client_id": client.pk,
            "windows": [(start, start + H)],
            **changes,
        }
        with pytest.raises(ValidationFailed) as caught:
            waitlist_join(**kwargs)
        assert caught.value.code == "invalid_reference"
        assert field in caught.value.fields
    assert not WaitlistEntry.objects.exists()


@pytest.mark.django_db
def test_a_customers_cancel_replays_after_the_freed_slot_is_held_for_someone_else() -> None:
    """The hold made for the next in line is not part of the cancel's answer: a retried cancel with the same
    Idempotency-Key replays the first answer instead of being refused for a stranger's appointment."""
    from tests.conftest import ApiClient

    salon = salon_make()
    start = future(days=3)
    customer = UserFactory()
    api = ApiClient(customer)
    booked = api.post(
        "/api/v1/booking/appointments",
        {
            "branch_id": salon.branch.pk,
            "service_id": salon.service.pk,
            "staff_id": salon.master.pk,
            "start": start.isoformat(),
        },
    )
    assert booked.status_code == 201, booked.content
    _join(salon, salon.client(first_name="Waiter"), start)
    headers = {"Idempotency-Key": "cancel-1"}
    first = api.post(f"/api/v1/booking/appointments/{booked.json()['id']}/cancel", {}, headers=headers)
    assert first.status_code == 200, first.content
    assert WaitlistOffer.objects.filter(status=WaitlistOfferStatus.OFFERED).count() == 1
    again = api.post(f"/api/v1/booking/appointments/{booked.json()['id']}/cancel", {}, headers=headers)
    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    assert WaitlistOffer.objects.count() == 1
