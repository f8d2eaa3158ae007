"""``GET /sync``: a phone that replays a day of changes through the sync pages ends with exactly the server's view;
tombstones for cancellations and deletions; another user's and another tenant's changes never appear; a cursor past
the retention window is a 410 ``sync_cursor_expired``; a forged or foreign cursor a 422."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.core import signing
from django.utils import timezone

from backend.booking.services import appointments as booking
from backend.crm.services import clients as crm
from backend.mobile.services import sync
from backend.organizations.models import Role
from backend.staffing.models import Offer
from backend.staffing.services import offers as staffing
from tests.booking.appointments_world import ZONE, World, world_build
from tests.conftest import ApiClient, member
from tests.factories import UserFactory
from tests.mobile.phone import SYNC, Phone, feed_settled, server_view
from tests.staffing.world import order_with_shift, pool_worker, staffing_world

# The feed serves only committed work (decision 0022). On PostgreSQL the test's own open transaction is exactly such
# unfinished work, so these tests commit for real there; SQLite has one writer and may stay in the test transaction.
pytestmark = pytest.mark.django_db(transaction=settings.IS_POSTGRES)


def at(days: int, hour: int) -> dt.datetime:
    day = timezone.now().astimezone(ZONE).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=ZONE)


def book(w: World, customer: Any, days: int, hour: int) -> Any:
    return booking.appointment_create_for_customer(
        user=customer, branch_id=w.branch.pk, service_ids=[w.haircut.pk], start=at(days, hour), staff_id=w.master.pk
    )


@pytest.fixture
def w(db: Any) -> World:
    return world_build()


def test_a_customer_replays_a_day_of_bookings_and_ends_with_the_servers_view(w: World) -> None:
    phone = Phone(ApiClient(w.customer))
    stranger = UserFactory(first_name="Other")
    phone.sync()  # morning: the snapshot has only the profile
    assert set(phone.copy) == {("profile", w.customer.pk)}

    first = book(w, w.customer, 2, 10)
    second = book(w, w.customer, 3, 11)
    theirs = book(w, stranger, 2, 15)  # another customer at the same salon
    phone.sync(limit=1)
    assert phone.ids("appointments") == {first.pk, second.pk}

    booking.appointment_reschedule(user=w.customer, appointment_id=first.pk, start=at(4, 10))
    booking.appointment_cancel(user=w.customer, appointment_id=second.pk, reason="ill")
    booking.appointment_cancel(user=stranger, appointment_id=theirs.pk)
    phone.sync(limit=2)

    # the cancelled visit came as a tombstone, the moved one with its new time
    assert ("appointments", second.pk) in phone.seen and ("appointments", second.pk) not in phone.copy
    moved = phone.copy[("appointments", first.pk)]
    assert dt.datetime.fromisoformat(moved["start"]) == at(4, 10)
    # the copy equals a fresh snapshot and the customer's own list
    assert phone.copy == server_view(phone.api)
    listed = {
        a["id"] for a in phone.api.get("/api/v1/booking/appointments").json()["items"] if a["status"] != "cancelled"
    }
    assert phone.ids("appointments") == listed
    # the other customer's visit never appeared, not even as a tombstone
    assert ("appointments", theirs.pk) not in phone.seen


def test_staff_sync_the_clients_they_may_see_with_tombstones_and_never_another_tenants(w: World) -> None:
    other = world_build("Salon B")
    phone = Phone(ApiClient(w.master))  # a master may read the salon's clients
    phone.sync()
    kept = crm.client_create(user=w.manager, organization_id=w.org.pk, phone="+77010000001", first_name="Ann")
    gone = crm.client_create(user=w.manager, organization_id=w.org.pk, phone="+77010000002", first_name="Bob")
    foreign = crm.client_create(user=other.manager, organization_id=other.org.pk, phone="+77010000003")
    phone.sync()
    crm.client_update(user=w.manager, client_id=kept.pk, data={"first_name": "Anna"})
    crm.client_soft_delete(user=w.manager, client_id=gone.pk)
    crm.client_update(user=other.manager, client_id=foreign.pk, data={"first_name": "Zed"})
    phone.sync()
    assert phone.copy[("clients", kept.pk)]["first_name"] == "Anna"
    assert ("clients", gone.pk) in phone.seen and ("clients", gone.pk) not in phone.copy
    assert ("clients", foreign.pk) not in phone.seen
    assert phone.copy == server_view(phone.api)


def test_a_worker_syncs_offers_and_shifts_and_never_a_colleagues() -> None:
    world = staffing_world(0)
    _, shift = order_with_shift(world.franchise, call_cap=1)
    mine, colleague = pool_worker(world.hq), pool_worker(world.hq)
    offers = [
        Offer.objects.create(organization=world.franchise, shift=shift, worker=who, position=i)
        for i, who in enumerate((mine, colleague))
    ]
    phone = Phone(ApiClient(mine.user))
    phone.sync()
    staffing.offers_send(shift=shift, offers=offers, wave=1)
    phone.sync()
    assert phone.ids("offers") == {offers[0].pk} and not phone.ids("shifts")
    staffing.offer_accept(user=mine.user, offer_id=offers[0].pk)
    staffing.offer_decline(user=colleague.user, offer_id=offers[1].pk)
    phone.sync()
    # accepted: it left the open offers (tombstone) and became a shift
    assert not phone.ids("offers") and phone.ids("shifts") == {offers[0].pk}
    assert phone.copy[("shifts", offers[0].pk)]["status"] == "accepted"
    assert not any(pk == offers[1].pk for _, pk in phone.seen)
    assert phone.copy == server_view(phone.api)


def test_a_cursor_older_than_the_retention_window_is_410_and_a_new_snapshot_works(w: World, settings: Any) -> None:
    settings.BRIGADA_SYNC_RETENTION = dt.timedelta(days=30)
    phone = Phone(ApiClient(w.customer))
    phone.sync()

    class IssuedLongAgo(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(timezone.now().timestamp()) - 31 * 24 * 3600)

    old = IssuedLongAgo(salt=sync.SALT).sign_object(
        {"u": w.customer.pk, "m": "d", "p": [0, 0]}, serializer=signing.JSONSerializer, compress=True
    )
    response = phone.api.get(SYNC, {"since": old})
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "sync_cursor_expired"
    # the fresh cursor still works, and starting over gives the snapshot
    assert phone.api.get(SYNC, {"since": phone.cursor}).status_code == 200
    assert phone.api.get(SYNC).json()["snapshot"] is True


@pytest.mark.parametrize("tamper", ["forged", "another_user", "garbage"])
def test_a_forged_or_foreign_cursor_is_422_invalid_cursor(w: World, tamper: str) -> None:
    phone = Phone(ApiClient(w.customer))
    phone.sync()
    assert phone.cursor is not None
    cursor = {
        "forged": phone.cursor[:-2] + ("AA" if not phone.cursor.endswith("AA") else "BB"),
        "another_user": sync._cursor_issue(w.manager, {"m": "d", "p": [0, 0]}),
        "garbage": "x" * 50,
    }[tamper]
    response = phone.api.get(SYNC, {"since": cursor})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_cursor"


def test_sync_needs_a_signed_in_caller() -> None:
    assert ApiClient().get(SYNC).status_code == 401


def test_a_manager_role_alone_does_not_pull_other_masters_visits(w: World) -> None:
    # the master syncs only visits with a line of theirs; a colleague's visit stays out
    mine = book(w, w.customer, 2, 10)
    colleague = booking.appointment_create_for_customer(
        user=w.customer, branch_id=w.branch.pk, service_ids=[w.haircut.pk], start=at(2, 15), staff_id=w.other_master.pk
    )
    phone = Phone(ApiClient(w.master))
    phone.sync()
    assert ("appointments", mine.pk) in phone.copy and ("appointments", colleague.pk) not in phone.seen
    member(w.org, Role.WORKER)  # unrelated membership change: nothing for this phone
    phone.sync()
    assert ("appointments", colleague.pk) not in phone.seen


def test_without_the_scope_a_strangers_visit_would_leak(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard is real: with the appointments' scope removed, the check above sees the stranger's visit."""
    import dataclasses

    from backend.booking.models import Appointment

    unscoped = tuple(
        dataclasses.replace(c, scope=lambda _caller: Appointment.objects.all()) if c.name == "appointments" else c
        for c in sync.COLLECTIONS
    )
    monkeypatch.setattr(sync, "COLLECTIONS", unscoped)
    phone = Phone(ApiClient(w.customer))
    phone.sync()
    theirs = book(w, UserFactory(), 2, 15)
    phone.sync()
    assert ("appointments", theirs.pk) in phone.seen


def test_a_membership_change_of_mine_asks_for_a_resync_and_the_snapshot_brings_the_new_organization(w: World) -> None:
    from backend.organizations.services import membership_grant

    other = world_build("Salon B")
    theirs = crm.client_create(user=other.manager, organization_id=other.org.pk, phone="+77010000031")
    phone = Phone(ApiClient(w.master))
    phone.sync()
    owner = member(other.org, Role.OWNER)
    membership_grant(user=owner, member_id=UserFactory().pk, organization_id=other.org.pk, role=Role.MASTER)
    phone.sync()  # someone else's membership: nothing to do with this phone
    membership_grant(user=owner, member_id=w.master.pk, organization_id=other.org.pk, role=Role.MASTER)
    feed_settled()  # the grant is served (tests/mobile/phone.py)
    response = phone.api.get(SYNC, {"since": phone.cursor})
    assert response.status_code == 410 and response.json()["error"]["code"] == "sync_resync_required"
    phone.cursor = None
    phone.sync()
    assert ("clients", theirs.pk) in phone.copy
