from __future__ import annotations

from decimal import Decimal

import pytest

from backend.catalog.models import Service
from backend.catalog.services import (
    service_create,
    service_group_create,
    service_restore,
    service_soft_delete,
    service_update,
)
from backend.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from backend.core.models import Event, EventAction
from backend.organizations.models import Role
from tests.conftest import member
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db


def test_service_writes_record_events_and_codes_are_unique_per_organization(
    org, other_org, manager, other_manager
) -> None:
    group = service_group_create(user=manager, organization_id=org.id, name="Hair")
    cut = service_create(
        user=manager,
        organization_id=org.id,
        name="Haircut",
        price="1500,50",
        duration_minutes=45,
        code="H1",
        group_id=group.id,
    )
    service_update(user=manager, service_id=cut.id, data={"price": Decimal("1600")})
    service_soft_delete(user=manager, service_id=cut.id)
    service_restore(user=manager, service_id=cut.id)
    service_create(user=other_manager, organization_id=other_org.id, name="Haircut", code="H1")

    cut.refresh_from_db()
    assert cut.price == Decimal("1600.00") and cut.currency == org.currency and cut.deleted_at is None
    actions = list(
        Event.objects.filter(entity_type="catalog.service", entity_id=str(cut.id))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [EventAction.CREATE, EventAction.UPDATE, EventAction.DELETE, EventAction.RESTORE]
    with pytest.raises(Conflict) as exc:
        service_create(user=manager, organization_id=org.id, name="Other", code="H1")
    assert exc.value.code == "service_code_taken"


@pytest.mark.parametrize(
    "field,value",
    [
        ("price", "-1"),
        ("price", "abc"),
        ("price", "1e20"),
        ("duration_minutes", 0),
        ("duration_minutes", 1441),
        ("name", ""),
    ],
)
def test_invalid_service_fields_write_nothing(org, manager, field, value) -> None:
    data = {"name": "Cut", "price": "10", "duration_minutes": 30, field: value}
    with pytest.raises(ValidationFailed):
        service_create(user=manager, organization_id=org.id, **data)
    assert not Service.objects.exists() and not Event.objects.filter(entity_type="catalog.service").exists()


def test_catalog_changes_need_the_right(org, other_org, manager, other_manager) -> None:
    cut = service_create(user=manager, organization_id=org.id, name="Haircut")
    master = member(org, Role.MASTER)
    with pytest.raises(PermissionDenied):
        service_update(user=master, service_id=cut.id, data={"name": "x"})
    with pytest.raises(NotFound):
        service_update(user=other_manager, service_id=cut.id, data={"name": "x"})
    cut.refresh_from_db()
    assert cut.name == "Haircut"


def test_branches_api_lists_my_branches_and_404s_another_tenant(api_client, org, other_org, manager) -> None:
    mine = BranchFactory(organization=org, name="Center")
    BranchFactory(organization=other_org, name="Theirs")
    api = api_client(manager)

    listed = api.get("/api/v1/catalog/branches")
    assert listed.status_code == 200
    assert [b["id"] for b in listed.json()["items"]] == [mine.id]
    assert listed.json()["items"][0]["time_zone"] == org.time_zone
    assert api.get("/api/v1/catalog/branches", {"organization_id": org.id}).status_code == 200
    assert api.get("/api/v1/catalog/branches", {"organization_id": other_org.id}).status_code == 404


def test_services_api_by_branch(api_client, org, other_org, manager, other_manager) -> None:
    branch = BranchFactory(organization=org)
    foreign_branch = BranchFactory(organization=other_org)
    group = service_group_create(user=manager, organization_id=org.id, name="Hair")
    cut = service_create(user=manager, organization_id=org.id, name="Haircut", price="1500", group_id=group.id)
    gone = service_create(user=manager, organization_id=org.id, name="Old")
    service_soft_delete(user=manager, service_id=gone.id)
    service_create(user=manager, organization_id=org.id, name="Paused", is_active=False)
    service_create(user=other_manager, organization_id=other_org.id, name="Theirs")
    api = api_client(manager)

    response = api.get("/api/v1/catalog/services", {"branch_id": branch.id})

    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["id"] == cut.id and item["price"] == "1500.00" and item["currency"] == "KZT"
    assert item["group_name"] == "Hair" and item["duration_minutes"] == 60
    assert api.get("/api/v1/catalog/services", {"branch_id": foreign_branch.id}).status_code == 404
    assert api.get("/api/v1/catalog/services", {"branch_id": 2**63}).status_code == 422
    assert api.get("/api/v1/catalog/services").status_code == 422
    worker = member(org, Role.WORKER)
    assert api_client(worker).get("/api/v1/catalog/services", {"branch_id": branch.id}).status_code == 403
