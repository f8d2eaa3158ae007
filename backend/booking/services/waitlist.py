"""The waiting list: clients wait for a service (a master, time windows); a freed slot is offered to them in turn.

**Flow.** ``waitlist_join`` adds an entry. When a slot frees (``waitlist_slot_freed``: an appointment cancelled or
moved away, called by ``reminders.appointment_changed``; or time added to a schedule, ``waitlist_time_gained``), the
first waiting entry (first come, first served) that fits it is offered it: a ``WaitlistOffer`` held for the
organization's ``waitlist_hold_minutes``, an outbox message, and ``waitlist_offer_expire_task`` enqueued with
``run_after`` at the end of the hold. Declining or letting the hold expire offers the slot to the next entry; taking it
books it (``waitlist_offer_take``) through the appointment service, so the database's no-double-booking guard has the
last word.

**Holding the slot.** The offer holds the slot as a *held appointment* of the waiting client, created through the
appointment service with ``channel=waitlist`` (see ``_hold_book``): its occupancy is active, so the exclusion
constraint (PostgreSQL) / trigger (SQLite) refuses anyone else the slot during the hold, and taking the offer never
finds it stolen. Expiry or decline cancels the held appointment, which frees the slot again and offers it onward.
Reminders of a held appointment wait until the offer is taken.

**Races**, each settled by the database rather than by a read:

* two frees at once that both pick the first entry: entries are locked (``SELECT ... FOR UPDATE``) in FIFO order and
  re-read as ``waiting``; a partial unique index allows one open offer per entry, so the second free moves on to the
  next entry;
* one slot freed twice (a duplicate hook): a partial unique index allows one open offer per (master, start);
* an offer expiring while being taken: both are one conditional ``UPDATE ... WHERE status = 'offered'`` (take also
  ``AND hold_until > now``, expiry ``AND hold_until <= now``): exactly one of them changes the row.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from backend.booking.exceptions import BookingErrorCode
from backend.booking.exceptions_comms import BookingCommsErrorCode
from backend.booking.models import Appointment, AppointmentStatus, Occupancy
from backend.booking.models_comms import (
    MAX_WAITLIST_WINDOWS,
    OPEN_WAITLIST_STATUSES,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistOfferStatus,
    WaitlistStatus,
)
from backend.booking.selectors import BookingContext, bookable_services, bookable_staff_services
from backend.catalog.models import Service, StaffService
from backend.core.clock import clock_now
from backend.core.events import event_record, snapshot
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.crm.models import Client
from backend.notifications.services import PushNote
from backend.organizations.models import Branch
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for

from .messaging import client_message_enqueue, customer_owns, organization_language
from .reminders import comms_settings_for

logger = logging.getLogger("brigada.booking")

ENTRY_FIELDS = ("branch", "client", "service", "staff", "windows", "status", "appointment")
OFFER_FIELDS = ("entry", "staff", "starts_at", "ends_at", "hold_until", "status", "appointment")
MAX_WINDOW_DAYS = 366
Window = tuple[dt.datetime, dt.datetime]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def _windows_check(windows: Sequence[Window], now: dt.datetime) -> list[Window]:
    problems: list[str] = []
    if not 1 <= len(windows) <= MAX_WAITLIST_WINDOWS:
        problems.append(_("Give from 1 to %(n)d time windows.") % {"n": MAX_WAITLIST_WINDOWS})
    for start, end in windows:
        if start.tzinfo is None or end.tzinfo is None:
            problems.append(_("Give times with their zone offset."))
        elif end <= start:
            problems.append(_("A window ends after it starts."))
        elif end <= now:
            problems.append(_("A window lies in the past."))
        elif end - now > dt.timedelta(days=MAX_WINDOW_DAYS):
            problems.append(_("A window ends more than a year from now."))
    if problems:
        raise ValidationFailed(
            _("Some fields are invalid."), code=BookingCommsErrorCode.INVALID_WINDOWS, fields={"windows": problems}
        )
    return sorted((start.astimezone(dt.UTC), end.astimezone(dt.UTC)) for start, end in windows)


def _entry_windows(entry: WaitlistEntry) -> list[Window]:
    return [(dt.datetime.fromisoformat(s), dt.datetime.fromisoformat(e)) for s, e in entry.windows]


def _references_check(*, branch: Branch, service_id: int, staff_id: int | None, public: bool) -> Service:
    """The service must be bookable at the branch and the master must perform it there, by the booking's own rules
    (``bookable_services`` / ``bookable_staff_services``): an entry that no slot could ever match is refused."""
    context = BookingContext(branch=branch, public=public)
    service = bookable_services(context).filter(pk=service_id).first()
    fields: dict[str, list[str]] = {}
    if service is None:
        fields["service_id"] = [_("Unknown in this organization.")]
    elif staff_id is not None and not bookable_staff_services(context, [service_id]).filter(staff_id=staff_id).exists():
        fields["staff_id"] = [_("This master does not perform the service here.")]
    if fields or service is None:
        raise ValidationFailed(_("Some fields are invalid."), code=BookingErrorCode.INVALID_REFERENCE, fields=fields)
    return service


@transaction.atomic
def waitlist_join(
    *,
    user: Any,
    branch_id: int,
    service_id: int,
    windows: Sequence[Window],
    staff_id: int | None = None,
    client_id: int | None = None,
) -> WaitlistEntry:
    """Put a client on the waiting list of ``service`` at ``branch`` (with ``staff``, or any master).

    Staff holding the booking right name the ``client_id``; a customer (no role in the organization) joins as
    themselves, when the organization, the branch and the service take online bookings: their client record is
    found (or created) by their phone, as a customer booking does.
    """
    now = clock_now()
    branch = Branch.objects.select_related("organization").filter(pk=branch_id).first()
    if branch is None:
        raise NotFound(_("Not found."))
    staff_side = branch.organization_id in organization_ids_for(user)
    if staff_side:
        organization_access_check(user, branch.organization_id, Perm.BOOKING_MANAGE)
        client = (
            Client.objects.filter(pk=client_id, organization_id=branch.organization_id, deleted_at__isnull=True).first()
            if client_id is not None
            else None
        )
        if client is None:
            raise ValidationFailed(
                _("Some fields are invalid."),
                code=BookingErrorCode.INVALID_REFERENCE,
                fields={"client_id": [_("Unknown in this organization.")]},
            )
        customer = None
    else:
        if not (branch.organization.is_active and branch.is_active and _online(branch)):
            raise NotFound(_("Not found."))
        if client_id is not None:
            raise ValidationFailed(
                _("Some fields are invalid."),
                code=BookingErrorCode.INVALID_REFERENCE,
                fields={"client_id": [_("A customer joins as themselves.")]},
            )
        client = _customer_client(user=user, organization_id=branch.organization_id)
        customer = user
    service = _references_check(branch=branch, service_id=service_id, staff_id=staff_id, public=not staff_side)
    spans = _windows_check(windows, now)
    entry = WaitlistEntry.objects.create(
        organization_id=branch.organization_id,
        branch=branch,
        client=client,
        customer=customer,
        service=service,
        staff_id=staff_id,
        windows=[[s.isoformat(), e.isoformat()] for s, e in spans],
        earliest=spans[0][0],
        latest=max(e for _s, e in spans),
        created_by=user,
    )
    event_record(entity=entry, action=EventAction.CREATE, actor=user, after=snapshot(entry, ENTRY_FIELDS))
    return entry


def _online(branch: Branch) -> bool:
    return bool(getattr(branch.organization, "online_booking", True) and getattr(branch, "online_booking", True))


def _customer_client(*, user: Any, organization_id: int) -> Client:
    """The customer's client record in the organization, by their phone: the same rule as a customer booking."""
    from .appointments import customer_client_for  # one rule for finding a customer's card

    return customer_client_for(organization_id=organization_id, user=user, source_id=None)


