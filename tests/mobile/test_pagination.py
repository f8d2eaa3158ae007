"""Cursor pagination (decision 0033): every list route of the document pages by keyset with an opaque cursor, or is
listed here with the reason it does not (so a new list route cannot ship without a cursor unnoticed).

Each paged route is walked with a small page size: every row of the caller's scope once, in the documented order,
none of another organization's (or another user's); a cursor built from another organization's row positions the
walk but shows nothing of theirs; a malformed, foreign-list or ill-typed cursor is a 422 ``invalid_cursor``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from backend.booking.models import Appointment, AppointmentStatus
from backend.booking.models_comms import Review, WaitlistEntry
from backend.core.cursors import cursor_encode
from backend.organizations.models import Organization, Role
from backend.staffing.models import (
    Attendance,
    CorporateClient,
    Offer,
    OfferStatus,
    Order,
    Shift,
    Site,
    SolverRun,
    Worker,
    WorkerAvailability,
)
from backend.staffing.services import offers as staffing
from mobile_api.api import api
from tests.booking.comms_world import Salon, appointment_row, salon_in
from tests.conftest import ApiClient, member
from tests.factories import OrganizationFactory, UserFactory
from tests.staffing.world import order_with_shift, pool_worker, site, staffing_world

pytestmark = pytest.mark.django_db

# List routes that answer without a cursor, each with its reason (the walk below keeps this set exact).
UNPAGED_LISTS = {
    # A type-ahead answers its best few (at most 50) and is refined by typing more, never paged.
    "/api/v1/crm/clients/search",
    # A user's own devices: a handful.
    "/api/v1/devices",
}
# Lists that carry an always-null `next_cursor` and take no `cursor`: bounded reference lists or one day, answered
# whole. Known, not paged yet (see decision 0033); the walk keeps this set exact too.
WHOLE_LISTS = {
    "/api/v1/booking/staff/day",
    "/api/v1/catalog/branches",
    "/api/v1/catalog/services",
    "/api/v1/catalog/staff",
    "/api/v1/crm/groups",
    "/api/v1/crm/sources",
}
_seq = itertools.count(1)


def _list_routes() -> dict[str, tuple[bool, bool]]:
    """Every GET whose answer has `items`: (does the answer carry `next_cursor`, does the route take `cursor`)."""
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    components = schema["components"]["schemas"]
    found = {}
    for path, ops in schema["paths"].items():
        get = ops.get("get") or {}
        ok = get.get("responses", {}).get(200, {})
        ref = ok.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        if ref:
            props = components[ref.rsplit("/", 1)[-1]].get("properties", {})
            if "items" in props:
                params = {p["name"] for p in get.get("parameters", []) if p.get("in") == "query"}
                found[path] = ("next_cursor" in props, "cursor" in params and "limit" in params)
    return found


def test_every_list_route_pages_by_cursor_or_is_a_known_exception() -> None:
    routes = _list_routes()
    assert {path for path, (carries, _takes) in routes.items() if not carries} == UNPAGED_LISTS
    assert {path for path, (carries, takes) in routes.items() if carries and not takes} == WHOLE_LISTS
    paged = {path for path, (carries, takes) in routes.items() if carries and takes}
    assert {"/api/v1/staffing/offers", "/api/v1/staffing/shifts", "/api/v1/staffing/workers"} <= paged


# --- helpers ---------------------------------------------------------------------------------------------------


def _walk(client: ApiClient, path: str, params: dict[str, Any] | None = None, *, key: str = "id") -> list[int]:
    """Every row of a list, two per page, following `next_cursor` to its null."""
    seen: list[int] = []
    cursor = None
    for _page in range(100):
        query = {**(params or {}), "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, query)
        assert response.status_code == 200, (path, response.json())
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [item[key] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    else:
        pytest.fail(f"{path}: the cursor never ran out")
    assert len(seen) == len(set(seen)), f"{path}: a row came twice"
    return seen


def _cursor(sort: str, values: Any, row_id: int) -> str:
    """The cursor the server would issue after a row with these sort values (how a forger would build one)."""
    return cursor_encode(sort=sort, value=values, id=row_id)


def _foreign_cursor_leaks_nothing(
    client: ApiClient, path: str, params: dict[str, Any], cursor: str, own: Iterable[int], *, key: str = "id"
) -> None:
    response = client.get(path, {**params, "cursor": cursor, "limit": 200})
    assert response.status_code == 200, response.json()
    got = {item[key] for item in response.json()["items"]}
    assert got <= set(own), f"{path}: a row outside the caller's scope"


def _refuses_bad_cursors(client: ApiClient, path: str, params: dict[str, Any], sort: str) -> None:
    for bad in (
        "not-a-cursor",
        _cursor("staffing.some_other_list", None, 1),  # another list's cursor
        _cursor(sort, {"nested": [1]}, 1),  # this list's, with a value no sort key holds
        _cursor(sort, None, -1),  # an impossible id
        "eyJzIjoi",  # truncated base64 JSON
    ):
        response = client.get(path, {**params, "cursor": bad})
        assert response.status_code == 422, (path, bad, response.status_code)
        assert response.json()["error"]["code"] == "invalid_cursor"


def _at(days: float, hour: int = 8) -> dt.datetime:
    base = timezone.now().astimezone(dt.UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return base + dt.timedelta(days=days)


def _client(org: Organization, name: str) -> CorporateClient:
    return CorporateClient.objects.create(
        organization=org, name=name, inn="7707083893", kpp=f"77{next(_seq):05d}01", ogrn="1027700132195"
    )


def _shift(order: Order, day: dt.date) -> Shift:
    starts = dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)
    return Shift.objects.create(
        organization=order.organization,
        order=order,
        date=day,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=12),
        headcount=3,
        call_cap=3,
    )


# --- the worker's own lists ------------------------------------------------------------------------------------


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
        assert _walk(client, path) == [o.pk for o in expected], path
    bad = client.get("/api/v1/staffing/offers", {"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor"


def test_my_availability_pages_by_start_and_shows_nobody_elses() -> None:
    world = staffing_world(2)
    me, other = world.workers
    mine = []
    for n in range(5):
        start = _at(1 + n // 2)  # two windows share each start: the id breaks the tie
        mine.append(
            WorkerAvailability.objects.create(worker=me, starts_at=start, ends_at=start + dt.timedelta(hours=2 + n))
        )
        WorkerAvailability.objects.create(worker=other, starts_at=start, ends_at=start + dt.timedelta(hours=2 + n))
    WorkerAvailability.objects.create(worker=me, starts_at=_at(-3), ends_at=_at(-2))  # over: not listed
    client = ApiClient(me.user)
    path = "/api/v1/staffing/availability"
    expected = list(
        WorkerAvailability.objects.filter(worker=me, ends_at__gt=timezone.now())
        .order_by("starts_at", "id")
        .values_list("id", flat=True)
    )
    assert _walk(client, path) == expected and len(expected) == 5
    theirs = WorkerAvailability.objects.filter(worker=other).order_by("starts_at", "id").first()
    assert theirs is not None
    _foreign_cursor_leaks_nothing(
        client, path, {}, _cursor("staffing.availability", theirs.starts_at, theirs.pk), expected
    )
    _refuses_bad_cursors(client, path, {}, "staffing.availability")


def _worked(worker: Worker, order: Order, day: dt.date, hours: str) -> Attendance:
    shift = _shift(order, day)
    offer = Offer.objects.create(
        organization=order.organization, shift=shift, worker=worker, status=OfferStatus.COMPLETED
    )
    return Attendance.objects.create(
        organization=order.organization,
        offer=offer,
        shift=shift,
        worker=worker,
        hours=Decimal(hours),
        pay_amount=Decimal(hours) * order.pay_rate,
        bill_amount=Decimal(hours) * order.bill_rate,
    )


def test_my_earnings_page_their_lines_and_total_the_whole_period() -> None:
    world = staffing_world(2)
    me, other = world.workers
    order, _ = order_with_shift(world.franchise, day=(timezone.now() - dt.timedelta(days=30)).date())
    today = timezone.now().date()
    mine = [_worked(me, order, today - dt.timedelta(days=10 - n), f"{4 + n}.25") for n in range(5)]
    _worked(other, order, today - dt.timedelta(days=20), "8.00")
    client = ApiClient(me.user)
    path = "/api/v1/staffing/me/earnings"
    assert _walk(client, path, key="shift_id") == [a.shift_id for a in mine]
    first = client.get(path, {"limit": 2}).json()
    assert Decimal(first["hours"]) == sum(a.hours for a in mine if a.hours is not None)
    assert [Decimal(t["amount"]) for t in first["totals"]] == [sum(a.pay_amount for a in mine if a.pay_amount)]
    theirs = Attendance.objects.get(worker=other)
    _foreign_cursor_leaks_nothing(
        client,
        path,
        {},
        _cursor("staffing.earnings", theirs.shift.starts_at, theirs.pk),
        [a.shift_id for a in mine],
        key="shift_id",
    )
    _refuses_bad_cursors(client, path, {}, "staffing.earnings")


# --- dispatchers: pool, clients, sites, orders -------------------------------------------------------------------


def test_the_pool_pages_by_id_and_never_shows_another_pool() -> None:
    world, stranger = staffing_world(5), staffing_world(2)
    client = ApiClient(world.hq_dispatcher)
    path, params = "/api/v1/staffing/workers", {"organization_id": world.hq.pk}
    expected = [w.pk for w in sorted(world.workers, key=lambda w: w.pk)]
    page = client.get(path, {**params, "limit": 2}).json()
    assert "interview_notes" not in page["items"][0] and "home_latitude" not in page["items"][0]
    assert _walk(client, path, params) == expected
    # A franchise dispatches from its HQ's pool: the same rows, the same order.
    assert _walk(ApiClient(world.dispatcher), path, {"organization_id": world.franchise.pk}) == expected
    _foreign_cursor_leaks_nothing(
        client, path, params, _cursor("staffing.workers", None, stranger.workers[0].pk), expected
    )
    _refuses_bad_cursors(client, path, params, "staffing.workers")
    # The whole profile is the detail route's, for a worker of a pool the caller dispatches from only.
    profile = client.get(f"{path}/{world.workers[0].pk}")
    assert profile.status_code == 200 and "interview_notes" in profile.json()
    assert client.get(f"{path}/{stranger.workers[0].pk}").status_code == 404


def test_corporate_clients_page_by_name_within_the_organization() -> None:
    world, stranger = staffing_world(0), staffing_world(0)
    names = ["Beta", "Alpha", "Beta", "Gamma", "Alpha"]
    for name in names:
        _client(world.franchise, name)
        _client(stranger.franchise, name)
    client = ApiClient(world.dispatcher)
    path, params = "/api/v1/staffing/clients", {"organization_id": world.franchise.pk}
    expected = list(
        CorporateClient.objects.filter(organization=world.franchise).order_by("name", "id").values_list("id", flat=True)
    )
    assert _walk(client, path, params) == expected and len(expected) == 5
    first = CorporateClient.objects.filter(organization=stranger.franchise).order_by("name", "id").first()
    assert first is not None
    _foreign_cursor_leaks_nothing(client, path, params, _cursor("staffing.clients", first.name, first.pk), expected)
    _refuses_bad_cursors(client, path, params, "staffing.clients")


def test_sites_page_by_name_within_the_organization_and_the_client() -> None:
    world, stranger = staffing_world(0), staffing_world(0)
    owner = _client(world.franchise, "Stroy")
    for name in ("Yard B", "Yard A", "Yard B", "Dock", "Yard A"):
        Site.objects.filter(pk=site(world.franchise, owner).pk).update(name=name)
        Site.objects.filter(pk=site(stranger.franchise, _client(stranger.franchise, "Stroy")).pk).update(name=name)
    site(world.franchise)  # another client's site: only in the unfiltered list
    client = ApiClient(world.dispatcher)
    path = "/api/v1/staffing/sites"
    everything = {"organization_id": world.franchise.pk}
    of_owner = {**everything, "client_id": owner.pk}
    expected = list(Site.objects.filter(client=owner).order_by("name", "id").values_list("id", flat=True))
    assert _walk(client, path, of_owner) == expected and len(expected) == 5
    assert _walk(client, path, everything) == list(
        Site.objects.filter(organization=world.franchise).order_by("name", "id").values_list("id", flat=True)
    )
    theirs = Site.objects.filter(organization=stranger.franchise).order_by("name", "id").first()
    assert theirs is not None
    _foreign_cursor_leaks_nothing(client, path, of_owner, _cursor("staffing.sites", theirs.name, theirs.pk), expected)
    _refuses_bad_cursors(client, path, of_owner, "staffing.sites")


def test_orders_page_latest_first_day_first_within_the_organization() -> None:
    world, stranger = staffing_world(0), staffing_world(0)
    yard, their_yard = site(world.franchise), site(stranger.franchise)
    today = timezone.now().date()
    for n in range(5):
        order_with_shift(world.franchise, day=today + dt.timedelta(days=n // 2), site_=yard)
        order_with_shift(stranger.franchise, day=today + dt.timedelta(days=n // 2), site_=their_yard)
    client = ApiClient(world.dispatcher)
    path, params = "/api/v1/staffing/orders", {"organization_id": world.franchise.pk}
    expected = list(
        Order.objects.filter(organization=world.franchise).order_by("-start_date", "-id").values_list("id", flat=True)
    )
    assert _walk(client, path, params) == expected and len(expected) == 5
    assert _walk(client, path, {**params, "status": "confirmed"}) == []
    theirs = Order.objects.filter(organization=stranger.franchise).order_by("-start_date", "-id").first()
    assert theirs is not None
    _foreign_cursor_leaks_nothing(
        client, path, params, _cursor("staffing.orders", theirs.start_date, theirs.pk), expected
    )
    _refuses_bad_cursors(client, path, params, "staffing.orders")


# --- one order, one shift: runs, reasons, attendance -------------------------------------------------------------


def test_an_orders_solver_runs_page_newest_first() -> None:
    world, stranger = staffing_world(0), staffing_world(0)
    order, _ = order_with_shift(world.franchise)
    theirs, _ = order_with_shift(stranger.franchise)
    moment = timezone.now()
    for n in range(5):
        when = moment - dt.timedelta(minutes=n // 2)
        SolverRun.objects.create(organization=world.franchise, order=order, created_at=when)
        SolverRun.objects.create(organization=stranger.franchise, order=theirs, created_at=when)
    client = ApiClient(world.dispatcher)
    path = f"/api/v1/staffing/orders/{order.pk}/solver-runs"
    expected = list(SolverRun.objects.filter(order=order).order_by("-created_at", "-id").values_list("id", flat=True))
    assert _walk(client, path) == expected and len(expected) == 5
    run = SolverRun.objects.filter(order=theirs).first()
    assert run is not None
    _foreign_cursor_leaks_nothing(client, path, {}, _cursor("staffing.solver_runs", run.created_at, run.pk), expected)
    _refuses_bad_cursors(client, path, {}, "staffing.solver_runs")
    assert client.get(f"/api/v1/staffing/orders/{theirs.pk}/solver-runs").status_code == 404


def _planned(order: Order, shifts: list[Shift], workers: list[Worker]) -> None:
    for shift in shifts:
        for n, worker in enumerate(workers):
            Offer.objects.create(
                organization=order.organization,
                shift=shift,
                worker=worker,
                is_standby=n >= 3,
                position=n % 3 // 2,  # equal places in the plan: the id breaks the tie
                status=OfferStatus.OFFERED,
            )


def test_the_reasons_of_a_many_day_order_page_in_plan_order() -> None:
    world, stranger = staffing_world(5), staffing_world(2)
    order, first = order_with_shift(world.franchise)
    shifts = [first, _shift(order, first.date + dt.timedelta(days=1))]
    _planned(order, shifts, world.workers)
    theirs, their_shift = order_with_shift(stranger.franchise)
    _planned(theirs, [their_shift], stranger.workers)
    client = ApiClient(world.dispatcher)
    path = f"/api/v1/staffing/orders/{order.pk}/why"
    expected = list(
        Offer.objects.filter(shift__order=order)
        .order_by("shift__starts_at", "is_standby", "position", "id")
        .values_list("id", flat=True)
    )
    assert _walk(client, path, key="offer_id") == expected and len(expected) == 10
    offer = Offer.objects.filter(shift__order=theirs).first()
    assert offer is not None
    cursor = _cursor("staffing.why", [their_shift.starts_at, offer.is_standby, offer.position], offer.pk)
    _foreign_cursor_leaks_nothing(client, path, {}, cursor, expected, key="offer_id")
    _refuses_bad_cursors(client, path, {}, "staffing.why")
    one_key_short = _cursor("staffing.why", [their_shift.starts_at, False], offer.pk)
    assert client.get(path, {"cursor": one_key_short}).json()["error"]["code"] == "invalid_cursor"


def test_a_shifts_attendance_pages_in_plan_order() -> None:
    world, stranger = staffing_world(6), staffing_world(2)
    _, shift = order_with_shift(world.franchise, call_cap=6)
    statuses = [
        OfferStatus.ACCEPTED,
        OfferStatus.CONFIRMED,
        OfferStatus.NO_SHOW,
        OfferStatus.ACCEPTED,
        OfferStatus.CHECKED_IN,
        OfferStatus.OFFERED,  # not on the foreman's list
    ]
    for n, (worker, status) in enumerate(zip(world.workers, statuses, strict=True)):
        Offer.objects.create(organization=world.franchise, shift=shift, worker=worker, status=status, position=n // 2)
    _, their_shift = order_with_shift(stranger.franchise)
    their = Offer.objects.create(
        organization=stranger.franchise, shift=their_shift, worker=stranger.workers[0], status=OfferStatus.ACCEPTED
    )
    client = ApiClient(world.dispatcher)
    path = f"/api/v1/staffing/shifts/{shift.pk}/attendance"
    expected = list(
        Offer.objects.filter(shift=shift)
        .exclude(status=OfferStatus.OFFERED)
        .order_by("position", "id")
        .values_list("id", flat=True)
    )
    assert _walk(client, path, key="offer_id") == expected and len(expected) == 5
    _foreign_cursor_leaks_nothing(
        client, path, {}, _cursor("staffing.attendance", 0, their.pk), expected, key="offer_id"
    )
    _refuses_bad_cursors(client, path, {}, "staffing.attendance")
    assert client.get(f"/api/v1/staffing/shifts/{their_shift.pk}/attendance").status_code == 404


def test_the_board_pages_by_shift_start_within_the_organization() -> None:
    world, stranger = staffing_world(0), staffing_world(0)
    yard, their_yard = site(world.franchise), site(stranger.franchise)
    today = timezone.now().date()
    for n in range(5):
        order_with_shift(world.franchise, day=today + dt.timedelta(days=1 + n // 2), site_=yard)
        order_with_shift(stranger.franchise, day=today + dt.timedelta(days=1 + n // 2), site_=their_yard)
    order_with_shift(world.franchise, day=today + dt.timedelta(days=30), site_=yard)  # beyond the board's window
    client = ApiClient(world.dispatcher)
    path, params = "/api/v1/staffing/board", {"organization_id": world.franchise.pk}
    expected = list(
        Shift.objects.filter(organization=world.franchise, date__lt=today + dt.timedelta(days=10))
        .order_by("starts_at", "id")
        .values_list("id", flat=True)
    )
    assert _walk(client, path, params, key="shift_id") == expected and len(expected) == 5
    theirs = Shift.objects.filter(organization=stranger.franchise).order_by("starts_at", "id").first()
    assert theirs is not None
    _foreign_cursor_leaks_nothing(
        client, path, params, _cursor("staffing.board", theirs.starts_at, theirs.pk), expected, key="shift_id"
    )
    _refuses_bad_cursors(client, path, params, "staffing.board")


# --- booking: the waiting list and reviews -----------------------------------------------------------------------


def _entry(salon: Salon, created_at: dt.datetime, **kwargs: Any) -> WaitlistEntry:
    start = _at(3, hour=10)
    return WaitlistEntry.objects.create(
        organization=salon.org,
        branch=salon.branch,
        client=kwargs.pop("client", None) or salon.client(),
        service=salon.service,
        windows=[[start.isoformat(), (start + dt.timedelta(hours=4)).isoformat()]],
        earliest=start,
        latest=start + dt.timedelta(hours=4),
        created_at=created_at,
        **kwargs,
    )


def test_a_branchs_waiting_list_pages_first_come_first_served() -> None:
    salon, stranger = salon_in(OrganizationFactory()), salon_in(OrganizationFactory())
    moment = timezone.now()
    for n in range(5):
        _entry(salon, moment - dt.timedelta(minutes=10 - n // 2))
        _entry(stranger, moment - dt.timedelta(minutes=10 - n // 2))
    client = ApiClient(salon.manager)
    path, params = "/api/v1/booking/waitlist", {"branch_id": salon.branch.pk}
    expected = list(
        WaitlistEntry.objects.filter(branch=salon.branch).order_by("created_at", "id").values_list("id", flat=True)
    )
    assert _walk(client, path, params) == expected and len(expected) == 5
    theirs = WaitlistEntry.objects.filter(branch=stranger.branch).order_by("created_at", "id").first()
    assert theirs is not None
    _foreign_cursor_leaks_nothing(
        client, path, params, _cursor("booking.waitlist", theirs.created_at, theirs.pk), expected
    )
    _refuses_bad_cursors(client, path, params, "booking.waitlist")


def test_my_waiting_list_entries_page_and_never_show_another_customers() -> None:
    salon, elsewhere = salon_in(OrganizationFactory()), salon_in(OrganizationFactory())
    me, someone = UserFactory(), UserFactory()
    moment = timezone.now()
    for n in range(5):
        _entry((salon, elsewhere)[n % 2], moment - dt.timedelta(minutes=10 - n // 2), customer=me)
        _entry(salon, moment - dt.timedelta(minutes=10 - n // 2), customer=someone)
    client = ApiClient(me)
    path = "/api/v1/booking/waitlist/mine"
    expected = list(WaitlistEntry.objects.filter(customer=me).order_by("created_at", "id").values_list("id", flat=True))
    assert _walk(client, path) == expected and len(expected) == 5
    theirs = WaitlistEntry.objects.filter(customer=someone).order_by("created_at", "id").first()
    assert theirs is not None
    _foreign_cursor_leaks_nothing(
        client, path, {}, _cursor("booking.waitlist_mine", theirs.created_at, theirs.pk), expected
    )
    _refuses_bad_cursors(client, path, {}, "booking.waitlist_mine")


def _reviews(salon: Salon, moment: dt.datetime) -> None:
    for n in range(5):
        visit = appointment_row(
            salon, salon.client(), moment - dt.timedelta(days=2, hours=2 * n), status=AppointmentStatus.DONE
        )
        Review.objects.create(
            organization=salon.org,
            branch=salon.branch,
            appointment=visit,
            client_id=visit.client_id,
            staff=salon.master,
            score=6 + n,
            created_at=moment - dt.timedelta(minutes=n // 2),
        )


def test_reviews_page_newest_first_and_the_summary_covers_them_all() -> None:
    salon, stranger = salon_in(OrganizationFactory()), salon_in(OrganizationFactory())
    moment = timezone.now().replace(microsecond=0)
    _reviews(salon, moment)
    _reviews(stranger, moment)
    client = ApiClient(salon.manager)
    path, params = "/api/v1/booking/reviews", {"organization_id": salon.org.pk}
    expected = list(
        Review.objects.filter(organization=salon.org).order_by("-created_at", "-id").values_list("id", flat=True)
    )
    assert _walk(client, path, params) == expected and len(expected) == 5
    first = client.get(path, {**params, "limit": 2}).json()
    assert (first["count"], first["average"]) == (5, 8.0)
    theirs = Review.objects.filter(organization=stranger.org).order_by("-created_at", "-id").first()
    assert theirs is not None
    _foreign_cursor_leaks_nothing(
        client, path, params, _cursor("booking.reviews", theirs.created_at, theirs.pk), expected
    )
    _refuses_bad_cursors(client, path, params, "booking.reviews")
    # Another organization's manager cannot list these at all.
    assert ApiClient(member(stranger.org, Role.MANAGER)).get(path, params).status_code == 404


def test_my_visits_page_latest_first_or_upcoming_soonest_first() -> None:
    salon, elsewhere = salon_in(OrganizationFactory()), salon_in(OrganizationFactory())
    me, someone = UserFactory(), UserFactory()
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for n in range(6):
        when = now + dt.timedelta(days=n - 2, hours=n % 2)
        status = AppointmentStatus.DONE if n < 2 else AppointmentStatus.BOOKED
        where = (salon, elsewhere)[n % 2]
        appointment_row(where, where.client(), when, status=status, customer=me)
        appointment_row(salon, salon.client(), when, staff=salon.other_master, status=status, customer=someone)
    client = ApiClient(me)
    path = "/api/v1/booking/appointments"
    mine = Appointment.objects.filter(customer=me)
    latest_first = list(mine.order_by("-starts_at", "-id").values_list("id", flat=True))
    upcoming = list(mine.filter(ends_at__gt=timezone.now()).order_by("starts_at", "id").values_list("id", flat=True))
    assert _walk(client, path) == latest_first and len(latest_first) == 6
    assert _walk(client, path, {"upcoming": True}) == upcoming and len(upcoming) == 4
    theirs = Appointment.objects.filter(customer=someone).order_by("-starts_at", "-id").first()
    assert theirs is not None
    _foreign_cursor_leaks_nothing(client, path, {}, _cursor("booking.mine", theirs.starts_at, theirs.pk), latest_first)
    _refuses_bad_cursors(client, path, {}, "booking.mine")
    # A cursor of the latest-first walk is refused by the upcoming one.
    older = client.get(path, {"limit": 2}).json()["next_cursor"]
    response = client.get(path, {"upcoming": True, "cursor": older})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_cursor"
