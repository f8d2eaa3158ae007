from __future__ import annotations

import pytest

from backend.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from backend.core.models import Event, EventAction
from backend.crm.models import Client
from backend.crm.selectors import client_counts, client_get, client_history, organization_client_events
from backend.crm.services import (
    client_bulk_update,
    client_create,
    client_group_create,
    client_restore,
    client_soft_delete,
    client_source_create,
    client_update,
)
from backend.organizations.models import Role
from tests.conftest import member

pytestmark = pytest.mark.django_db


def _events(client: Client) -> list[Event]:
    return list(Event.objects.filter(entity_type="crm.client", entity_id=str(client.pk)).order_by("id"))


def test_create_normalises_fields_and_records_a_create_event(org, manager) -> None:
    client = client_create(
        user=manager,
        organization_id=org.id,
        phone="8 701 123 45 67",
        first_name=" Ольга ",
        last_name="Ёлкина",
        email="Olga@Example.COM",
        consents={"messages": {"given": True, "how": "paper form"}},
    )

    client.refresh_from_db()
    assert client.phone == "+77011234567"
    assert client.first_name == "Ольга"
    assert client.email == "olga@example.com"
    assert client.search_text == "елкина ольга olga@example.com"
    assert client.consent_messages_at is not None and client.consent_messages_by == manager
    assert client.consent_marketing_at is None
    [event] = _events(client)
    assert event.action == EventAction.CREATE and event.actor == manager
    assert event.after["phone"] == "+77011234567" and event.after["groups"] == []


def test_duplicate_phone_is_a_conflict_even_when_the_first_client_is_deleted(org, manager) -> None:
    first = client_create(user=manager, organization_id=org.id, phone="+77011234567")
    client_soft_delete(user=manager, client_id=first.id)
    events_before = Event.objects.count()

    with pytest.raises(Conflict) as exc:
        client_create(user=manager, organization_id=org.id, phone="+7 701 123 4567")

    assert exc.value.code == "client_phone_taken"
    assert exc.value.fields["existing_client_id"] == first.id and exc.value.fields["existing_client_deleted"]
    assert Client.objects.count() == 1 and Event.objects.count() == events_before


def test_the_same_phone_in_another_organization_is_fine(org, other_org, manager, other_manager) -> None:
    client_create(user=manager, organization_id=org.id, phone="+77011234567")
    client_create(user=other_manager, organization_id=other_org.id, phone="+77011234567")
    assert Client.objects.count() == 2


def test_update_records_only_the_difference(org, manager) -> None:
    client = client_create(user=manager, organization_id=org.id, phone="+77011234567", first_name="Ann")
    client_update(user=manager, client_id=client.id, data={"first_name": "Anna", "notes": "likes tea"})
    client_update(user=manager, client_id=client.id, data={"first_name": "Anna"})  # no change, no event

    events = _events(client)
    assert [e.action for e in events] == [EventAction.CREATE, EventAction.UPDATE]
    assert events[1].before == {"first_name": "Ann", "notes": ""}
    assert events[1].after == {"first_name": "Anna", "notes": "likes tea"}


def test_invalid_fields_change_nothing(org, manager) -> None:
    client = client_create(user=manager, organization_id=org.id, phone="+77011234567", first_name="Ann")
    with pytest.raises(ValidationFailed) as exc:
        client_update(user=manager, client_id=client.id, data={"first_name": "Bob", "email": "not-an-email"})
    assert "email" in exc.value.fields
    client.refresh_from_db()
    assert client.first_name == "Ann" and len(_events(client)) == 1


def test_references_from_another_organization_are_refused(org, other_org, manager, other_manager) -> None:
    foreign_source = client_source_create(user=other_manager, organization_id=other_org.id, name="Instagram")
    with pytest.raises(ValidationFailed) as exc:
        client_create(user=manager, organization_id=org.id, phone="+77011234567", source_id=foreign_source.id)
    assert exc.value.code == "invalid_reference" and Client.objects.count() == 0