def _entry_for_action(*, user: Any, entry_id: int) -> WaitlistEntry:
    entry = WaitlistEntry.objects.select_for_update().select_related("client").filter(pk=entry_id).first()
    if entry is None:
        raise NotFound(_("Not found."))
    if entry.organization_id in organization_ids_for(user):
        organization_access_check(user, entry.organization_id, Perm.BOOKING_MANAGE)
        return entry
    if customer_owns(user=user, customer_id=entry.customer_id, client=entry.client):
        return entry
    raise NotFound(_("Not found."))


@transaction.atomic
def waitlist_leave(*, user: Any, entry_id: int) -> WaitlistEntry:
    """Take an entry off the waiting list; an open offer is withdrawn and its held slot passed on."""
    entry = _entry_for_action(user=user, entry_id=entry_id)
    if entry.status not in OPEN_WAITLIST_STATUSES:
        raise Conflict(_("This entry is no longer waiting."), code=BookingCommsErrorCode.WAITLIST_CLOSED)
    before = snapshot(entry, ENTRY_FIELDS)
    offer = WaitlistOffer.objects.select_for_update().filter(entry=entry, status=WaitlistOfferStatus.OFFERED).first()
    entry.status = WaitlistStatus.CANCELLED
    entry.save(update_fields=["status", "updated_at"])
    event_record(
        entity=entry, action=EventAction.UPDATE, actor=user, before=before, after=snapshot(entry, ENTRY_FIELDS)
    )
    if offer is not None:
        _offer_close(offer, status=WaitlistOfferStatus.WITHDRAWN, actor=user)
    return entry


