"""Cursor pagination: the worker's offer and shift lists page by keyset (shift start, id) with an opaque cursor
and no row twice or missed; every list route of the document either pages by cursor or is listed here as known
to answer a capped list (so a new list route cannot ship without a cursor unnoticed)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.staffing.models import Offer
from backend.staffing.services import offers as staffing
from mobile_api.api import api
from tests.conftest import ApiClient
from tests.staffing.world import order_with_shift, pool_worker, site, staffing_world

pytestmark = pytest.mark.django_db

# Lists that answer a capped page without a cursor today (found by the walk below): the lead's follow-up list.
CAPPED_LISTS = {
    "/api/v1/booking/reviews",
    "/api/v1/booking/waitlist",
    "/api/v1/booking/waitlist/mine",
    "/api/v1/staffing/availability",
    "/api/v1/staffing/board",
    "/api/v1/staffing/clients",
    "/api/v1/staffing/me/earnings",
    "/api/v1/staffing/orders",
    "/api/v1/staffing/orders/{order_id}/solver-runs",
    "/api/v1/staffing/orders/{order_id}/why",
    "/api/v1/staffing/shifts/{shift_id}/attendance",
    "/api/v1/staffing/sites",
    "/api/v1/staffing/workers",
    # A type-ahead answers its best few (at most 50) and is refined by typing more, never paged.
    "/api/v1/crm/clients/search",
    # A user's own devices: a handful.
    "/api/v1/devices",
}


def _list_routes() -> dict[str, bool]:
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    components = schema["components"]["schemas"]
    found = {}
    for path, ops in schema["paths"].items():
        ok = (ops.get("get") or {}).get("responses", {}).get(200, {})
        ref = ok.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        if ref:
            props = components[ref.rsplit("/", 1)[-1]].get("properties", {})
            if "items" in props:
                found[path] = "next_cursor" in props
    return found


def test_every_list_route_pages_by_cursor_or_is_a_known_capped_list() -> None:
    routes = _list_routes()
    without = {path for path, paged in routes.items() if not paged}
    assert without == CAPPED_LISTS
    assert routes["/api/v1/staffing/offers"] and routes["/api/v1/staffing/shifts"]


def test_a_worker_pages_through_offers_and_shifts_without_gaps_or_repeats() -> None:
    world = staffing_world(0)
    me = pool_worker(world.hq)
    yard = site(world.franchise)
    offers = []
    for n in range(5):
        day = (timezone.now() + dt.timedelta(days=n + 1)).date()
        _, shift = order_with_shift(world.franchise, call_cap=1, day=day, site_=yard)
        offer = Offer.objects.create(organization=world.franchise, shift=shift, worker=me)
        staffing.offers_send(shift=shift, offers=[offer], wave=1)
        offers.append(offer)
    for offer in offers[:3]:
        staffing.offer_accept(user=me.user, offer_id=offer.pk)
    client = ApiClient(me.user)
    for path, expected in (("/api/v1/staffing/offers", offers), ("/api/v1/staffing/shifts", offers[:3])):
        seen, cursor = [], None
        while True:
            page = client.get(path, {"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [o.pk for o in expected], path
    bad = client.get("/api/v1/staffing/offers", {"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor"
