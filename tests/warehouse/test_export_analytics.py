from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from analytics.schema import connect
from backend.crm.models import Client
from backend.organizations.models import Organization
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_export_writes_every_table_and_the_views_open(tmp_path: Path) -> None:
    org: Organization = OrganizationFactory()
    other: Organization = OrganizationFactory()
    Client.objects.create(organization=org, phone="+77015550001", first_name="A")
    gone = Client.objects.create(organization=org, phone="+77015550002", first_name="B")
    Client.objects.filter(pk=gone.pk).update(deleted_at=gone.created_at)
    Client.objects.create(organization=other, phone="+77015550003", first_name="C")
    out = StringIO()

    call_command("export_analytics", "--out", str(tmp_path), "--organization", str(org.pk), stdout=out)
    con = connect(tmp_path)

    assert con.sql("select count(*) from clients").fetchall() == [(2,)]  # deleted clients stay in history
    assert con.sql("select count(*) from visits").fetchall() == [(0,)]
    assert {p.stem for p in tmp_path.glob("*.parquet")} >= {"visits", "clients", "shifts", "offers", "attendance"}
    assert "Warehouse written" in out.getvalue()
