"""The live pages in a real browser (Debian's chromium via Playwright) against a live ASGI server: the board's
count changes after an accept made through the API, and a booking made through the API appears in the journal;
a free journal cell books. No request leaves 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from backend.accounts.tokens import token_pair_issue
from backend.organizations.models import Role
from backend.staffing.models import Offer, OfferStatus, OrderStatus
from tests.browser import local_only
from tests.conftest import member
from tests.live_asgi import LiveAsgi
from tests.staffing.world import order_with_shift, staffing_world

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms: what a page may take to show a change (the assertion is on the change, not on the time)


def _session_cookie(user: Any) -> str:
    """The back office's session of ``user`` (made by Django's test client), for the browser's cookie jar."""
    web = Client()
    web.force_login(user)
    return str(web.cookies["sessionid"].value)


def _page(browser: Any, live: LiveAsgi, session: str) -> Any:
    # Playwright's sync API runs an event loop in this thread: every database write is done before it starts (the
    # fixtures), and the test talks to the server over HTTP only.
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": session, "url": live.url}])
    page = context.new_page()
    page.blocked = local_only(page)
    return page


def _http(live: LiveAsgi, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    import httpx

    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"k-{path}-{method}"}
    return httpx.request(method, live.url + path, json=body, headers=headers, timeout=30)


@pytest.fixture
def board_world(asgi_live_server: LiveAsgi) -> dict[str, Any]:
    world = staffing_world(2)
    _, shift = order_with_shift(world.franchise, headcount=2, call_cap=2, status=OrderStatus.IN_PROGRESS)
    now = timezone.now()
    offer = Offer.objects.create(
        organization=world.franchise,
        shift=shift,
        worker=world.workers[0],
        wave=1,
        position=1,
        status=OfferStatus.OFFERED,
        offered_at=now,
        expires_at=now + dt.timedelta(hours=6),
    )
    return {
        "shift_id": shift.pk,
        "offer_id": offer.pk,
        "worker_token": token_pair_issue(user=world.workers[0].user).access_token,
        "session": _session_cookie(member(world.franchise, Role.DISPATCHER, is_staff=True)),
    }


def test_the_board_counts_an_accept_made_through_the_api(
    board_world: dict[str, Any], asgi_live_server: LiveAsgi, browser: Any
) -> None:
    page = _page(browser, asgi_live_server, board_world["session"])
    page.goto(f"{asgi_live_server.url}/backoffice/staffing/board/", wait_until="load")
    row = page.locator(f'tr[data-shift-id="{board_world["shift_id"]}"]')
    row.locator("td.accepted").filter(has_text="0").wait_for(timeout=TIMEOUT)
    page.locator('#socket-status[data-state="live"]').wait_for(timeout=TIMEOUT)

    # when the worker accepts on their phone
    path = f"/api/v1/staffing/offers/{board_world['offer_id']}/accept"
    answer = _http(asgi_live_server, "POST", path, board_world["worker_token"], {})
    assert answer.status_code == 200, answer.text

    # then the board shows it without a reload
    row.locator("td.accepted").filter(has_text="1").wait_for(timeout=TIMEOUT)
    assert row.locator("td.headcount").inner_text() == "2"
    assert page.locator("#board-summary").inner_text() == "0 / 1"
    assert page.blocked == []


@pytest.fixture
def journal_world(asgi_live_server: LiveAsgi) -> dict[str, Any]:
    from backend.crm.services.clients import client_create
    from tests.booking.appointments_world import ZONE, world_build

    world = world_build()
    manager = world.manager
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    day = timezone.now().astimezone(ZONE).date() + dt.timedelta(days=2)
    regular = client_create(
        user=manager, organization_id=world.org.pk, phone="+77015550101", first_name="Madina", last_name="Regular"
    )
    return {
        "branch_id": world.branch.pk,
        "day": day.isoformat(),
        "master_id": world.master.pk,
        "other_master_id": world.other_master.pk,
        "haircut_id": world.haircut.pk,
        "start": dt.datetime.combine(day, dt.time(10), tzinfo=ZONE).isoformat(),
        "customer_token": token_pair_issue(user=world.customer).access_token,
        "session": _session_cookie(manager),
        "regular": str(regular),
    }


def test_the_journal_shows_a_booking_made_through_the_api_and_a_free_cell_books(
    journal_world: dict[str, Any], asgi_live_server: LiveAsgi, browser: Any
) -> None:
    w = journal_world
    page = _page(browser, asgi_live_server, w["session"])
    page.goto(f"{asgi_live_server.url}/backoffice/booking/journal/?branch_id={w['branch_id']}&date={w['day']}")
    page.locator(f'#journal th[data-staff-id="{w["master_id"]}"]').wait_for(timeout=TIMEOUT)
    page.locator('#socket-status[data-state="live"]').wait_for(timeout=TIMEOUT)
    master_cells = f'#journal td[data-staff-id="{w["master_id"]}"]'
    assert page.locator(f"{master_cells}.busy").count() == 0

    # when a customer books 10:00 with the master through the API (their phone, the bot)
    body = {"branch_id": w["branch_id"], "service_id": w["haircut_id"], "staff_id": w["master_id"], "start": w["start"]}
    answer = _http(asgi_live_server, "POST", "/api/v1/booking/appointments", w["customer_token"], body)
    assert answer.status_code == 201, answer.text

    # then the journal shows the visit in the master's column, without a reload
    page.locator(f"{master_cells}.busy", has_text="Saule").first.wait_for(timeout=TIMEOUT)
    assert page.locator(f"{master_cells}.busy").count() == 2  # 10:00-11:00: two half-hour rows

    # and a manager books the other master's free 15:00 by clicking it
    other = w["other_master_id"]
    page.locator(f'#journal tr:has(th.time:text-is("15:00")) td.free[data-staff-id="{other}"]').click()
    dialog = page.locator("#book-dialog")
    dialog.locator("[name=search]").fill("Madina")
    dialog.locator("[name=client_id] option", has_text="Madina").wait_for(state="attached", timeout=TIMEOUT)
    dialog.locator("[name=client_id]").select_option(index=0)
    dialog.locator("[name=service_id]").select_option(str(w["haircut_id"]))
    dialog.locator("button[value=book]").click()
    page.locator(f'#journal td.busy[data-staff-id="{other}"]', has_text="Madina").wait_for(timeout=TIMEOUT)
    assert page.locator("#book-dialog[open]").count() == 0
    assert page.blocked == []
