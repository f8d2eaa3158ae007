"""Adding many vehicles at once: the single path's checks for every row, all or nothing."""

from __future__ import annotations

import pytest

from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import Event, EventAction
from backend.crm.models import Client, Vehicle
from backend.crm.services.vehicles_bulk import VehicleRow, vehicles_create_many
from backend.organizations.models import Role
from tests.conftest import member
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_vehicles_for_live_clients_of_the_organization_only() -> None:
    org, other = OrganizationFactory(), OrganizationFactory()
    manager = member(org, Role.MANAGER)
    a = Client.objects.create(organization=org, phone="+995577000001")
    b = Client.objects.create(organization=org, phone="+995577000002")
    theirs = Client.objects.create(organization=other, phone="+995577000003")

    created = vehicles_create_many(
        user=manager,
        organization_id=org.pk,
        rows=[VehicleRow(a.pk, "Toyota", "Camry", "aa 123 bb", year=2015), VehicleRow(b.pk, "Opel", plate="x1")],
    )

    assert {v.plate for v in created} == {"AA123BB", "X1"}  # cleaned like the single path
    assert Event.objects.filter(entity_type="crm.vehicle", action=EventAction.CREATE).count() == 2
    with pytest.raises(NotFound):
        vehicles_create_many(user=manager, organization_id=org.pk, rows=[VehicleRow(theirs.pk)])
    with pytest.raises(ValidationFailed):
        vehicles_create_many(user=manager, organization_id=org.pk, rows=[VehicleRow(a.pk), VehicleRow(b.pk, year=1800)])
    Client.objects.filter(pk=b.pk).update(deleted_at=a.created_at)
    with pytest.raises(Conflict):
        vehicles_create_many(user=manager, organization_id=org.pk, rows=[VehicleRow(a.pk), VehicleRow(b.pk)])
    assert Vehicle.objects.count() == 2
