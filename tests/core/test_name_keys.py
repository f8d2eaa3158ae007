"""Names unique per organization in any case, Cyrillic and Kazakh included, on every database.

SQLite's lower() folds ASCII only: with the old ``Lower("name")`` index "VIP"/"vip" clashed but "ВИП"/"вип" did not.
The key is case-folded in Python (``backend.core.names.name_key``), so these run the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.catalog.models import ServiceGroup
from backend.catalog.services import ServiceImportRow, service_bulk_upsert, service_group_create
from backend.core.exceptions import Conflict
from backend.core.models import Event
from backend.crm.models import Client, ClientGroup, ClientSource
from backend.crm.services import client_group_create, client_source_create
from backend.crm.services.client_import import ClientImportRow, client_bulk_upsert

pytestmark = pytest.mark.django_db

CREATES = {
    "client source": (ClientSource, client_source_create, "source_name_taken"),
    "client group": (ClientGroup, client_group_create, "group_name_taken"),
    "service group": (ServiceGroup, service_group_create, "service_group_name_taken"),
}
# Pairs one organization may not hold both of: case in Cyrillic and in Kazakh letters, and spacing.
SAME = [("ВИП", "вип"), ("вип", "Вип"), ("Әке", "әке"), ("ҚҰРЫЛЫС ӨҢІР", "құрылыс  өңір"), ("VIP club", " vip CLUB ")]


@pytest.mark.parametrize("kind", sorted(CREATES))
@pytest.mark.parametrize(("first", "second"), SAME)
def test_a_name_differing_only_in_case_or_spacing_is_the_services_409_and_changes_nothing(
    org, owner, kind, first, second
) -> None:
    model, create, code = CREATES[kind]
    create(user=owner, organization_id=org.id, name=first)
    rows_before, events_before = list(model.objects.values()), Event.objects.count()

    with pytest.raises(Conflict) as refused:
        create(user=owner, organization_id=org.id, name=second)

    assert refused.value.code == code and refused.value.fields == {"name": ["This name is taken."]}
    assert list(model.objects.values()) == rows_before and Event.objects.count() == events_before


@pytest.mark.parametrize("kind", sorted(CREATES))
def test_the_database_itself_refuses_the_second_cyrillic_variant(org, kind) -> None:
    model = CREATES[kind][0]
    model.objects.create(organization=org, name="ВИП")

    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(organization=org, name="вип")
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.bulk_create([model(organization=org, name="Вип")])

    assert list(model.objects.values_list("name", "name_key")) == [("ВИП", "вип")]


def test_the_api_answers_409_for_vip_in_another_case_in_cyrillic(api_client, org, owner) -> None:
    api = api_client(owner)

    answers = [api.post("/api/v1/crm/sources", {"organization_id": org.id, "name": n}) for n in ("ВИП", "вип", "Вип")]

    assert [r.status_code for r in answers] == [201, 409, 409]
    assert {r.json()["error"]["code"] for r in answers[1:]} == {"source_name_taken"}
    assert list(ClientSource.objects.values_list("name", flat=True)) == ["ВИП"]


def test_a_client_import_matches_a_differently_cased_cyrillic_name_to_the_existing_row(org, owner) -> None:
    # Stored as typed once (a doubled space included); the file spells them in other case and spacing.
    group = ClientGroup.objects.create(organization=org, name="вип  клуб")
    source = ClientSource.objects.create(organization=org, name="Әке")
    rows = [ClientImportRow(row=2, fields={"phone": "+77015550199"}, source_name="ӘКЕ", group_names=["ВИП Клуб"])]

    result = client_bulk_upsert(user=owner, organization_id=org.id, rows=rows, batch_id=uuid.uuid4(), dry_run=False)

    client = Client.objects.get(phone="+77015550199")
    assert result.created == 1 and result.errors == []
    assert client.source_id == source.pk and list(client.groups.values_list("id", flat=True)) == [group.pk]
    assert ClientGroup.objects.count() == 1 and ClientSource.objects.count() == 1


def test_a_service_import_matches_a_differently_cased_cyrillic_group_to_the_existing_row(org, owner) -> None:
    group = ServiceGroup.objects.create(organization=org, name="Маникюр  и педикюр")
    rows = [ServiceImportRow(row=2, fields={"name": "Покрытие"}, group_name=" МАНИКЮР И ПЕДИКЮР ")]

    result = service_bulk_upsert(user=owner, organization_id=org.id, rows=rows, batch_id=uuid.uuid4(), dry_run=False)

    assert result.created == 1 and result.errors == []
    assert list(ServiceGroup.objects.values_list("id", flat=True)) == [group.pk]
    assert org.services.get().group_id == group.pk


def test_the_prepared_statement_bulk_writes_store_the_key_too(org) -> None:
    from backend.core.bulk_sql import rows_insert, rows_update

    rows_insert(ClientGroup, [ClientGroup(organization=org, name="Әке", updated_at=timezone.now())])
    group = ClientGroup.objects.get()
    assert group.name_key == "әке"

    group.name = "ҰЛЫ  Дала"
    rows_update(ClientGroup, [group], ["name"])
    assert ClientGroup.objects.values_list("name_key", flat=True).get() == "ұлы дала"


def test_filling_the_keys_of_existing_rows_refuses_rows_that_collide_naming_them(org) -> None:
    from backend.core.names import name_keys_fill

    first = ClientGroup.objects.create(organization=org, name="ВИП")
    second = ClientGroup.objects.create(organization=org, name="Regulars")
    # Rows stored before the key existed: QuerySet.update() writes the name alone, as the old schema held it.
    ClientGroup.objects.filter(pk=second.pk).update(name="вип")
    before = list(ClientGroup.objects.values())

    with pytest.raises(RuntimeError) as refused:
        name_keys_fill(ClientGroup)

    message = str(refused.value)
    assert "crm.ClientGroup" in message and f"#{first.pk} 'ВИП'" in message and f"#{second.pk} 'вип'" in message
    assert "Rename or merge them" in message
    assert list(ClientGroup.objects.values()) == before

    ClientGroup.objects.filter(pk=second.pk).update(name="Постоянные")
    name_keys_fill(ClientGroup)
    assert dict(ClientGroup.objects.values_list("id", "name_key")) == {first.pk: "вип", second.pk: "постоянные"}
