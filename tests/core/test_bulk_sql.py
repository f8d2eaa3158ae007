"""The prepared-statement bulk writes import uses: what they write is what the ORM reads back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.core.bulk_sql import links_insert, rows_insert, rows_update
from backend.crm.models import Client, ClientGroup

pytestmark = pytest.mark.django_db


def test_rows_written_with_one_statement_read_back_as_the_orm_would_write_them(org) -> None:
    now = timezone.now().replace(microsecond=0)
    clients = [
        Client(
            organization=org,
            phone=f"+7701000000{i}",
            first_name=f"N{i}",
            birthday=dt.date(1990, 1, i + 1),
            consent_marketing_at=now,
            updated_at=now,
        )
        for i in range(3)
    ]
    rows_insert(Client, clients)
    stored = list(Client.objects.filter(organization=org).order_by("phone"))
    assert [(c.first_name, c.birthday, c.consent_marketing_at) for c in stored] == [
        (f"N{i}", dt.date(1990, 1, i + 1), now) for i in range(3)
    ]

    for c in stored:
        c.first_name, c.birthday = c.first_name.lower(), None
    rows_update(Client, stored[:2], ["first_name", "birthday"])
    assert list(Client.objects.order_by("phone").values_list("first_name", "birthday")) == [
        ("n0", None),
        ("n1", None),
        ("N2", dt.date(1990, 1, 3)),
    ]

    vip = ClientGroup.objects.create(organization=org, name="VIP")
    links_insert(Client.groups.through, ("client", "clientgroup"), [(c.pk, vip.pk) for c in stored[1:]])
    assert set(vip.clients.values_list("pk", flat=True)) == {stored[1].pk, stored[2].pk}


def test_nothing_to_write_is_no_statement(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        rows_insert(Client, [])
        rows_update(Client, [], ["first_name"])
        links_insert(Client.groups.through, ("client", "clientgroup"), [])
