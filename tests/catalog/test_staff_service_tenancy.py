"""staff_service_save checks the organization of the row being changed, not only of the service it points to."""

from __future__ import annotations

import pytest

from backend.catalog.models import StaffService
from backend.catalog.services import service_create, staff_service_save
from backend.core.exceptions import NotFound, PermissionDenied
from backend.core.models import Event
from backend.organizations.models import Role
from tests.conftest import member

pytestmark = pytest.mark.django_db


def _row(owner, organization) -> StaffService:
    service = service_create(user=owner, organization_id=organization.id, name="Wash")
    return staff_service_save(user=owner, staff_service=StaffService(staff=owner, service=service))


def test_a_row_of_another_organization_is_not_found_even_when_moved_to_mine(org, other_org, manager, other_manager):
    theirs = _row(other_manager, other_org)
    mine = service_create(user=manager, organization_id=org.id, name="Polish")
    events = Event.objects.count()

    hijack = StaffService.objects.get(pk=theirs.pk)
    hijack.service = mine
    hijack.staff = manager
    with pytest.raises(NotFound):
        staff_service_save(user=manager, staff_service=hijack)

    stored = StaffService.objects.get(pk=theirs.pk)
    assert (stored.organization_id, stored.service_id, stored.staff_id) == (
        other_org.id,
        theirs.service_id,
        other_manager.id,
    )
    assert Event.objects.count() == events


def test_a_row_of_my_organization_needs_the_catalog_right(org, manager):
    row = _row(manager, org)
    master = member(org, Role.MASTER)
    row.price = 10
    with pytest.raises(PermissionDenied):
        staff_service_save(user=master, staff_service=row)
    assert StaffService.objects.get(pk=row.pk).price is None
