"""Source and group names are unique per organization in any case, held by the database, not by a look-up.

The services no longer look for a clash first: the constraint refusing the insert is the only guard, so these
tests fail as soon as it is removed or turns case-sensitive again.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from backend.core.exceptions import Conflict
from backend.core.models import Event
from backend.crm.models import ClientGroup, ClientSource
from backend.crm.services import (
    client_group_create,
    client_group_update,
    client_source_create,
    client_source_update,
)
from tests.conftest import ApiClient, member
from tests.factories import OrganizationFactory

CREATES = {
    "group": (ClientGroup, client_group_create, "group_name_taken"),
    "source": (ClientSource, client_source_create, "source_name_taken"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", sorted(CREATES))
def test_the_database_refuses_a_name_differing_only_in_case(org, kind) -> None:
    model = CREATES[kind][0]
    model.objects.create(organization=org, name="VIP")

    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(organization=org, name="vip")

    assert list(model.objects.values_list("name", flat=True)) == ["VIP"]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", sorted(CREATES))
def test_another_organization_may_use_the_same_name(org, other_org, manager, other_manager, kind) -> None:
    model, create, _code = CREATES[kind]
    create(user=manager, organization_id=org.id, name="VIP")
    create(user=other_manager, organization_id=other_org.id, name="vip")
    assert model.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("kind", sorted(CREATES))
def test_a_create_refused_by_the_constraint_is_the_services_409_and_changes_nothing(org, manager, kind) -> None:
    model, create, code = CREATES[kind]
    create(user=manager, organization_id=org.id, name="Vip")
    rows_before, events_before = list(model.objects.values()), Event.objects.count()

    with pytest.raises(Conflict) as refused:
        create(user=manager, organization_id=org.id, name=" VIP ")

    assert refused.value.code == code and refused.value.fields == {"name": ["This name is taken."]}
    assert list(model.objects.values()) == rows_before and Event.objects.count() == events_before


@pytest.mark.django_db
def test_a_rename_onto_another_name_in_another_case_is_a_409_and_changes_nothing(org, manager) -> None:
    client_group_create(user=manager, organization_id=org.id, name="VIP")
    regulars = client_group_create(user=manager, organization_id=org.id, name="Regulars")
    source = client_source_create(user=manager, organization_id=org.id, name="Instagram")
    client_source_create(user=manager, organization_id=org.id, name="Walk-in")
    events_before = Event.objects.count()

    with pytest.raises(Conflict) as group_refused:
        client_group_update(user=manager, group_id=regulars.pk, name="vip")
    with pytest.raises(Conflict) as source_refused:
        client_source_update(user=manager, source_id=source.pk, name="WALK-IN", is_active=False)

    assert (group_refused.value.code, source_refused.value.code) == ("group_name_taken", "source_name_taken")
    regulars.refresh_from_db()
    source.refresh_from_db()
    assert regulars.name == "Regulars" and (source.name, source.is_active) == ("Instagram", True)
    assert Event.objects.count() == events_before


@pytest.mark.django_db
def test_renaming_to_the_same_name_in_another_case_is_allowed(org, manager) -> None:
    vip = client_group_create(user=manager, organization_id=org.id, name="vip")
    assert client_group_update(user=manager, group_id=vip.pk, name="VIP").name == "VIP"


def _parallel_posts(path: str, bodies: list[dict[str, Any]], user: Any) -> list[Any]:
    barrier = threading.Barrier(len(bodies))
    apis = [ApiClient(user) for _ in bodies]
    results: list[Any] = [None] * len(bodies)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = apis[i].post(path, bodies[i])
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "model", "code"),
    [
        ("/api/v1/crm/groups", ClientGroup, "group_name_taken"),
        ("/api/v1/crm/sources", ClientSource, "source_name_taken"),
    ],
)
def test_concurrent_creates_of_vip_and_VIP_make_one_row_and_one_clean_409(path, model, code) -> None:
    for _round in range(5):
        # A fresh organization per round: the event log is append-only, so rounds cannot clean up after themselves.
        org = OrganizationFactory()
        manager = member(org)

        responses = _parallel_posts(path, [{"name": "Vip"}, {"name": "VIP"}], manager)

        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 409: 1}, [r.content for r in responses]
        refused = next(r for r in responses if r.status_code == 409).json()
        assert refused["error"]["code"] == code and refused["error"]["fields"] == {"name": ["This name is taken."]}
        assert model.objects.filter(organization=org).count() == 1
        assert Event.objects.filter(entity_type=model._meta.label_lower, organization=org).count() == 1
