"""Tenancy cases of the staff client search (issue 13, mobile-contract). The push registration routes take no
object id (a device is named by its token and always the caller's own): their guard is tested in tests/devices."""

from __future__ import annotations

from backend.crm.cleaning import client_derived_refresh
from backend.crm.models import Client, Vehicle
from backend.organizations.models import Organization
from backend.organizations.permissions import Perm
from tests.api.tenancy_cases import Call, TenancyCase, register


def _search_call(org: Organization) -> Call:
    # A client every organization's query finds, so a leak of the stranger's would show in the answer.
    client = Client(organization=org, phone=f"+7701777{org.pk % 10000:04d}", last_name="Tenantova")
    client_derived_refresh(client)
    client.save()
    Vehicle.objects.create(organization=org, client=client, plate="T777TT")
    return Call(query={"organization_id": org.pk, "q": "tenantova"})


register("get", "/api/v1/crm/clients/search", TenancyCase(build=_search_call, needs=(Perm.CLIENT_VIEW,)))
