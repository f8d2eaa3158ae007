"""The decisions routers used to make themselves: which organization when none is named, and where a calendar
day starts and ends (in the organization's zone, not the server's)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from backend.core.exceptions import PermissionDenied
from backend.crm.models import Client
from backend.organizations.models import Role
from backend.organizations.permissions import Perm
from backend.organizations.selectors import day_range, organization_for_action, organization_zone
from tests.conftest import ApiClient, member
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def test_the_named_organization_wins_else_the_first_where_the_caller_holds_the_right(org, other_org) -> None:
    user = member(org, Role.DISPATCHER)  # may change clients, may not import them
    MembershipFactory(user=user, organization=other_org, role=Role.MANAGER)

    assert organization_for_action(user=user, organization_id=None, perm=Perm.CLIENT_CHANGE) == org.id
    assert organization_for_action(user=user, organization_id=None, perm=Perm.CLIENT_IMPORT) == other_org.id
    assert organization_for_action(user=user, organization_id=12345, perm=Perm.CLIENT_IMPORT) == 12345
    with pytest.raises(PermissionDenied):
        organization_for_action(user=member(org, Role.WORKER), organization_id=None, perm=Perm.CLIENT_IMPORT)


def test_a_day_in_a_zone_with_a_dst_change_is_23_hours_long() -> None:
    berlin = ZoneInfo("Europe/Berlin")

    start, end = day_range(zone=berlin, first_day=dt.date(2026, 3, 29), last_day=dt.date(2026, 3, 29))

    assert start is not None and end is not None
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=23)
    assert day_range(zone=berlin, first_day=None, last_day=dt.date.max) == (None, None)


def test_the_zone_is_the_named_organizations_else_the_default_one_and_never_a_foreign_one(org, manager) -> None:
    foreign = OrganizationFactory(time_zone="America/New_York")
    org.time_zone = "Asia/Tbilisi"
    org.save()

    assert organization_zone(user=manager, organization_id=org.id) == ZoneInfo("Asia/Tbilisi")
    assert organization_zone(user=manager, organization_id=None) == ZoneInfo("Asia/Tbilisi")
    assert organization_zone(user=manager, organization_id=foreign.id) == ZoneInfo("Europe/Moscow")


def test_the_client_list_reads_last_visit_days_in_the_organizations_zone(org, manager) -> None:
    # given an organization in Almaty (UTC+5) on a server set to Moscow (UTC+3)
    assert org.time_zone == "Asia/Almaty"
    early = Client.objects.create(
        organization=org, phone="+77015550101", last_visit_at=dt.datetime(2026, 3, 1, 20, 30, tzinfo=dt.UTC)
    )  # 2 March 01:30 in Almaty, still 1 March in Moscow
    Client.objects.create(
        organization=org, phone="+77015550102", last_visit_at=dt.datetime(2026, 3, 2, 19, 30, tzinfo=dt.UTC)
    )  # 3 March 00:30 in Almaty, still 2 March in Moscow

    response = ApiClient(manager).get(
        "/api/v1/crm/clients", {"last_visit_from": "2026-03-02", "last_visit_to": "2026-03-02"}
    )

    assert response.status_code == 200, response.content
    assert [c["id"] for c in response.json()["items"]] == [early.id]
