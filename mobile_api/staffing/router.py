"""Staffing API: the worker's side (profile, availability, offers, accept/decline, shifts, confirm) and the
dispatcher's (pool, clients, sites, orders, dispatch, solver runs with the reasons). Thin: every read is a selector,
every write a service. Attendance, earnings, rating and the live board have their own router modules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import File, Query, Router, Status
from ninja.files import UploadedFile

from backend.core.cursors import keyset_page
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_for_action
from backend.staffing import selectors
from backend.staffing.models import CorporateClient, Offer, Order, Site, SolverRun, Worker
from backend.staffing.services import confirmations, dispatch, offers, orders, pool
from mobile_api.conflicts import conflict_shows_current
from mobile_api.errors import OBJECT_ERROR_RESPONSES, ErrorEnvelope
from mobile_api.pagination import DEFAULT_LIMIT, CursorPageQuery

from .schemas import (
    AvailabilityIn,
    AvailabilityOut,
    AvailabilityWindowOut,
    CorporateClientIn,
    CorporateClientListOut,
    CorporateClientOut,
    CorporateClientPatchIn,
    DispatchWhyOut,
    HandOffIn,
    OfferDeclineIn,
    OfferListOut,
    OfferOut,
    OfferPageQuery,
    OfferStatusQuery,
    OrderCancelIn,
    OrderCardOut,
    OrderIn,
    OrderListOut,
    OrderListQuery,
    OrderOut,
    OverrideIn,
    OverrideOut,
    ShiftOut,
    SiteIn,
    SiteListOut,
    SiteListQuery,
    SiteOut,
    SolverRunCardOut,
    SolverRunListOut,
    SolverRunOut,
    StaffingOrgQuery,
    WhyListOut,
    WorkerHomeIn,
    WorkerListOut,
    WorkerListQuery,
    WorkerProfileOut,
    WorkerRecruitIn,
    WorkerRowOut,
    WorkerStatusIn,
)

router = Router(tags=["staffing"])

READ = OBJECT_ERROR_RESPONSES
WRITE = {**OBJECT_ERROR_RESPONSES, 409: ErrorEnvelope}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


# --- shaping ------------------------------------------------------------------------------------------------


def worker_out(w: Worker) -> WorkerProfileOut:
    return WorkerProfileOut(
        id=w.pk,
        organization_id=w.organization_id,
        user_id=w.user_id,
        name=w.user.get_full_name(),
        phone=w.user.phone,
        status=w.status,
        skills=list(w.skills),
        home_latitude=w.home_latitude,
        home_longitude=w.home_longitude,
        reliability=w.reliability,
        rank=w.rank,
        shows_count=w.shows_count,
        no_shows_count=w.no_shows_count,
        excused_count=w.excused_count,
        interview_notes=w.interview_notes,
        interviewed_at=w.interviewed_at,
        photo_url=w.photo.url if w.photo else None,
    )


def worker_row(w: Worker) -> WorkerRowOut:
    return WorkerRowOut(
        id=w.pk,
        organization_id=w.organization_id,
        user_id=w.user_id,
        name=w.user.get_full_name(),
        phone=w.user.phone,
        status=w.status,
        skills=list(w.skills),
        reliability=w.reliability,
        rank=w.rank,
        photo_url=w.photo.url if w.photo else None,
    )


def offer_out(o: Offer) -> OfferOut:
    shift = o.shift
    order = shift.order
    site = order.site
    return OfferOut(
        id=o.pk,
        organization_id=o.organization_id,
        shift_id=shift.pk,
        order_title=order.title,
        site_address=site.address,
        site_latitude=site.latitude,
        site_longitude=site.longitude,
        conditions=site.conditions,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        pay_rate=order.pay_rate,
        currency=order.currency,
        status=o.status,
        wave=o.wave,
        is_standby=o.is_standby,
        offered_at=o.offered_at,
        expires_at=o.expires_at,
        confirm_requested_at=o.confirm_requested_at,
        confirmed_at=o.confirmed_at,
    )


def _offer_card(offer_id: int) -> OfferOut:
    return offer_out(Offer.objects.select_related("shift__order__site").get(pk=offer_id))


def _offer_now(user: Any, offer_id: int) -> dict[str, Any]:
    """The caller's offer as ``GET /offers`` shows it now: the ``current`` of a 409 (mobile_api.conflicts)."""
    offer = selectors.offer_of_worker(user=user, offer_id=offer_id, related=("shift__order__site",))
    return offer_out(offer).model_dump(mode="json")