# --- offering a freed slot ----------------------------------------------------------------------------------------


def _staff_free(staff_id: int, start: dt.datetime, end: dt.datetime) -> bool:
    return not Occupancy.objects.filter(
        staff_id=staff_id, is_active=True, starts_at__lt=end, ends_at__gt=start
    ).exists()


def _fit(entry: WaitlistEntry, staff_id: int, starts_at: dt.datetime, ends_at: dt.datetime) -> dt.datetime | None:
    """The end of the visit ``entry`` would have from ``starts_at`` with master ``staff_id``, if it fits the freed time
    and one of the entry's windows; else ``None``."""
    link = (
        StaffService.objects.filter(staff_id=staff_id, service_id=entry.service_id, is_active=True)
        .select_related("service")
        .first()
    )
    if link is None:
        return None
    end = starts_at + dt.timedelta(minutes=link.effective_duration_minutes)
    if end > ends_at:
        return None
    if not any(w_start <= starts_at and end <= w_end for w_start, w_end in _entry_windows(entry)):
        return None
    service = link.service
    held_from = starts_at - dt.timedelta(minutes=getattr(service, "buffer_before_minutes", 0))
    held_to = end + dt.timedelta(minutes=getattr(service, "buffer_after_minutes", 0))
    return end if _staff_free(staff_id, held_from, held_to) else None


def waitlist_slot_freed(
    *,
    branch_id: int,
    staff_id: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    actor: Any = None,
    exclude_client_id: int | None = None,
    now: dt.datetime | None = None,
) -> WaitlistOffer | None:
    """Offer the freed time ``[starts_at, ends_at)`` of master ``staff_id`` to the first waiting entry it fits.

    Call inside the transaction that freed it. Returns the offer made, or ``None`` when nobody fits (or the slot is
    already on offer). Entries are tried first come, first served; one that had this slot before is skipped.
    """
    now = now or clock_now()
    if starts_at <= now:
        return None
    candidates = (
        WaitlistEntry.objects.select_for_update()
        .filter(branch_id=branch_id, status=WaitlistStatus.WAITING, earliest__lte=starts_at, latest__gt=starts_at)
        .filter(Q(staff_id=staff_id) | Q(staff__isnull=True))
        .order_by("created_at", "id")
    )
    if exclude_client_id is not None:
        candidates = candidates.exclude(client_id=exclude_client_id)
    for entry in candidates:
        if WaitlistOffer.objects.filter(entry=entry, staff_id=staff_id, starts_at=starts_at).exists():
            continue  # this entry had this slot already (declined or let it expire): the next one's turn
        end = _fit(entry, staff_id, starts_at, ends_at)
        if end is None:
            continue
        try:
            with transaction.atomic():
                return _offer_make(
                    entry=entry, staff_id=staff_id, starts_at=starts_at, ends_at=end, now=now, actor=actor
                )
        except IntegrityError:
            # The slot went on offer to someone else in a concurrent transaction, or this entry got another offer.
            if WaitlistOffer.objects.filter(
                staff_id=staff_id, starts_at=starts_at, status=WaitlistOfferStatus.OFFERED
            ).exists():
                return None
            continue
        except Conflict:
            return None  # the guard refused the hold: the time is taken after all, nobody can have it
    return None


