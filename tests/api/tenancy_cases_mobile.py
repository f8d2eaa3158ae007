"""Tenancy cases for the phone's compositions (mobile_api/home, mobile_api/sync). ``/sync`` takes no id (its
cursor is signed and names the caller); ``/home`` takes the organization to open in."""

from __future__ import annotations

from backend.organizations.permissions import Perm
from tests.api.tenancy_cases import Call, TenancyCase, register

register(
    "get",
    "/api/v1/home",
    TenancyCase(build=lambda org: Call(query={"organization_id": org.pk}), needs=(Perm.ORG_VIEW,)),
)
