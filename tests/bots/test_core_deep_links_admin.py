"""Deep links in the back office: created through the service in the staff member's own organization, revoked."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client as WebClient

from backend.accounts.models import TelegramDeepLink
from backend.organizations.models import Organization, Role
from tests.conftest import member
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db

URL = "/admin/accounts/telegramdeeplink/"


def staff_web(org: Organization, role: str = Role.OWNER) -> WebClient:
    staff = member(org, role, is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_telegramdeeplink", "add_telegramdeeplink", "change_telegramdeeplink"]
        )
    )
    web = WebClient()
    web.force_login(staff)
    return web


def test_an_owner_creates_a_branch_link_and_revokes_it(org: Organization, other_org: Organization) -> None:
    web = staff_web(org)
    branch = BranchFactory(organization=org)

    added = web.post(f"{URL}add/", {"organization": org.pk, "branch": branch.pk, "label": "Window sticker"})
    link = TelegramDeepLink.objects.get()
    listed = web.get(URL)
    revoked = web.post(URL, {"action": "revoke", "_selected_action": [link.pk]})

    assert added.status_code == 302 and listed.status_code == 200 and revoked.status_code == 302
    assert (link.organization_id, link.branch_id, len(link.code)) == (org.pk, branch.pk, 22)
    link.refresh_from_db()
    assert link.revoked_at is not None


def test_another_organizations_link_is_not_visible(org: Organization, other_org: Organization) -> None:
    from backend.accounts.telegram import telegram_deep_link_create

    foreign = telegram_deep_link_create(actor=None, organization_id=other_org.pk)
    web = staff_web(org)

    assert web.get(f"{URL}{foreign.pk}/change/").status_code in (302, 404)
    web.post(URL, {"action": "revoke", "_selected_action": [foreign.pk]})
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


def test_a_foreign_organization_cannot_be_chosen(org: Organization, other_org: Organization, settings: Any) -> None:
    web = staff_web(org)

    web.post(f"{URL}add/", {"organization": other_org.pk, "label": "x"})

    assert not TelegramDeepLink.objects.exists()