offer_conflict = conflict_shows_current(_offer_now, id_param="offer_id")


def client_out(c: CorporateClient) -> CorporateClientOut:
    return CorporateClientOut(
        id=c.pk,
        organization_id=c.organization_id,
        name=c.name,
        legal_name=c.legal_name,
        inn=c.inn,
        kpp=c.kpp,
        ogrn=c.ogrn,
        legal_address=c.legal_address,
        contact_name=c.contact_name,
        contact_phone=c.contact_phone,
        contact_email=c.contact_email,
        is_active=c.is_active,
    )


def site_out(s: Site) -> SiteOut:
    return SiteOut(
        id=s.pk,
        organization_id=s.organization_id,
        client_id=s.client_id,
        name=s.name,
        address=s.address,
        latitude=s.latitude,
        longitude=s.longitude,
        conditions=s.conditions,
        time_zone=s.time_zone,
        check_in_radius_m=s.check_in_radius_m,
    )


def order_out(o: Order) -> OrderOut:
    return OrderOut(
        id=o.pk,
        organization_id=o.organization_id,
        client_id=o.client_id,
        site_id=o.site_id,
        handed_from_id=o.handed_from_id,
        title=o.title,
        start_date=o.start_date,
        end_date=o.end_date,
        shift_start=o.shift_start,
        shift_end=o.shift_end,
        headcount=o.headcount,
        skills=list(o.skills),
        pay_rate=o.pay_rate,
        bill_rate=o.bill_rate,
        currency=o.currency,
        status=o.status,
    )


def order_card(o: Order) -> OrderCardOut:
    return OrderCardOut(
        **order_out(o).model_dump(),
        shifts=[ShiftOut.model_validate(s, from_attributes=True) for s in selectors.order_shifts(o)],
    )


def run_out(r: SolverRun) -> SolverRunOut:
    return SolverRunOut.model_validate(r, from_attributes=True)