def waitlist_match(*, entry_id: int, now: dt.datetime | None = None) -> WaitlistOffer | None:
    """Search free time for one waiting entry (the slot search, in its windows) and offer the first visit that fits.

    This is how time that no cancellation announced reaches the waiting list: a schedule that gained hours or an
    extra day, a master newly performing the service. Same guards as a freed slot (the entry locked and re-read as
    waiting, the partial unique indexes, the hold through the appointment service).
    """
    from backend.booking.selectors import next_free_slots

    now = now or clock_now()
    with transaction.atomic():
        entry = WaitlistEntry.objects.select_for_update().filter(pk=entry_id, status=WaitlistStatus.WAITING).first()
        if entry is None:
            return None
        entry.matched_at = now
        entry.save(update_fields=["matched_at", "updated_at"])
        for w_start, w_end in _entry_windows(entry):
            if w_end <= now:
                continue
            slots = next_free_slots(
                branch_id=entry.branch_id,
                service_ids=[entry.service_id],
                after=max(w_start, now),
                staff_id=entry.staff_id,
                public=entry.customer_id is not None,
                limit=10,
                now=now,
            )
            for slot in slots:
                if not (w_start <= slot.start and slot.end <= w_end):
                    continue
                if WaitlistOffer.objects.filter(entry=entry, staff_id=slot.staff_id, starts_at=slot.start).exists():
                    continue
                try:
                    with transaction.atomic():
                        return _offer_make(
                            entry=entry,
                            staff_id=slot.staff_id,
                            starts_at=slot.start,
                            ends_at=slot.end,
                            now=now,
                            actor=None,
                        )
                except (IntegrityError, Conflict):
                    continue  # offered to someone else meanwhile, or taken: the next slot
    return None


#: The periodic search looks again at an entry at most this often.
MATCH_EVERY = dt.timedelta(minutes=5)
MATCH_PER_SWEEP = 20


def waitlist_time_gained(
    *, branch_id: int, staff_id: int, starts_at: dt.datetime, ends_at: dt.datetime, actor: Any = None
) -> WaitlistOffer | None:
    """A schedule gained working time (an extra day, longer hours): offer it like freed time."""
    return waitlist_slot_freed(
        branch_id=branch_id, staff_id=staff_id, starts_at=starts_at, ends_at=ends_at, actor=actor
    )


def _offer_make(
    *, entry: WaitlistEntry, staff_id: int, starts_at: dt.datetime, ends_at: dt.datetime, now: dt.datetime, actor: Any
) -> WaitlistOffer:
    from backend.booking.tasks import waitlist_offer_expire_task

    hold_minutes = comms_settings_for(entry.organization_id).waitlist_hold_minutes
    offer = WaitlistOffer.objects.create(
        organization_id=entry.organization_id,
        entry=entry,
        staff_id=staff_id,
        starts_at=starts_at,
        ends_at=ends_at,
        hold_until=now + dt.timedelta(minutes=hold_minutes),
    )
    hold = _hold_book(entry=entry, offer=offer, hold_minutes=hold_minutes, now=now)
    if hold is None:
        raise Conflict(_("This time is already taken."), code=BookingCommsErrorCode.SLOT_TAKEN)
    offer.appointment, offer.ends_at = hold, hold.ends_at
    offer.save(update_fields=["appointment", "ends_at", "updated_at"])
    before = snapshot(entry, ENTRY_FIELDS)
    entry.status = WaitlistStatus.OFFERED
    entry.save(update_fields=["status", "updated_at"])
    event_record(
        entity=entry, action=EventAction.UPDATE, actor=actor, before=before, after=snapshot(entry, ENTRY_FIELDS)
    )
    event_record(entity=offer, action=EventAction.CREATE, actor=actor, after=snapshot(offer, OFFER_FIELDS))
    branch = entry.branch
    local = starts_at.astimezone(_zone(branch.effective_time_zone))
    hold_local = offer.hold_until.astimezone(_zone(branch.effective_time_zone))
    with organization_language(branch.organization):
        body = _(
            "A place for %(service)s at %(organization)s is free on %(date)s at %(time)s. It is held for you until "
            "%(hold)s: take it in the app, or it goes to the next in line."
        ) % {
            "service": entry.service.name,
            "organization": branch.organization.name,
            "date": local.strftime("%d.%m"),
            "time": local.strftime("%H:%M"),
            "hold": hold_local.strftime("%H:%M"),
        }
        payload = {
            "reply_markup": {
                "inline_keyboard": [
                    [
                        {"text": _("Take it"), "callback_data": f"wl:take:{offer.pk}"},
                        {"text": _("No, thanks"), "callback_data": f"wl:decline:{offer.pk}"},
                    ]
                ]
            }
        }
    client_message_enqueue(
        client=entry.client,
        body=body,
        payload=payload,
        dedupe_key=f"waitlist:offer:{offer.pk}",
        expires_at=offer.hold_until,
        sms_fallback=True,
        push=PushNote(
            kind="booking.waitlist_offer",
            object_id=offer.pk,
            title=gettext_noop("A place is free for you"),
            body=gettext_noop("%(service)s on %(date)s at %(time)s, held for you until %(hold)s. Take it in the app."),
            params={
                "service": entry.service.name,
                "date": local.strftime("%d.%m"),
                "time": local.strftime("%H:%M"),
                "hold": hold_local.strftime("%H:%M"),
            },
        ),
    )
    waitlist_offer_expire_task.using(run_after=offer.hold_until).enqueue(offer_id=offer.pk)
    return offer


