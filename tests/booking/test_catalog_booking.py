"""The catalog for booking: what a branch offers, how a service is booked (group capacity, buffers, resource kind),
the online switches of organization, branch, offer, service and master, and the booking policy with its defaults."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from backend.booking.exceptions import BookingErrorCode
from backend.booking.services.appointments import appointment_create_for_customer
from backend.booking.services.catalog import (
    booking_policy,
    booking_policy_update,
    branch_booking_update,
    branch_service_set,
    service_booking_update,
    staff_service_online_set,
)
from backend.catalog.models import BranchService, Service, StaffService
from backend.core.exceptions import ApplicationError, NotFound, PermissionDenied, ValidationFailed
from backend.core.models import Event, EventAction
from backend.organizations.models import Branch, Role
from tests.booking.appointments_world import NOW, World, local, world_build
from tests.conftest import member
from tests.factories import BranchFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db: Any) -> World:
    return world_build()


def owner_of(w: World) -> Any:
    return member(w.org, Role.OWNER)


def test_the_policy_defaults_and_the_branch_overrides(w: World) -> None:
    # given a new organization with its defaults
    org = OrganizationFactory()
    branch = BranchFactory(organization=org, time_zone="")
    policy = booking_policy(branch)
    # then: step 15, lead time 60 min, horizon 60 days, cutoff 120 min, reminders 24 h and 2 h, online off
    assert (policy.slot_step_minutes, policy.lead_time_minutes, policy.horizon_days) == (15, 60, 60)
    assert (policy.cancel_cutoff_minutes, policy.reminder_offsets_minutes, policy.online) == (120, (1440, 120), False)
    assert policy.time_zone == org.time_zone
    # when an owner sets the organization's policy and a branch overrides two of its values
    owner = member(org, Role.OWNER)
    booking_policy_update(
        user=owner,
        organization_id=org.pk,
        online_booking=True,
        slot_step_minutes=30,
        lead_time_minutes=0,
        cancel_cutoff_minutes=24 * 60,
        reminder_offsets_minutes=[60, 2880, 60],
    )
    branch_booking_update(user=owner, branch_id=branch.pk, slot_step_minutes=10, horizon_days=14)
    branch.refresh_from_db()
    policy = booking_policy(Branch.objects.select_related("organization").get(pk=branch.pk))
    # then the branch uses its own step and horizon and the organization's other values
    assert (policy.slot_step_minutes, policy.lead_time_minutes, policy.horizon_days) == (10, 0, 14)
    assert (policy.cancel_cutoff_minutes, policy.reminder_offsets_minutes, policy.online) == (1440, (2880, 60), True)
    # and None puts a branch back on the organization's value
    branch_booking_update(user=owner, branch_id=branch.pk, slot_step_minutes=None)
    assert booking_policy(Branch.objects.select_related("organization").get(pk=branch.pk)).slot_step_minutes == 30
    # and each change is an event
    assert Event.objects.filter(entity_type="organizations.organization", action=EventAction.UPDATE).count() == 1
    assert Event.objects.filter(entity_type="organizations.branch", action=EventAction.UPDATE).count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slot_step_minutes": 7}, "slot_step_minutes"),
        ({"lead_time_minutes": -1}, "lead_time_minutes"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"horizon_days": 10_000}, "horizon_days"),
        ({"cancel_cutoff_minutes": True}, "cancel_cutoff_minutes"),
        ({"reminder_offsets_minutes": [0]}, "reminder_offsets_minutes"),
        ({"reminder_offsets_minutes": [1, 2, 3, 4, 5, 6]}, "reminder_offsets_minutes"),
        ({"reminder_offsets_minutes": [10**9]}, "reminder_offsets_minutes"),
    ],
)
def test_a_bad_policy_is_refused_with_its_field_and_changes_nothing(w: World, change: dict, field: str) -> None:
    before = list(w.org.__class__.objects.filter(pk=w.org.pk).values())
    with pytest.raises(ValidationFailed) as caught:
        booking_policy_update(user=owner_of(w), organization_id=w.org.pk, **change)
    assert (caught.value.code, list(caught.value.fields)) == (BookingErrorCode.INVALID_POLICY, [field])
    assert list(w.org.__class__.objects.filter(pk=w.org.pk).values()) == before


def test_only_owners_set_the_policy_and_strangers_get_a_404(w: World) -> None:
    with pytest.raises(PermissionDenied):
        booking_policy_update(user=w.manager, organization_id=w.org.pk, online_booking=False)
    stranger = member(OrganizationFactory(), Role.OWNER)
    with pytest.raises(NotFound):
        booking_policy_update(user=stranger, organization_id=w.org.pk, online_booking=False)
    with pytest.raises(NotFound):
        branch_booking_update(user=stranger, branch_id=w.branch.pk, online_booking=False)


def test_a_service_is_set_up_for_booking(w: World) -> None:
    service = Service.objects.create(organization=w.org, name="Pilates", price=Decimal("3000"))
    updated = service_booking_update(
        user=w.manager,
        service_id=service.pk,
        is_group=True,
        capacity=12,
        buffer_before_minutes=5,
        buffer_after_minutes=15,
        resource_kind="room",
        online_booking=False,
    )
    assert (updated.is_group, updated.capacity, updated.buffer_before_minutes, updated.buffer_after_minutes) == (
        True,
        12,
        5,
        15,
    )
    assert (updated.resource_kind, updated.online_booking) == ("room", False)
    [event] = Event.objects.filter(entity_type="catalog.service", entity_id=str(service.pk))
    assert event.after["capacity"] == 12


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": 1001}, "capacity"),
        ({"is_group": True, "capacity": 1}, "capacity"),
        ({"buffer_after_minutes": 241}, "buffer_after_minutes"),
        ({"buffer_before_minutes": -5}, "buffer_before_minutes"),
        ({"resource_kind": "spaceship"}, "resource_kind"),
    ],
)
def test_a_bad_service_setup_is_refused_and_changes_nothing(w: World, change: dict, field: str) -> None:
    before = list(Service.objects.filter(pk=w.haircut.pk).values())
    with pytest.raises(ValidationFailed) as caught:
        service_booking_update(user=w.manager, service_id=w.haircut.pk, **change)
    assert (caught.value.code, list(caught.value.fields)) == (BookingErrorCode.INVALID_CATALOG, [field])
    assert list(Service.objects.filter(pk=w.haircut.pk).values()) == before


def test_a_branch_offers_a_service_and_stops_offering_it(w: World) -> None:
    service = Service.objects.create(organization=w.org, name="Beard trim", duration_minutes=30)
    offer = branch_service_set(user=w.manager, branch_id=w.branch.pk, service_id=service.pk, online_booking=False)
    assert (offer.is_active, offer.online_booking, offer.organization_id) == (True, False, w.org.pk)
    same = branch_service_set(user=w.manager, branch_id=w.branch.pk, service_id=service.pk, offered=False)
    assert same.pk == offer.pk and not same.is_active
    assert BranchService.objects.filter(branch=w.branch, service=service).count() == 1
    # another organization's service is no reference; another tenant's branch is a 404; a master may not
    foreign = Service.objects.create(organization=OrganizationFactory(), name="Foreign")
    with pytest.raises(ValidationFailed) as caught:
        branch_service_set(user=w.manager, branch_id=w.branch.pk, service_id=foreign.pk)
    assert caught.value.code == BookingErrorCode.INVALID_REFERENCE
    with pytest.raises(NotFound):
        branch_service_set(user=member(foreign.organization, Role.OWNER), branch_id=w.branch.pk, service_id=service.pk)
    with pytest.raises(PermissionDenied):
        branch_service_set(user=w.master, branch_id=w.branch.pk, service_id=service.pk)


def _off(w: World, switch: str) -> None:
    """Turn one online switch on the way to booking a haircut with Aigerim off."""
    if switch == "organization":
        booking_policy_update(user=owner_of(w), organization_id=w.org.pk, online_booking=False)
    elif switch == "branch":
        branch_booking_update(user=owner_of(w), branch_id=w.branch.pk, online_booking=False)
    elif switch == "offer":
        branch_service_set(user=w.manager, branch_id=w.branch.pk, service_id=w.haircut.pk, online_booking=False)
    elif switch == "not offered":
        branch_service_set(user=w.manager, branch_id=w.branch.pk, service_id=w.haircut.pk, offered=False)
    elif switch == "service":
        service_booking_update(user=w.manager, service_id=w.haircut.pk, online_booking=False)
    elif switch == "master":
        link = StaffService.objects.get(staff=w.master, service=w.haircut)
        staff_service_online_set(user=w.manager, staff_service_id=link.pk, online_booking=False)


@pytest.mark.parametrize(
    ("switch", "code"),
    [
        ("organization", "not_found"),
        ("branch", "not_found"),
        ("offer", "not_found"),
        ("not offered", "not_found"),
        ("service", "not_found"),
        ("master", BookingErrorCode.STAFF_UNAVAILABLE),
    ],
)
def test_every_online_switch_on_the_way_must_be_on_for_a_customer(w: World, switch: str, code: str) -> None:
    def book() -> Any:
        return appointment_create_for_customer(
            user=w.customer,
            branch_id=w.branch.pk,
            service_ids=[w.haircut.pk],
            staff_id=w.master.pk,
            start=local(2, 10),
            now=NOW,
        )

    _off(w, switch)
    with pytest.raises(ApplicationError) as caught:
        book()
    assert caught.value.code == code