def _windows(worker: Worker, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> AvailabilityOut:
    rows, next_cursor = keyset_page(
        selectors.availability_of(worker, since=timezone.now()),
        sort="staffing.availability",
        keys=[("starts_at", dt.datetime)],
        cursor=cursor,
        limit=limit,
    )
    return AvailabilityOut(
        items=[AvailabilityWindowOut(id=r.pk, starts_at=r.starts_at, ends_at=r.ends_at) for r in rows],
        next_cursor=next_cursor,
    )


# --- the worker: profile and availability ---------------------------------------------------------------------


@router.get("/me", response={200: WorkerProfileOut, **READ}, summary="My worker profile")
def me_get(request: HttpRequest) -> WorkerProfileOut:
    return worker_out(selectors.worker_self_get(_user(request)))


@router.post("/me/home", response={200: WorkerProfileOut, **WRITE}, summary="Set my home location")
def me_home(request: HttpRequest, payload: WorkerHomeIn) -> WorkerProfileOut:
    worker = pool.worker_self_update(
        user=_user(request), home_latitude=payload.home_latitude, home_longitude=payload.home_longitude
    )
    return worker_out(worker)


@router.post(
    "/me/photo",
    response={200: WorkerProfileOut, **WRITE},
    summary="Upload my profile photo",
    description="Multipart with one file field `photo`: a JPEG, PNG or WEBP picture, checked by its content (the "
    "filename does not matter). 422 `photo_too_large` over the size cap, `photo_invalid` for anything that is "
    "not such a picture or has too many pixels; a refusal changes nothing. The previous photo is replaced.",
)
def me_photo(request: HttpRequest, photo: File[UploadedFile]) -> WorkerProfileOut:
    return worker_out(pool.worker_photo_set(user=_user(request), file=photo))


@router.get(
    "/availability",
    response={200: AvailabilityOut, **READ},
    summary="My availability windows",
    description="Windows that have not ended, earliest first, paged by `cursor`.",
)
def availability_list(request: HttpRequest, query: Query[CursorPageQuery]) -> AvailabilityOut:
    return _windows(selectors.worker_self_get(_user(request)), cursor=query.cursor, limit=query.limit)


@router.post(
    "/availability",
    response={200: AvailabilityOut, **WRITE},
    summary="Declare when I can work",
    description="Windows are merged when they touch. With `replace_from`, your windows ending after it are "
    "replaced (send the whole week at once). One bad window (422 `invalid_availability`) and nothing changes. "
    "Answers the first page of your windows, as `GET /availability` does.",
)
def availability_declare(request: HttpRequest, payload: AvailabilityIn) -> AvailabilityOut:
    user = _user(request)
    pool.availability_declare(
        user=user,
        windows=[(w.starts_at, w.ends_at) for w in payload.windows],
        replace_from=payload.replace_from,
    )
    return _windows(selectors.worker_self_get(user))


@router.post(
    "/availability/{availability_id}/delete", response={204: None, **WRITE}, summary="Withdraw one of my windows"
)
def availability_delete(request: HttpRequest, availability_id: int) -> Status[None]:
    pool.availability_remove(user=_user(request), availability_id=availability_id)
    return Status(204, None)


# --- the worker: offers and shifts ---------------------------------------------------------------------------


@router.get(
    "/offers",
    response={200: OfferListOut, **READ},
    summary="My offers",
    description="Call-ups made to me, soonest shift first (standby places I was offered before included).",
)
def offer_list(request: HttpRequest, query: Query[OfferStatusQuery]) -> OfferListOut:
    rows, next_cursor = _shift_order_page(
        selectors.offers_of_worker(user=_user(request), status=query.status), "offers", query
    )
    return OfferListOut(items=[offer_out(o) for o in rows], next_cursor=next_cursor)


def _shift_order_page(qs: Any, sort: str, query: OfferPageQuery) -> tuple[list[Offer], str | None]:
    return keyset_page(qs, sort=sort, keys=[("shift__starts_at", dt.datetime)], cursor=query.cursor, limit=query.limit)


@router.post(
    "/offers/{offer_id}/accept",
    response={200: OfferOut, **WRITE},
    summary="Accept an offer",
    description="First come, first served, up to the shift's planned call count. 409 `shift_full` when the places "
    "went a moment earlier: you stay on standby and are offered first if one frees up. 409 `offer_expired`, "
    "`offer_not_open`, `shift_started`, `overlapping_shift` otherwise. Accepting twice is harmless.",
)
@offer_conflict
def offer_accept(request: HttpRequest, offer_id: int) -> OfferOut:
    offer = offers.offer_accept(user=_user(request), offer_id=offer_id)
    return _offer_card(offer.pk)


@router.post(
    "/offers/{offer_id}/decline",
    response={200: OfferOut, **WRITE},
    summary="Decline an offer (or give back a place)",
    description="The next worker on standby is offered the place.",
)
@offer_conflict
def offer_decline(request: HttpRequest, offer_id: int, payload: OfferDeclineIn) -> OfferOut:
    offer = offers.offer_decline(user=_user(request), offer_id=offer_id, reason=payload.reason)
    return _offer_card(offer.pk)


@router.post(
    "/offers/{offer_id}/confirm",
    response={200: OfferOut, **WRITE},
    summary="Confirm an accepted shift (the day before)",
    description="Unconfirmed places are released at the cut-off and go to someone else (409 "
    "`confirmation_closed` after that).",
)
@offer_conflict
def offer_confirm(request: HttpRequest, offer_id: int) -> OfferOut:
    offer = confirmations.offer_confirm(user=_user(request), offer_id=offer_id)
    return _offer_card(offer.pk)


@router.get("/shifts", response={200: OfferListOut, **READ}, summary="My shifts (places I hold or held)")
def shift_list(request: HttpRequest, query: Query[OfferPageQuery]) -> OfferListOut:
    rows, next_cursor = _shift_order_page(selectors.shifts_of_worker(user=_user(request)), "shifts", query)
    return OfferListOut(items=[offer_out(o) for o in rows], next_cursor=next_cursor)


# --- dispatchers: the pool -----------------------------------------------------------------------------------


@router.get(
    "/workers",
    response={200: WorkerListOut, **READ},
    summary="The pool this organization dispatches from",
    description="In the order they joined the pool (a stable order: rank moves after every shift), paged by "
    "`cursor`. A row is what a list shows; `GET /workers/{worker_id}` is the whole profile.",
)
def worker_list(request: HttpRequest, query: Query[WorkerListQuery]) -> WorkerListOut:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=query.organization_id, perm=Perm.STAFFING_MANAGE)
    rows, next_cursor = keyset_page(
        selectors.pool_workers(user=user, organization_id=org_id, status=query.status),
        sort="staffing.workers",
        cursor=query.cursor,
        limit=query.limit,
    )
    return WorkerListOut(items=[worker_row(w) for w in rows], next_cursor=next_cursor)