def _hold_book(
    *, entry: WaitlistEntry, offer: WaitlistOffer, hold_minutes: int, now: dt.datetime
) -> Appointment | None:
    """Hold the offered slot for the entry's client: a held appointment that the no-double-booking guard covers."""
    from .appointments_bridge import hold_appointment_create

    return hold_appointment_create(entry=entry, offer=offer, hold_minutes=hold_minutes, now=now)


def _offer_close(offer: WaitlistOffer, *, status: str, actor: Any, pass_on: bool = True) -> None:
    """Close an open offer as ``status`` (declined, expired, withdrawn), release its hold, pass the slot on."""
    from .appointments_bridge import hold_appointment_release

    before = snapshot(offer, OFFER_FIELDS)
    offer.status, offer.answered_at = status, clock_now()
    offer.save(update_fields=["status", "answered_at", "updated_at"])
    event_record(
        entity=offer, action=EventAction.UPDATE, actor=actor, before=before, after=snapshot(offer, OFFER_FIELDS)
    )
    entry = WaitlistEntry.objects.select_for_update().get(pk=offer.entry_id)
    if entry.status == WaitlistStatus.OFFERED:
        entry_before = snapshot(entry, ENTRY_FIELDS)
        entry.status = WaitlistStatus.WAITING if entry.latest > clock_now() else WaitlistStatus.EXPIRED
        entry.save(update_fields=["status", "updated_at"])
        event_record(
            entity=entry,
            action=EventAction.UPDATE,
            actor=actor,
            before=entry_before,
            after=snapshot(entry, ENTRY_FIELDS),
        )
    if offer.appointment_id is not None:
        # Cancelling the held appointment frees the slot, and the appointment service's hook offers it onward.
        hold_appointment_release(offer=offer, actor=actor)
    elif pass_on:
        waitlist_slot_freed(
            branch_id=entry.branch_id,
            staff_id=offer.staff_id,
            starts_at=offer.starts_at,
            ends_at=offer.ends_at,
            actor=actor,
        )


def _offer_for_action(*, user: Any, offer_id: int) -> WaitlistOffer:
    offer = WaitlistOffer.objects.select_related("entry__client").filter(pk=offer_id).first()
    if offer is None:
        raise NotFound(_("Not found."))
    _entry_for_action(user=user, entry_id=offer.entry_id)  # the same rule as for its entry (locks the entry)
    return offer


@transaction.atomic
def waitlist_offer_take(*, user: Any, offer_id: int) -> Appointment:
    """Take an open offer: the held appointment becomes the client's booking. 409 ``offer_gone`` once the hold ended,
    or the offer was declined or withdrawn."""
    from .appointments_bridge import hold_appointment_keep

    offer = _offer_for_action(user=user, offer_id=offer_id)
    now = clock_now()
    # One conditional write decides between this and the expiry task (which needs hold_until <= now).
    taken = WaitlistOffer.objects.filter(pk=offer.pk, status=WaitlistOfferStatus.OFFERED, hold_until__gt=now).update(
        status=WaitlistOfferStatus.TAKEN, answered_at=now, updated_at=timezone.now()
    )
    if not taken:
        raise Conflict(_("This offer is no longer open."), code=BookingCommsErrorCode.OFFER_GONE)
    offer.refresh_from_db()
    appointment = hold_appointment_keep(offer=offer, actor=user)
    entry = WaitlistEntry.objects.select_for_update().get(pk=offer.entry_id)
    before = snapshot(entry, ENTRY_FIELDS)
    entry.status, entry.appointment = WaitlistStatus.BOOKED, appointment
    entry.save(update_fields=["status", "appointment", "updated_at"])
    offer.appointment = appointment
    offer.save(update_fields=["appointment", "updated_at"])
    event_record(
        entity=offer,
        action=EventAction.UPDATE,
        actor=user,
        before={"status": WaitlistOfferStatus.OFFERED},
        after={"status": WaitlistOfferStatus.TAKEN, "appointment": appointment.pk},
    )
    event_record(
        entity=entry, action=EventAction.UPDATE, actor=user, before=before, after=snapshot(entry, ENTRY_FIELDS)
    )
    return appointment


