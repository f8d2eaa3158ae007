"""The live pages: behind the back office's login, scoped by the board's and the journal's own rules (another
tenant's organization or branch is a 404, a role without the right a 403), and a page token over the session."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backend.accounts.models import AuthToken
from backend.accounts.tokens import PAGE_TOKEN_AGENT
from backend.organizations.models import Organization, Role
from tests.conftest import member
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db

BOARD = "/backoffice/staffing/board/"
JOURNAL = "/backoffice/booking/journal/"


def _web(user: Any, **kwargs: Any) -> Client:
    web = Client(**kwargs)
    web.force_login(user)
    return web


def test_a_signed_out_visitor_is_sent_to_the_login_page() -> None:
    for path in (BOARD, JOURNAL):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), path


def test_a_dispatcher_watches_their_own_board_and_a_strangers_is_a_404(
    org: Organization, other_org: Organization
) -> None:
    web = _web(member(org, Role.DISPATCHER, is_staff=True))
    response = web.get(BOARD)
    assert response.status_code == 200
    assert response.context["organization"] == org
    assert f'data-organization-id="{org.pk}"' in response.content.decode()
    assert web.get(BOARD, {"organization_id": org.pk}).status_code == 200
    assert web.get(BOARD, {"organization_id": other_org.pk}).status_code == 404
    assert web.get(BOARD, {"organization_id": 10**17}).status_code == 404
    assert web.get(BOARD, {"organization_id": "1; drop"}).status_code == 404
    # the organizations they may switch to are their own only
    assert [o.pk for o in response.context["organizations"]] == [org.pk]


def test_a_master_may_not_watch_the_board(org: Organization) -> None:
    web = _web(member(org, Role.MASTER, is_staff=True))
    assert web.get(BOARD, {"organization_id": org.pk}).status_code == 403


def test_the_journal_shows_the_callers_branch_and_a_strangers_branch_is_a_404(
    org: Organization, other_org: Organization
) -> None:
    mine, theirs = BranchFactory(organization=org), BranchFactory(organization=other_org)
    web = _web(member(org, Role.MANAGER, is_staff=True))
    response = web.get(JOURNAL)
    assert response.status_code == 200
    assert response.context["branch"] == mine
    assert [b.pk for b in response.context["branches"]] == [mine.pk]
    html = response.content.decode()
    assert f'data-branch-id="{mine.pk}"' in html and f'data-time-zone="{mine.effective_time_zone}"' in html
    assert web.get(JOURNAL, {"branch_id": theirs.pk}).status_code == 404
    assert web.get(JOURNAL, {"branch_id": "x"}).status_code == 404


def test_a_worker_may_not_read_the_journal(org: Organization) -> None:
    branch = BranchFactory(organization=org)
    web = _web(member(org, Role.WORKER, is_staff=True))
    assert web.get(JOURNAL, {"branch_id": branch.pk}).status_code == 403


def test_the_page_token_needs_the_session_and_csrf_and_opens_the_api(org: Organization) -> None:
    user = member(org, Role.DISPATCHER, is_staff=True)
    strict = _web(user, enforce_csrf_checks=True)
    assert strict.post("/backoffice/page-token/").status_code == 403  # no CSRF token
    assert strict.get("/backoffice/page-token/").status_code == 405
    assert Client().post("/backoffice/page-token/").status_code == 302  # signed out: to the login page

    page = strict.get(BOARD)
    csrf = page.context["csrf_token"]
    response = strict.post("/backoffice/page-token/", headers={"X-CSRFToken": str(csrf)})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = response.json()["token"]
    stored = AuthToken.objects.get(user=user, user_agent=PAGE_TOKEN_AGENT)
    assert stored.kind == "access" and not AuthToken.objects.filter(user=user, kind="refresh").exists()
    me = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["id"] == user.pk
