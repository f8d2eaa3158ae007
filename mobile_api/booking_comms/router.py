"""Booking API, client-messaging part: the waiting list, confirmations, reviews, mailings and messaging settings.

Thin: every read is a selector, every write a service; each POST takes an ``Idempotency-Key``. Customers (users with
no role in the organization) join and leave the waiting list, take or decline an offer, confirm a visit and rate it;
staff with the booking right do the same for a client; mailings and settings are for owners and managers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from backend.booking import selectors_comms
from backend.booking.models_comms import Review, WaitlistEntry, WaitlistOffer
from backend.booking.services import campaigns, comms_settings, reviews, waitlist
from backend.booking.services.appointments_bridge import appointment_confirm_by_client
from backend.core.cursors import keyset_page
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_for_action
from mobile_api.errors import OBJECT_ERROR_RESPONSES, ErrorEnvelope
from mobile_api.pagination import CursorPageQuery

from .schemas import (
    CommsOrgQuery,
    CommsSettingsIn,
    CommsSettingsOut,
    ConfirmIn,
    ConfirmOut,
    MailingIn,
    MailingOut,
    MailingPreviewIn,
    MailingPreviewOut,
    ReviewIn,
    ReviewListOut,
    ReviewListQuery,
    ReviewOut,
    SmsCountOut,
    TakenOut,
    WaitlistBranchQuery,
    WaitlistEntryOut,
    WaitlistJoinIn,
    WaitlistListOut,
    WaitlistOfferOut,
    WindowOut,
)

router = Router(tags=["booking"])

READ = OBJECT_ERROR_RESPONSES
WRITE = {**OBJECT_ERROR_RESPONSES, 409: ErrorEnvelope}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _offer_out(offer: WaitlistOffer) -> WaitlistOfferOut:
    return WaitlistOfferOut(
        id=offer.pk,
        staff_id=offer.staff_id,
        starts_at=offer.starts_at,
        ends_at=offer.ends_at,
        hold_until=offer.hold_until,
        status=offer.status,
        appointment_id=offer.appointment_id,
    )


def _entry_out(entry: WaitlistEntry, offer: WaitlistOffer | None = None) -> WaitlistEntryOut:
    return WaitlistEntryOut(
        id=entry.pk,
        organization_id=entry.organization_id,
        branch_id=entry.branch_id,
        client_id=entry.client_id,
        service_id=entry.service_id,
        staff_id=entry.staff_id,
        windows=[WindowOut(start=s, end=e) for s, e in entry.windows],
        status=entry.status,
        appointment_id=entry.appointment_id,
        created_at=entry.created_at,
        offer=_offer_out(offer) if offer is not None else None,
    )


def _entries_out(entries: Any, sort: str, page: CursorPageQuery) -> WaitlistListOut:
    rows, next_cursor = keyset_page(
        entries, sort=sort, keys=[("created_at", dt.datetime)], cursor=page.cursor, limit=page.limit
    )
    offers = selectors_comms.open_offers(rows)
    return WaitlistListOut(items=[_entry_out(e, offers.get(e.pk)) for e in rows], next_cursor=next_cursor)


def _review_out(review: Review) -> ReviewOut:
    return ReviewOut(
        id=review.pk,
        organization_id=review.organization_id,
        appointment_id=review.appointment_id,
        client_id=review.client_id,
        staff_id=review.staff_id,
        score=review.score,
        comment=review.comment,
        created_at=review.created_at,
    )


# --- waiting list ---------------------------------------------------------------------------------------------


@router.post(
    "/waitlist",
    response={201: WaitlistEntryOut, **WRITE},
    summary="Join the waiting list",
    description="Wait for a service at a branch (a master, or any) within up to 7 time windows. When a matching "
    "slot frees, the first in line is offered it and it is held for them for a few minutes (the organization's "
    "`waitlist_hold_minutes`); the offer arrives by Telegram or SMS and shows in `GET /booking/waitlist/mine`. "
    "422 `invalid_windows` for windows in the past, reversed or over a year away; 422 `invalid_reference` for a "
    "service, master or client not of this organization.",
)
def waitlist_join(request: HttpRequest, payload: WaitlistJoinIn) -> Status[WaitlistEntryOut]:
    entry = waitlist.waitlist_join(
        user=_user(request),
        branch_id=payload.branch_id,
        service_id=payload.service_id,
        staff_id=payload.staff_id,
        client_id=payload.client_id,
        windows=[(w.start, w.end) for w in payload.windows],
    )
    return Status(201, _entry_out(entry))


@router.get(
    "/waitlist/mine",
    response={200: WaitlistListOut, **READ},
    summary="My waiting-list entries",
    description="Open entries, oldest first, paged by `cursor`.",
)
def waitlist_mine(request: HttpRequest, query: Query[CursorPageQuery]) -> WaitlistListOut:
    return _entries_out(selectors_comms.waitlist_mine(user=_user(request)), "booking.waitlist_mine", query)


@router.get(
    "/waitlist",
    response={200: WaitlistListOut, **READ},
    summary="A branch's waiting list, in order",
    description="First come, first served, paged by `cursor`.",
)
def waitlist_of_branch(request: HttpRequest, query: Query[WaitlistBranchQuery]) -> WaitlistListOut:
    entries = selectors_comms.waitlist_of_branch(user=_user(request), branch_id=query.branch_id)
    return _entries_out(entries, "booking.waitlist", query)


@router.post(
    "/waitlist/{entry_id}/leave",
    response={200: WaitlistEntryOut, **WRITE},
    summary="Leave the waiting list",
    description="An open offer is withdrawn and its slot passed to the next in line. 409 `waitlist_closed` when "
    "the entry is no longer waiting.",
)
def waitlist_leave(request: HttpRequest, entry_id: int) -> WaitlistEntryOut:
    return _entry_out(waitlist.waitlist_leave(user=_user(request), entry_id=entry_id))


@router.post(
    "/waitlist/offers/{offer_id}/take",
    response={200: TakenOut, **WRITE},
    summary="Take a waiting-list offer",
    description="Books the held slot. 409 `offer_gone` once the hold has ended or the offer was declined.",
)
def waitlist_offer_take(request: HttpRequest, offer_id: int) -> TakenOut:
    appointment = waitlist.waitlist_offer_take(user=_user(request), offer_id=offer_id)
    offer = WaitlistOffer.objects.get(pk=offer_id)
    return TakenOut(
        offer=_offer_out(offer),
        appointment_id=appointment.pk,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        status=appointment.status,
    )


@router.post(
    "/waitlist/offers/{offer_id}/decline",
    response={200: WaitlistOfferOut, **WRITE},
    summary="Decline a waiting-list offer",
    description="The entry keeps waiting; the slot goes to the next in line. 409 `offer_gone` if it is not open.",
)
def waitlist_offer_decline(request: HttpRequest, offer_id: int) -> WaitlistOfferOut:
    return _offer_out(waitlist.waitlist_offer_decline(user=_user(request), offer_id=offer_id))


# --- confirmation and reviews -----------------------------------------------------------------------------------


@router.post(
    "/confirmations",
    response={200: ConfirmOut, **WRITE},
    summary="Confirm a visit",
    description="The client's answer to the confirmation request (the first reminder): booked -> confirmed. "
    "Confirming twice changes nothing; 409 `not_confirmable` for a visit that is cancelled, done or under way.",
)
def confirm(request: HttpRequest, payload: ConfirmIn) -> ConfirmOut:
    appointment = appointment_confirm_by_client(user=_user(request), appointment_id=payload.appointment_id)
    return ConfirmOut(appointment_id=appointment.pk, status=appointment.status)


@router.post(
    "/reviews",
    response={201: ReviewOut, **WRITE},
    summary="Rate a visit from 1 to 10",
    description="The client (or staff recording their answer) rates a done visit once. 409 `not_reviewable` for a "
    "visit that is not done, 409 `already_reviewed` for a second rating.",
)
def review_submit(request: HttpRequest, payload: ReviewIn) -> Status[ReviewOut]:
    review = reviews.review_submit(
        user=_user(request), appointment_id=payload.appointment_id, score=payload.score, comment=payload.comment
    )
    return Status(201, _review_out(review))


@router.get(
    "/reviews",
    response={200: ReviewListOut, **READ},
    summary="Reviews of the organization",
    description="Newest first, paged by `cursor`; `count` and `average` cover every review (of the master).",
)
def review_list(request: HttpRequest, query: Query[ReviewListQuery]) -> ReviewListOut:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=query.organization_id, perm=Perm.CLIENT_VIEW)
    qs = selectors_comms.reviews_for(user=user, organization_id=org_id, staff_id=query.staff_id)
    rows, next_cursor = keyset_page(
        qs,
        sort="booking.reviews",
        keys=[("created_at", dt.datetime)],
        cursor=query.cursor,
        limit=query.limit,
        descending=True,
    )
    return ReviewListOut(
        items=[_review_out(r) for r in rows], next_cursor=next_cursor, **selectors_comms.review_summary(qs)
    )


# --- mailings and settings (owners, managers) --------------------------------------------------------------------


def _segment(payload: MailingPreviewIn | MailingIn) -> campaigns.Segment:
    return campaigns.Segment(
        group_ids=tuple(payload.group_ids), source_ids=tuple(payload.source_ids), gender=payload.gender
    )


@router.post(
    "/mailings/preview",
    response={200: MailingPreviewOut, **WRITE},
    summary="Preview a mailing",
    description="How many clients of the segment (any of the groups, any of the sources, the gender) would get it: "
    "only those with both the marketing and the messages consent. Also the text's SMS segments (GSM-7: 160, or "
    "153 per part; any Cyrillic letter makes it UCS-2: 70, or 67 per part). Sends nothing.",
)
def mailing_preview(request: HttpRequest, payload: MailingPreviewIn) -> MailingPreviewOut:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=payload.organization_id, perm=Perm.MAILING_SEND)
    preview = campaigns.mailing_preview(user=user, organization_id=org_id, segment=_segment(payload), text=payload.text)
    sms = preview.sms
    return MailingPreviewOut(
        in_segment=preview.in_segment,
        recipients=preview.recipients,
        without_consent=preview.without_consent,
        by_channel=preview.by_channel,
        sms=SmsCountOut(
            encoding=sms.encoding,
            characters=sms.characters,
            units=sms.units,
            segments=sms.segments,
            per_segment=sms.per_segment,
            remaining=sms.remaining,
        ),
        sms_segments_total=preview.sms_segments_total,
    )


@router.post(
    "/mailings",
    response={201: MailingOut, **WRITE},
    summary="Send a mailing",
    description="One message to every consenting client of the segment (Telegram when linked, else SMS), through "
    "the outbox, once per client.",
)
def mailing_send(request: HttpRequest, payload: MailingIn) -> Status[MailingOut]:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=payload.organization_id, perm=Perm.MAILING_SEND)
    mailing = campaigns.mailing_send(user=user, organization_id=org_id, segment=_segment(payload), text=payload.text)
    return Status(
        201,
        MailingOut(
            id=mailing.pk,
            organization_id=mailing.organization_id,
            recipients=mailing.recipients,
            sms_recipients=mailing.sms_recipients,
            sms_segments=mailing.sms_segments,
            created_at=mailing.created_at,
        ),
    )


def _settings_out(row: Any, offsets: list[int]) -> CommsSettingsOut:
    return CommsSettingsOut(
        organization_id=row.organization_id,
        reminder_offsets_minutes=offsets,
        **{name: getattr(row, name) for name in comms_settings.SETTINGS_FIELDS},
    )


@router.get("/comms-settings", response={200: CommsSettingsOut, **READ}, summary="Reminder and messaging settings")
def settings_get(request: HttpRequest, query: Query[CommsOrgQuery]) -> CommsSettingsOut:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=query.organization_id, perm=Perm.ORG_VIEW)
    return _settings_out(*comms_settings.comms_settings_get(user=user, organization_id=org_id))


@router.post(
    "/comms-settings",
    response={200: CommsSettingsOut, **WRITE},
    summary="Change reminder and messaging settings",
    description="Only the fields sent change. Reminder offsets (minutes before the visit, at most 5) apply to visits "
    "booked or moved from now on.",
)
def settings_update(request: HttpRequest, payload: CommsSettingsIn) -> CommsSettingsOut:
    user = _user(request)
    org_id = organization_for_action(user=user, organization_id=payload.organization_id, perm=Perm.COMMS_SETTINGS)
    changes = payload.model_dump(exclude={"organization_id", "reminder_offsets_minutes"}, exclude_unset=True)
    return _settings_out(
        *comms_settings.comms_settings_update(
            user=user,
            organization_id=org_id,
            reminder_offsets_minutes=payload.reminder_offsets_minutes,
            **changes,
        )
    )