def test_deleted_client_stays_in_history_and_counts_and_can_be_restored(org, manager) -> None:
    client = client_create(user=manager, organization_id=org.id, phone="+77011234567", first_name="Ann")
    client_create(user=manager, organization_id=org.id, phone="+77011234568")

    client_soft_delete(user=manager, client_id=client.id)

    assert Client.objects.filter(pk=client.pk).exists()  # never hard-deleted
    assert client_counts(user=manager, organization_id=org.id) == {"total": 2, "active": 1, "deleted": 1}
    history = client_history(user=manager, client_id=client.id).items
    assert [e.action for e in history] == [EventAction.DELETE, EventAction.CREATE]
    org_log = organization_client_events(user=manager, organization_id=org.id).items
    assert {e.entity_id for e in org_log} >= {str(client.id)}
    assert client_get(user=manager, client_id=client.id).is_deleted
    with pytest.raises(Conflict):
        client_update(user=manager, client_id=client.id, data={"first_name": "Bob"})

    client_restore(user=manager, client_id=client.id)

    client.refresh_from_db()
    assert client.deleted_at is None
    assert client_history(user=manager, client_id=client.id).items[0].action == EventAction.RESTORE
    assert client_counts(user=manager, organization_id=org.id) == {"total": 2, "active": 2, "deleted": 0}


def test_roles_and_tenancy_on_writes(org, other_org, manager, other_manager) -> None:
    client = client_create(user=manager, organization_id=org.id, phone="+77011234567")
    dispatcher = member(org, Role.DISPATCHER)
    master = member(org, Role.MASTER)

    with pytest.raises(NotFound):
        client_update(user=other_manager, client_id=client.id, data={"first_name": "x"})
    with pytest.raises(PermissionDenied):
        client_update(user=master, client_id=client.id, data={"first_name": "x"})
    with pytest.raises(PermissionDenied):  # dispatchers edit clients but do not delete them
        client_soft_delete(user=dispatcher, client_id=client.id)
    with pytest.raises(NotFound):
        client_get(user=other_manager, client_id=client.id)
    client.refresh_from_db()
    assert client.first_name == "" and client.deleted_at is None and len(_events(client)) == 1


def test_bulk_update_is_one_update_and_one_event_per_changed_client(
    org, manager, django_assert_max_num_queries
) -> None:
    source = client_source_create(user=manager, organization_id=org.id, name="Instagram")
    vip = client_group_create(user=manager, organization_id=org.id, name="VIP")
    clients = [client_create(user=manager, organization_id=org.id, phone=f"+7701123450{i}") for i in range(5)]
    client_update(user=manager, client_id=clients[0].id, data={"source_id": source.id, "group_ids": [vip.id]})
    ids = [c.id for c in clients]

    with django_assert_max_num_queries(16):
        changed = client_bulk_update(
            user=manager, organization_id=org.id, client_ids=ids, source_id=source.id, add_group_ids=[vip.id]
        )

    assert changed == 4  # the first client already had both
    assert set(Client.objects.filter(id__in=ids).values_list("source_id", flat=True)) == {source.id}
    assert all(vip.id in c.groups.values_list("id", flat=True) for c in Client.objects.filter(id__in=ids))
    bulk = list(Event.objects.filter(action=EventAction.BULK_UPDATE).order_by("entity_id"))
    assert sorted(int(e.entity_id) for e in bulk) == ids[1:]
    assert len({e.batch_id for e in bulk}) == 1 and bulk[0].actor == manager
    assert bulk[0].before == {"source": None, "groups": []}
    assert bulk[0].after == {"source": source.id, "groups": [vip.id]}


def test_bulk_update_outside_the_organization_changes_nothing(org, other_org, manager, other_manager) -> None:
    mine = client_create(user=manager, organization_id=org.id, phone="+77011234567")
    theirs = client_create(user=other_manager, organization_id=other_org.id, phone="+77011234568")
    source = client_source_create(user=manager, organization_id=org.id, name="Walk-in")
    events_before = Event.objects.count()

    with pytest.raises(NotFound):
        client_bulk_update(user=manager, organization_id=org.id, client_ids=[mine.id, theirs.id], source_id=source.id)

    assert Client.objects.filter(source__isnull=False).count() == 0 and Event.objects.count() == events_before