@router.get(
    "/workers/{worker_id}",
    response={200: WorkerProfileOut, **READ},
    summary="One worker of my organization's pool: the whole profile",
)
def worker_get(request: HttpRequest, worker_id: int) -> WorkerProfileOut:
    return worker_out(selectors.worker_profile_get(user=_user(request), worker_id=worker_id))


@router.post(
    "/workers",
    response={201: WorkerProfileOut, **WRITE},
    summary="Recruit a worker into the pool",
    description="Into the pool of the organization's HQ, as a candidate. 409 `worker_exists`.",
)
def worker_recruit(request: HttpRequest, payload: WorkerRecruitIn) -> Status[WorkerProfileOut]:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=payload.organization_id, perm=Perm.STAFFING_MANAGE)
    worker = pool.worker_recruit(
        user=user,
        organization_id=org_id,
        phone=payload.phone,
        first_name=payload.first_name,
        last_name=payload.last_name,
        skills=payload.skills,
        home_latitude=payload.home_latitude,
        home_longitude=payload.home_longitude,
    )
    return Status(201, worker_out(worker))


@router.post(
    "/workers/{worker_id}/status",
    response={200: WorkerProfileOut, **WRITE},
    summary="Move a worker along candidate → interviewed → active → suspended",
)
def worker_status(request: HttpRequest, worker_id: int, payload: WorkerStatusIn) -> WorkerProfileOut:
    worker = pool.worker_status_change(
        user=_user(request), worker_id=worker_id, status=payload.status, notes=payload.notes
    )
    return worker_out(Worker.objects.select_related("user").get(pk=worker.pk))


# --- dispatchers: clients and sites ----------------------------------------------------------------------------


@router.get(
    "/clients",
    response={200: CorporateClientListOut, **READ},
    summary="Corporate clients",
    description="By name, paged by `cursor`.",
)
def client_list(request: HttpRequest, query: Query[StaffingOrgQuery]) -> CorporateClientListOut:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=query.organization_id, perm=Perm.STAFFING_MANAGE)
    rows, next_cursor = keyset_page(
        selectors.clients_for(user=user, organization_id=org_id),
        sort="staffing.clients",
        keys=[("name", str)],
        cursor=query.cursor,
        limit=query.limit,
    )
    return CorporateClientListOut(items=[client_out(c) for c in rows], next_cursor=next_cursor)


