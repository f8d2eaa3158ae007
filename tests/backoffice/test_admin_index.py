"""The back office's index puts the business first; the plumbing sits in one system section, for superusers."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backend.organizations.models import Organization, Role
from tests.conftest import member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PLUMBING = ("Auth tokens", "Idempotency records", "Worker heartbeats", "Delivery rate slots")


def _index(user: Any) -> Any:
    web = Client()
    web.force_login(user)
    response = web.get("/admin/")
    assert response.status_code == 200
    return response


def test_a_superuser_sees_the_business_first_and_the_plumbing_last_under_system() -> None:
    response = _index(UserFactory(is_staff=True, is_superuser=True))
    apps = response.context["app_list"]
    labels = [app["app_label"] for app in apps]
    assert labels[-1] == "system"
    assert labels.index("staffing") < labels.index("booking") < labels.index("crm")
    system = apps[-1]
    names = " ".join(str(entry["name"]) for entry in system["models"])
    for model in PLUMBING:
        assert model.lower() in names.lower(), (model, names)
    # no plumbing model is left in a business app
    for app in apps[:-1]:
        for entry in app["models"]:
            assert str(entry["name"]).lower() not in {p.lower() for p in PLUMBING}, (app["app_label"], entry["name"])
    html = response.content.decode()
    assert html.index("app-staffing") < html.index("app-system")


def test_a_manager_sees_no_system_section_and_no_plumbing(org: Organization) -> None:
    response = _index(member(org, Role.MANAGER, is_staff=True))
    labels = [app["app_label"] for app in response.context["app_list"]]
    assert "system" not in labels
    html = response.content.decode()
    for model in PLUMBING:
        assert model not in html
    # and the plumbing's own pages stay closed to them (the guard is the admin class, not the index)
    web = Client()
    web.force_login(member(org, Role.MANAGER, is_staff=True))
    assert web.get("/admin/accounts/authtoken/").status_code == 403


def test_the_index_links_the_live_pages(org: Organization) -> None:
    html = _index(member(org, Role.DISPATCHER, is_staff=True)).content.decode()
    assert 'href="/backoffice/staffing/board/"' in html
    assert 'href="/backoffice/booking/journal/"' in html