@transaction.atomic
def waitlist_offer_decline(*, user: Any, offer_id: int) -> WaitlistOffer:
    """Decline an open offer: the entry keeps waiting and the slot goes to the next in line."""
    offer = _offer_for_action(user=user, offer_id=offer_id)
    offer = WaitlistOffer.objects.select_for_update().get(pk=offer.pk)
    if offer.status != WaitlistOfferStatus.OFFERED:
        raise Conflict(_("This offer is no longer open."), code=BookingCommsErrorCode.OFFER_GONE)
    _offer_close(offer, status=WaitlistOfferStatus.DECLINED, actor=user)
    return offer


def waitlist_offer_expire(*, offer_id: int, now: dt.datetime | None = None) -> str:
    """End an offer's hold (the task at ``hold_until``): ``expired`` and passed on, ``not_due`` or ``closed``."""
    now = now or clock_now()
    entry_id = WaitlistOffer.objects.filter(pk=offer_id).values_list("entry_id", flat=True).first()
    if entry_id is None:
        return "closed"
    with transaction.atomic():
        # Lock order entry -> offer -> held appointment, as taking, declining and leaving do: a take and an expiry
        # of one offer then queue behind each other instead of deadlocking.
        WaitlistEntry.objects.select_for_update().filter(pk=entry_id).first()
        expired = WaitlistOffer.objects.filter(
            pk=offer_id, status=WaitlistOfferStatus.OFFERED, hold_until__lte=now
        ).update(status=WaitlistOfferStatus.EXPIRED, answered_at=now, updated_at=timezone.now())
        if not expired:
            still_open = WaitlistOffer.objects.filter(pk=offer_id, status=WaitlistOfferStatus.OFFERED).exists()
            return "not_due" if still_open else "closed"
        offer = WaitlistOffer.objects.select_for_update().get(pk=offer_id)
        offer.status = WaitlistOfferStatus.OFFERED  # for the snapshot: _offer_close records the change
        _offer_close(offer, status=WaitlistOfferStatus.EXPIRED, actor=None)
    return "expired"


def waitlist_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Safety net for lost tasks: expire holds past their end, and entries whose every window has passed."""
    now = now or clock_now()
    holds = 0
    for offer_id in WaitlistOffer.objects.filter(status=WaitlistOfferStatus.OFFERED, hold_until__lte=now).values_list(
        "pk", flat=True
    )[:200]:
        holds += int(waitlist_offer_expire(offer_id=offer_id, now=now) == "expired")
    entries = WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING, latest__lte=now).update(
        status=WaitlistStatus.EXPIRED, updated_at=timezone.now()
    )
    due = (
        WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING, latest__gt=now)
        .filter(Q(matched_at__isnull=True) | Q(matched_at__lte=now - MATCH_EVERY))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:MATCH_PER_SWEEP]
    )
    offered = sum(1 for entry_id in list(due) if waitlist_match(entry_id=entry_id, now=now) is not None)
    return {"waitlist_holds_expired": holds, "waitlist_entries_expired": entries, "waitlist_offers_found": offered}


def appointment_from_waitlist_hold(appointment: Appointment) -> bool:
    """Whether ``appointment`` is a hold of an open waiting-list offer (its reminders wait until it is taken)."""
    return WaitlistOffer.objects.filter(appointment=appointment, status=WaitlistOfferStatus.OFFERED).exists()


__all__ = [
    "AppointmentStatus",
    "waitlist_join",
    "waitlist_leave",
    "waitlist_match",
    "waitlist_offer_decline",
    "waitlist_offer_expire",
    "waitlist_offer_take",
    "waitlist_slot_freed",
    "waitlist_sweep",
    "waitlist_time_gained",
]