@router.post(
    "/clients",
    response={201: CorporateClientOut, **WRITE},
    summary="Add a corporate client",
    description="INN, KPP and OGRN are checked (control digits): 422 `invalid_inn` / `invalid_kpp` / "
    "`invalid_ogrn`; 409 `client_exists` for an INN/KPP the organization already has.",
)
def client_create(request: HttpRequest, payload: CorporateClientIn) -> Status[CorporateClientOut]:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=payload.organization_id, perm=Perm.STAFFING_MANAGE)
    client = orders.client_create(user=user, organization_id=org_id, **payload.model_dump(exclude={"organization_id"}))
    return Status(201, client_out(client))


@router.get("/clients/{client_id}", response={200: CorporateClientOut, **READ}, summary="One corporate client")
def client_get(request: HttpRequest, client_id: int) -> CorporateClientOut:
    return client_out(selectors.client_get(user=_user(request), client_id=client_id))


@router.patch("/clients/{client_id}", response={200: CorporateClientOut, **WRITE}, summary="Change a corporate client")
def client_patch(request: HttpRequest, client_id: int, payload: CorporateClientPatchIn) -> CorporateClientOut:
    changes = payload.model_dump(exclude_unset=True, exclude_none=True)
    return client_out(orders.client_update(user=_user(request), client_id=client_id, **changes))


@router.get(
    "/sites",
    response={200: SiteListOut, **READ},
    summary="Sites (of one client with `client_id`)",
    description="By name, paged by `cursor`.",
)
def site_list(request: HttpRequest, query: Query[SiteListQuery]) -> SiteListOut:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=query.organization_id, perm=Perm.STAFFING_MANAGE)
    if query.client_id is not None:
        selectors.client_get(user=user, client_id=query.client_id)
    rows, next_cursor = keyset_page(
        selectors.sites_for(user=user, organization_id=org_id, client_id=query.client_id),
        sort="staffing.sites",
        keys=[("name", str)],
        cursor=query.cursor,
        limit=query.limit,
    )
    return SiteListOut(items=[site_out(s) for s in rows], next_cursor=next_cursor)


@router.post("/sites", response={201: SiteOut, **WRITE}, summary="Add a site of a client")
def site_create(request: HttpRequest, payload: SiteIn) -> Status[SiteOut]:
    site = orders.site_create(user=_user(request), **payload.model_dump())
    return Status(201, site_out(site))


# --- dispatchers: orders and dispatch ---------------------------------------------------------------------------


@router.get(
    "/orders",
    response={200: OrderListOut, **READ},
    summary="Orders",
    description="The latest first day first, paged by `cursor`; `GET /orders/{order_id}` adds the shifts.",
)
def order_list(request: HttpRequest, query: Query[OrderListQuery]) -> OrderListOut:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=query.organization_id, perm=Perm.STAFFING_MANAGE)
    rows, next_cursor = keyset_page(
        selectors.orders_for(user=user, organization_id=org_id, status=query.status),
        sort="staffing.orders",
        keys=[("start_date", dt.date)],
        cursor=query.cursor,
        limit=query.limit,
        descending=True,
    )
    return OrderListOut(items=[order_out(o) for o in rows], next_cursor=next_cursor)


@router.post(
    "/orders",
    response={201: OrderCardOut, **WRITE},
    summary="Create a draft order at a site",
    description="One shift per day from `start_date` to `end_date` in the daily window (site-local; an end at or "
    "before the start is the next morning). Nobody is called until the order is confirmed.",
)
def order_create(request: HttpRequest, payload: OrderIn) -> Status[OrderCardOut]:
    order = orders.order_create(user=_user(request), **payload.model_dump())
    return Status(201, order_card(order))


@router.get("/orders/{order_id}", response={200: OrderCardOut, **READ}, summary="One order with its shifts")
def order_get(request: HttpRequest, order_id: int) -> OrderCardOut:
    return order_card(selectors.order_get(user=_user(request), order_id=order_id))