def test_merge_folds_the_duplicate_in_and_soft_deletes_it(org, manager) -> None:
    from backend.crm.models import Vehicle
    from backend.crm.services import client_merge, vehicle_create

    vip = client_group_create(user=manager, organization_id=org.id, name="VIP")
    keep = client_create(
        user=manager, organization_id=org.id, phone="+77011234567", first_name="Anna", notes="first card"
    )
    dup = client_create(
        user=manager,
        organization_id=org.id,
        phone="+77011234568",
        last_name="Smith",
        code="C-7",
        notes="second card",
        group_ids=[vip.id],
        consents={"marketing": {"given": True, "how": "web"}},
    )
    car = vehicle_create(user=manager, client_id=dup.id, make="Kia")

    client_merge(user=manager, client_id=keep.id, duplicate_id=dup.id)

    keep.refresh_from_db()
    dup.refresh_from_db()
    assert (keep.first_name, keep.last_name, keep.code) == ("Anna", "Smith", "C-7")
    assert keep.notes == "first card\nsecond card" and keep.extra_contact == "+77011234568"
    assert keep.consent_marketing_how == "web" and list(keep.groups.all()) == [vip]
    assert Vehicle.objects.get(pk=car.pk).client_id == keep.id
    assert dup.is_deleted and dup.code == ""
    assert client_history(user=manager, client_id=dup.id).items[0].action == EventAction.MERGE
    assert client_history(user=manager, client_id=keep.id).items[0].after["code"] == "C-7"
    client_restore(user=manager, client_id=dup.id)  # a mistaken merge can be undone by hand


def test_merge_refuses_itself_other_tenants_and_deleted_cards(org, other_org, manager, other_manager) -> None:
    from backend.crm.services import client_merge

    mine = client_create(user=manager, organization_id=org.id, phone="+77011234567")
    gone = client_create(user=manager, organization_id=org.id, phone="+77011234569")
    client_soft_delete(user=manager, client_id=gone.id)
    theirs = client_create(user=other_manager, organization_id=other_org.id, phone="+77011234568")
    events = Event.objects.count()

    with pytest.raises(ValidationFailed):
        client_merge(user=manager, client_id=mine.id, duplicate_id=mine.id)
    with pytest.raises(NotFound):
        client_merge(user=manager, client_id=mine.id, duplicate_id=theirs.id)
    with pytest.raises(Conflict):
        client_merge(user=manager, client_id=mine.id, duplicate_id=gone.id)
    dispatcher = member(org, Role.DISPATCHER)
    with pytest.raises(NotFound):  # a deleted card they may not see is as unknown as a missing one
        client_merge(user=dispatcher, client_id=mine.id, duplicate_id=gone.id)
    twin = client_create(user=manager, organization_id=org.id, phone="+77011234570")
    events = Event.objects.count()
    with pytest.raises(PermissionDenied):
        client_merge(user=dispatcher, client_id=mine.id, duplicate_id=twin.id)
    assert Event.objects.count() == events and not Client.objects.get(pk=theirs.pk).is_deleted


# --- null for a field that cannot be cleared: the service refuses it, whoever calls ---------------------------


@pytest.mark.parametrize("name", ["phone", "first_name", "notes", "gender"])
def test_client_update_refuses_null_for_a_field_that_cannot_be_cleared(org, manager, name) -> None:
    client = client_create(user=manager, organization_id=org.id, phone="+77011234571", first_name="Aru", notes="n")
    before, events = list(Client.objects.filter(pk=client.pk).values()), Event.objects.count()

    with pytest.raises(ValidationFailed) as refused:
        client_update(user=manager, client_id=client.pk, data={name: None, "last_name": "Changed"})

    assert refused.value.fields == {name: ["May not be null."]}
    assert list(Client.objects.filter(pk=client.pk).values()) == before and Event.objects.count() == events


def test_vehicle_update_refuses_null_for_every_text_field_and_clears_the_year(org, manager) -> None:
    from backend.crm.models import Vehicle
    from backend.crm.services import vehicle_create, vehicle_update

    text = ("make", "model", "plate", "vin")
    client = client_create(user=manager, organization_id=org.id, phone="+77011234572")
    vehicle = vehicle_create(
        user=manager, client_id=client.pk, make="Kia", model="Rio", plate="A1", vin="V1", year=2020
    )
    before, events = list(Vehicle.objects.values()), Event.objects.count()

    with pytest.raises(ValidationFailed) as refused:
        vehicle_update(user=manager, vehicle_id=vehicle.pk, data=dict.fromkeys(text, None))

    assert refused.value.fields == {name: ["May not be null."] for name in text}
    assert list(Vehicle.objects.values()) == before and Event.objects.count() == events
    assert vehicle_update(user=manager, vehicle_id=vehicle.pk, data={"year": None}).year is None
