"""Service group names are unique per organization in any case: a database constraint the service maps to 409."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from backend.catalog.models import ServiceGroup
from backend.catalog.services import service_group_create, service_group_update
from backend.core.exceptions import ApplicationError, Conflict, ValidationFailed
from backend.core.models import Event
from tests.conftest import member
from tests.factories import OrganizationFactory


@pytest.mark.django_db
def test_the_database_refuses_a_group_name_differing_only_in_case(org) -> None:
    ServiceGroup.objects.create(organization=org, name="Massage")
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceGroup.objects.create(organization=org, name="MASSAGE")
    assert ServiceGroup.objects.count() == 1


@pytest.mark.django_db
def test_create_and_rename_onto_a_taken_name_are_409_and_change_nothing(org, manager) -> None:
    service_group_create(user=manager, organization_id=org.id, name="Massage")
    nails = service_group_create(user=manager, organization_id=org.id, name="Nails", sort_order=2)
    rows_before, events_before = list(ServiceGroup.objects.values()), Event.objects.count()

    with pytest.raises(Conflict) as created:
        service_group_create(user=manager, organization_id=org.id, name="massage")
    with pytest.raises(Conflict) as renamed:
        service_group_update(user=manager, group_id=nails.pk, name=" MASSAGE ", sort_order=5)

    assert created.value.code == renamed.value.code == "service_group_name_taken"
    assert list(ServiceGroup.objects.values()) == rows_before and Event.objects.count() == events_before


@pytest.mark.django_db
def test_a_name_longer_than_the_column_is_a_422_not_a_silent_cut(org, manager) -> None:
    with pytest.raises(ValidationFailed):
        service_group_create(user=manager, organization_id=org.id, name="x" * 101)
    assert not ServiceGroup.objects.exists()


def _race(user: Any, organization_id: int, names: tuple[str, ...]) -> list[Any]:
    barrier = threading.Barrier(len(names))
    results: list[Any] = [None] * len(names)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = service_group_create(user=user, organization_id=organization_id, name=names[i])
        except ApplicationError as exc:
            results[i] = exc
        except Exception as exc:  # a 500 in the making: asserted on by the caller
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(names))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_differing_in_case_make_one_group_and_one_409() -> None:
    org = OrganizationFactory()
    manager = member(org)
    for _round in range(5):
        ServiceGroup.objects.all().delete()
        results = _race(manager, org.id, ("Vip", "VIP"))

        outcomes = Counter(r.code if isinstance(r, ApplicationError) else type(r).__name__ for r in results)
        assert outcomes == {"ServiceGroup": 1, "service_group_name_taken": 1}
        assert ServiceGroup.objects.count() == 1