@router.post(
    "/orders/{order_id}/confirm",
    response={200: OrderCardOut, **WRITE},
    summary="Confirm an order and start dispatch",
    description="Queues a solver run in the background (see `GET /orders/{order_id}/solver-runs`); its plan becomes "
    "offers. 409 `order_not_draft`.",
)
def order_confirm(request: HttpRequest, order_id: int) -> OrderCardOut:
    return order_card(orders.order_confirm(user=_user(request), order_id=order_id))


@router.post("/orders/{order_id}/cancel", response={200: OrderCardOut, **WRITE}, summary="Cancel an order")
def order_cancel(request: HttpRequest, order_id: int, payload: OrderCancelIn) -> OrderCardOut:
    return order_card(orders.order_cancel(user=_user(request), order_id=order_id, reason=payload.reason))


@router.post(
    "/orders/{order_id}/hand-off",
    response={200: OrderCardOut, **WRITE},
    summary="Hand a draft order to a franchise (HQ contact centre)",
)
def order_hand_off(request: HttpRequest, order_id: int, payload: HandOffIn) -> OrderCardOut:
    order = orders.order_hand_off(user=_user(request), order_id=order_id, franchise_id=payload.franchise_id)
    return order_card(order)


@router.post(
    "/orders/{order_id}/dispatch",
    response={202: SolverRunOut, **WRITE},
    summary="Re-run the plan",
    description="Answers already given are kept (places held stay, decliners are not called again). 409 "
    "`dispatch_running` while a plan is being made.",
)
def order_dispatch(request: HttpRequest, order_id: int) -> Status[SolverRunOut]:
    return Status(202, run_out(dispatch.dispatch_rerun(user=_user(request), order_id=order_id)))


@router.post(
    "/orders/{order_id}/overrides",
    response={200: OverrideOut, **WRITE},
    summary="Pin or exclude a worker (null clears)",
    description="Pinned workers are called wherever they are eligible; excluded ones never. A confirmed order is "
    "re-planned at once.",
)
def order_override(request: HttpRequest, order_id: int, payload: OverrideIn) -> OverrideOut:
    dispatch.dispatch_override_set(
        user=_user(request), order_id=order_id, worker_id=payload.worker_id, kind=payload.kind
    )
    return OverrideOut(worker_id=payload.worker_id, kind=payload.kind)


@router.get(
    "/orders/{order_id}/why",
    response={200: WhyListOut, **READ},
    summary="Why each worker was called",
    description="Per planned worker: show probability, rank, distance, position in the plan, standby or pinned. "
    "Shift by shift in plan order, paged by `cursor` (an order of many days has many rows).",
)
def order_why(request: HttpRequest, order_id: int, query: Query[CursorPageQuery]) -> WhyListOut:
    order = selectors.order_get(user=_user(request), order_id=order_id)
    rows, next_cursor = dispatch.dispatch_why_page(order=order, cursor=query.cursor, limit=query.limit)
    return WhyListOut(items=[DispatchWhyOut(**row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/orders/{order_id}/solver-runs",
    response={200: SolverRunListOut, **READ},
    summary="Solver runs",
    description="Newest first, paged by `cursor` (every re-plan adds one); `GET /solver-runs/{run_id}` adds the "
    "instance and the solution.",
)
def order_runs(request: HttpRequest, order_id: int, query: Query[CursorPageQuery]) -> SolverRunListOut:
    rows, next_cursor = keyset_page(
        selectors.solver_runs_for(user=_user(request), order_id=order_id),
        sort="staffing.solver_runs",
        keys=[("created_at", dt.datetime)],
        cursor=query.cursor,
        limit=query.limit,
        descending=True,
    )
    return SolverRunListOut(items=[run_out(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/solver-runs/{run_id}",
    response={200: SolverRunCardOut, **READ},
    summary="One solver run with its instance and solution",
)
def solver_run_get(request: HttpRequest, run_id: int) -> SolverRunCardOut:
    run = selectors.solver_run_get(user=_user(request), run_id=run_id)
    return SolverRunCardOut.model_validate(run, from_attributes=True)
