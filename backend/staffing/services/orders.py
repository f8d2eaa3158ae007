"""Corporate clients, their sites and their orders; an order becomes one shift per day.

Dates and the daily window of an order are the site's local wall-clock times; shifts store UTC. A window whose end
is at or before its start crosses midnight (a night shift ends the next morning). Confirming an order hands it to
dispatch (``services.dispatch``), which plans the call-ups in a background task. The HQ's contact centre may take
an order and hand it to one of its franchises: the order moves with a copy of its client and site, so the
franchise sees it as its own and never sees the HQ's other clients.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.clock import clock_now
from backend.core.events import event_record, snapshot
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.organizations.models import Organization
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, tenant_row_for_change
from backend.staffing.exceptions import StaffingErrorCode
from backend.staffing.legal import inn_is_valid, kpp_is_valid, ogrn_is_valid
from backend.staffing.models import (
    CorporateClient,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Shift,
    ShiftStatus,
    Site,
)
from backend.staffing.services.pool import skills_clean

CLIENT_FIELDS = (
    "name",
    "legal_name",
    "inn",
    "kpp",
    "ogrn",
    "legal_address",
    "contact_name",
    "contact_phone",
    "contact_email",
    "is_active",
)
SITE_FIELDS = (
    "client",
    "name",
    "address",
    "latitude",
    "longitude",
    "conditions",
    "time_zone",
    "check_in_radius_m",
    "notes",
    "is_active",
)
ORDER_FIELDS = (
    "client",
    "site",
    "title",
    "start_date",
    "end_date",
    "shift_start",
    "shift_end",
    "headcount",
    "skills",
    "pay_rate",
    "bill_rate",
    "status",
    "handed_from",
)
MAX_RATE = Decimal("100000")
MAX_HEADCOUNT = 1000


# --- clients ------------------------------------------------------------------------------------------------


def _legal_check(inn: str, kpp: str, ogrn: str) -> None:
    fields: dict[str, list[str]] = {}
    code: str | None = None
    if not inn_is_valid(inn):
        fields["inn"] = [_("Enter a 10- or 12-digit INN with a correct control digit.")]
        code = StaffingErrorCode.INVALID_INN
    if kpp and not kpp_is_valid(kpp):
        fields["kpp"] = [_("A KPP is 9 characters: 4 digits, 2 digits or capital letters, 3 digits.")]
        code = code or StaffingErrorCode.INVALID_KPP
    if ogrn and not ogrn_is_valid(ogrn):
        fields["ogrn"] = [_("Enter a 13-digit OGRN or a 15-digit OGRNIP with a correct control digit.")]
        code = code or StaffingErrorCode.INVALID_OGRN
    if len(inn) == 10 and not kpp and not fields:
        fields["kpp"] = [_("An organisation (10-digit INN) also has a KPP.")]
        code = StaffingErrorCode.INVALID_KPP
    if fields:
        raise ValidationFailed(_("The legal details are invalid."), code=code, fields=fields)


def _client_exists() -> Conflict:
    return Conflict(_("This legal entity is already a client."), code=StaffingErrorCode.CLIENT_EXISTS)


@transaction.atomic
def client_create(
    *,
    user: Any,
    organization_id: int,
    name: str,
    inn: str,
    kpp: str = "",
    ogrn: str = "",
    legal_name: str = "",
    legal_address: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
) -> CorporateClient:
    """A corporate client of ``organization_id`` with checked legal details; 409 ``client_exists`` for an INN/KPP
    the organization already has."""
    organization_access_check(user, organization_id, Perm.STAFFING_MANAGE)
    _legal_check(inn, kpp, ogrn)
    try:
        with transaction.atomic():
            client = CorporateClient.objects.create(
                organization_id=organization_id,
                name=name,
                inn=inn,
                kpp=kpp,
                ogrn=ogrn,
                legal_name=legal_name,
                legal_address=legal_address,
                contact_name=contact_name,
                contact_phone=contact_phone,
                contact_email=contact_email,
            )
    except IntegrityError as exc:
        raise _client_exists() from exc
    event_record(entity=client, action=EventAction.CREATE, actor=user, after=snapshot(client, CLIENT_FIELDS))
    return client


@transaction.atomic
def client_update(
    *,
    user: Any,
    client_id: int,
    name: str | None = None,
    legal_name: str | None = None,
    inn: str | None = None,
    kpp: str | None = None,
    ogrn: str | None = None,
    legal_address: str | None = None,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    contact_email: str | None = None,
    is_active: bool | None = None,
) -> CorporateClient:
    """Change the fields given (``None`` leaves one as it is); the legal details are checked again as a whole."""
    client = tenant_row_for_change(CorporateClient, client_id, user=user, perm=Perm.STAFFING_MANAGE)
    before = snapshot(client, CLIENT_FIELDS)
    given = {
        "name": name,
        "legal_name": legal_name,
        "inn": inn,
        "kpp": kpp,
        "ogrn": ogrn,
        "legal_address": legal_address,
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "contact_email": contact_email,
        "is_active": is_active,
    }
    for field, value in given.items():
        if value is not None:
            setattr(client, field, value)
    _legal_check(client.inn, client.kpp, client.ogrn)
    try:
        with transaction.atomic():
            client.save()
    except IntegrityError as exc:
        raise _client_exists() from exc
    event_record(
        entity=client, action=EventAction.UPDATE, actor=user, before=before, after=snapshot(client, CLIENT_FIELDS)
    )
    return client


# --- sites --------------------------------------------------------------------------------------------------


def _zone_check(name: str) -> None:
    if not name:
        return
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(_("Unknown time zone."), fields={"time_zone": [name[:64]]}) from exc


def _same_org_client(client_id: int, organization_id: int) -> CorporateClient:
    client = CorporateClient.objects.filter(pk=client_id, organization_id=organization_id).first()
    if client is None:
        raise ValidationFailed(
            _("The client is not one of this organization's."),
            code=StaffingErrorCode.INVALID_REFERENCE,
            fields={"client_id": [str(client_id)]},
        )
    return client


@transaction.atomic
def site_create(
    *,
    user: Any,
    client_id: int,
    name: str,
    address: str,
    latitude: Decimal,
    longitude: Decimal,
    conditions: str,
    time_zone: str = "",
    check_in_radius_m: int = 300,
    notes: str = "",
) -> Site:
    """A site of a client (in the client's organization): where the work happens and in what conditions."""
    client = tenant_row_for_change(CorporateClient, client_id, user=user, perm=Perm.STAFFING_MANAGE)
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValidationFailed(_("The point is off the map."), fields={"latitude": [str(latitude)]})
    _zone_check(time_zone)
    site = Site.objects.create(
        organization_id=client.organization_id,
        client=client,
        name=name,
        address=address,
        latitude=latitude,
        longitude=longitude,
        conditions=conditions,
        time_zone=time_zone,
        check_in_radius_m=check_in_radius_m,
        notes=notes,
    )
    event_record(entity=site, action=EventAction.CREATE, actor=user, after=snapshot(site, SITE_FIELDS))
    return site


# --- orders and shifts --------------------------------------------------------------------------------------


def shift_times(*, day: dt.date, start: dt.time, end: dt.time, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC start and end of a day's window in ``zone``; an end at or before the start is the next day's."""
    starts = dt.datetime.combine(day, start, tzinfo=zone)
    ends = dt.datetime.combine(day + dt.timedelta(days=1) if end <= start else day, end, tzinfo=zone)
    return starts.astimezone(dt.UTC), ends.astimezone(dt.UTC)


def _order_check(
    *,
    start_date: dt.date,
    end_date: dt.date,
    shift_start: dt.time,
    shift_end: dt.time,
    headcount: int,
    pay_rate: Decimal,
    bill_rate: Decimal,
    today: dt.date,
) -> None:
    fields: dict[str, list[str]] = {}
    code: str | None = None
    if end_date < start_date:
        fields["end_date"], code = [_("The last day is before the first.")], StaffingErrorCode.INVALID_DATES
    elif (end_date - start_date).days >= settings.STAFFING_MAX_ORDER_DAYS:
        fields["end_date"] = [_("An order spans at most %(n)d days.") % {"n": settings.STAFFING_MAX_ORDER_DAYS}]
        code = StaffingErrorCode.HORIZON_TOO_LONG
    elif start_date < today:
        fields["start_date"], code = [_("The first day is in the past.")], StaffingErrorCode.INVALID_DATES
    elif start_date > today + dt.timedelta(days=366):
        fields["start_date"], code = [_("The first day is more than a year ahead.")], StaffingErrorCode.INVALID_DATES
    if shift_start == shift_end or shift_start.tzinfo is not None or shift_end.tzinfo is not None:
        fields["shift_end"] = [_("Give a local window that does not end when it starts.")]
        code = code or StaffingErrorCode.INVALID_SHIFT_WINDOW
    if not 1 <= headcount <= MAX_HEADCOUNT:
        fields["headcount"] = [_("One to %(n)d workers a day.") % {"n": MAX_HEADCOUNT}]
        code = code or StaffingErrorCode.INVALID_DATES
    if not (Decimal(0) <= pay_rate <= MAX_RATE and Decimal(0) <= bill_rate <= MAX_RATE):
        fields["pay_rate"], code = (
            [_("Rates are between 0 and %(n)s.") % {"n": MAX_RATE}],
            code or StaffingErrorCode.INVALID_RATES,
        )
    elif bill_rate < pay_rate:
        fields["bill_rate"] = [_("The client's rate is below the workers' pay.")]
        code = code or StaffingErrorCode.INVALID_RATES
    if fields:
        raise ValidationFailed(_("The order is invalid."), code=code, fields=fields)


def _shifts_build(order: Order, zone: ZoneInfo) -> list[Shift]:
    shifts: list[Shift] = []
    day = order.start_date
    while day <= order.end_date:
        starts, ends = shift_times(day=day, start=order.shift_start, end=order.shift_end, zone=zone)
        shifts.append(
            Shift(
                organization_id=order.organization_id,
                order=order,
                date=day,
                starts_at=starts,
                ends_at=ends,
                headcount=order.headcount,
            )
        )
        day += dt.timedelta(days=1)
    return Shift.objects.bulk_create(shifts)


def _site_zone(site: Site) -> ZoneInfo:
    try:
        return ZoneInfo(site.time_zone or site.organization.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


@transaction.atomic
def order_create(
    *,
    user: Any,
    site_id: int,
    title: str,
    start_date: dt.date,
    end_date: dt.date,
    shift_start: dt.time,
    shift_end: dt.time,
    headcount: int,
    pay_rate: Decimal,
    bill_rate: Decimal,
    skills: Sequence[str] = (),
    notes: str = "",
) -> Order:
    """A draft order at a site (its client's organization runs it) with one shift per day, each ``headcount``
    strong. Nobody is called until it is confirmed."""
    site = tenant_row_for_change(Site, site_id, user=user, perm=Perm.STAFFING_MANAGE)
    zone = _site_zone(site)
    _order_check(
        start_date=start_date,
        end_date=end_date,
        shift_start=shift_start,
        shift_end=shift_end,
        headcount=headcount,
        pay_rate=pay_rate,
        bill_rate=bill_rate,
        today=clock_now().astimezone(zone).date(),
    )
    order = Order.objects.create(
        organization_id=site.organization_id,
        client_id=site.client_id,
        site=site,
        title=title,
        start_date=start_date,
        end_date=end_date,
        shift_start=shift_start,
        shift_end=shift_end,
        headcount=headcount,
        skills=skills_clean(skills),
        pay_rate=pay_rate,
        bill_rate=bill_rate,
        currency=site.organization.currency,
        notes=notes,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    shifts = _shifts_build(order, zone)
    event_record(
        entity=order,
        action=EventAction.CREATE,
        actor=user,
        after={**snapshot(order, ORDER_FIELDS), "shifts": len(shifts)},
    )
    return order


@transaction.atomic
def order_confirm(*, user: Any, order_id: int) -> Order:
    """Confirm a draft order and start dispatch: a solver run is queued in the same transaction, so the plan is
    made if and only if the confirmation commits. 409 ``order_not_draft`` otherwise."""
    from backend.staffing.services.dispatch import dispatch_enqueue  # dispatch builds on orders, not the reverse

    order = tenant_row_for_change(Order, order_id, user=user, perm=Perm.STAFFING_MANAGE)
    if order.status != OrderStatus.DRAFT:
        raise Conflict(_("Only a draft order can be confirmed."), code=StaffingErrorCode.ORDER_NOT_DRAFT)
    before = snapshot(order, ("status",))
    order.status = OrderStatus.CONFIRMED
    order.confirmed_at = clock_now()
    order.save(update_fields=["status", "confirmed_at", "updated_at"])
    event_record(entity=order, action=EventAction.STATUS, actor=user, before=before, after={"status": order.status})
    dispatch_enqueue(order=order, user=user)
    return order


@transaction.atomic
def order_cancel(*, user: Any, order_id: int, reason: str = "") -> Order:
    """Cancel an order that has not finished: its open shifts are cancelled and every live offer withdrawn
    (workers are told). 409 ``order_closed`` for a completed or cancelled order."""
    from backend.staffing.services.offers import offer_withdraw_many

    order = tenant_row_for_change(Order, order_id, user=user, perm=Perm.STAFFING_MANAGE)
    if order.status in (OrderStatus.COMPLETED, OrderStatus.CANCELLED):
        raise Conflict(_("The order is already closed."), code=StaffingErrorCode.ORDER_CLOSED)
    before = snapshot(order, ("status",))
    shifts = list(Shift.objects.select_for_update().filter(order=order, status=ShiftStatus.OPEN).order_by("id"))
    live = Offer.objects.filter(
        shift__in=shifts,
        status__in=(OfferStatus.OFFERED, OfferStatus.STANDBY, OfferStatus.ACCEPTED, OfferStatus.CONFIRMED),
    )
    offer_withdraw_many(
        offers=list(live.select_related("worker__user", "shift__order")),
        actor=user,
        reason=_("The client cancelled the order."),
    )
    Shift.objects.filter(pk__in=[s.pk for s in shifts]).update(
        status=ShiftStatus.CANCELLED, accepted_count=0, confirmed_count=0, updated_at=timezone.now()
    )
    order.status = OrderStatus.CANCELLED
    order.cancelled_at = clock_now()
    order.save(update_fields=["status", "cancelled_at", "updated_at"])
    event_record(
        entity=order, action=EventAction.STATUS, actor=user, before=before, after={"status": order.status}, note=reason
    )
    return order


@transaction.atomic
def order_hand_off(*, user: Any, order_id: int, franchise_id: int) -> Order:
    """The HQ's contact centre hands a draft order to one of its franchises. The order, its shifts and a copy of its
    client and site (the franchise's own, found by INN/KPP when it already has the client) move to the franchise;
    ``handed_from`` keeps the HQ. 409 ``handoff_not_allowed`` unless the order is a draft of the franchise's HQ."""
    order = tenant_row_for_change(Order, order_id, user=user, perm=Perm.STAFFING_MANAGE)
    franchise = Organization.objects.filter(pk=franchise_id, parent_id=order.organization_id).first()
    if franchise is None:
        raise NotFound(_("Franchise not found."))
    organization_access_check(user, franchise.pk, Perm.STAFFING_MANAGE)
    if order.status != OrderStatus.DRAFT:
        raise Conflict(_("Only a draft order can be handed over."), code=StaffingErrorCode.HANDOFF_NOT_ALLOWED)
    hq_id = order.organization_id
    before = snapshot(order, ("client", "site", "handed_from"))
    source_client, source_site = order.client, order.site
    client = CorporateClient.objects.filter(
        organization=franchise, inn=source_client.inn, kpp=source_client.kpp
    ).first()
    if client is None:
        client = CorporateClient.objects.create(
            organization=franchise, **{f: getattr(source_client, f) for f in CLIENT_FIELDS}
        )
        event_record(
            entity=client,
            action=EventAction.CREATE,
            actor=user,
            after=snapshot(client, CLIENT_FIELDS),
            note=f"handed over from organization {hq_id}",
        )
    site = Site.objects.create(
        organization=franchise,
        client=client,
        **{f: getattr(source_site, f) for f in SITE_FIELDS if f != "client"},
    )
    event_record(
        entity=site,
        action=EventAction.CREATE,
        actor=user,
        after=snapshot(site, SITE_FIELDS),
        note=f"handed over from organization {hq_id}",
    )
    order.organization = franchise
    order.client, order.site, order.handed_from_id = client, site, hq_id
    order.currency = franchise.currency
    order.save()
    Shift.objects.filter(order=order).update(organization=franchise, updated_at=timezone.now())
    event_record(
        entity=order,
        action=EventAction.UPDATE,
        actor=user,
        before={**before, "organization": hq_id},
        after={**snapshot(order, ("client", "site", "handed_from")), "organization": franchise.pk},
        organization_id=franchise.pk,
    )
    return order
