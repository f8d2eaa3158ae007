"""Tenancy cases of the waiting list, confirmations, reviews, mailings and messaging settings (booking, client
messaging part), imported from its block of ``tenancy_cases_booking``.

Each build makes a salon in the organization (a branch, a service, two masters) and the rows the route acts on, with
every id field naming an object of that organization. The organizations of the walk do not take online bookings, so
a stranger cannot act as a customer of them either: a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from backend.booking.models import AppointmentStatus
from backend.booking.models_comms import Review, WaitlistEntry, WaitlistOffer
from backend.booking.services.waitlist import waitlist_join, waitlist_slot_freed
from backend.crm.models import ClientGroup, ClientSource
from backend.organizations.models import Organization
from backend.organizations.permissions import Perm
from tests.api.tenancy_cases import INVALID_REFERENCE, SCOPED_LIST, Call, TenancyCase, register
from tests.booking.comms_world import Salon, appointment_row, future, salon_in

H = dt.timedelta(hours=1)
MANAGE = (Perm.BOOKING_MANAGE,)


def _windows(start: dt.datetime) -> list[dict[str, str]]:
    return [{"start": (start - H).isoformat(), "end": (start + 4 * H).isoformat()}]


def _join_body(org: Organization) -> Call:
    salon = salon_in(org)
    start = future(days=3)
    return Call(
        body={
            "branch_id": salon.branch.pk,
            "service_id": salon.service.pk,
            "staff_id": salon.master.pk,
            "client_id": salon.client().pk,
            "windows": _windows(start),
        }
    )


def _entry(salon: Salon, start: dt.datetime) -> WaitlistEntry:
    return waitlist_join(
        user=salon.manager,
        branch_id=salon.branch.pk,
        service_id=salon.service.pk,
        client_id=salon.client().pk,
        windows=[(start - H, start + 4 * H)],
    )


def _offer(org: Organization) -> WaitlistOffer:
    salon = salon_in(org)
    start = future(days=3)
    _entry(salon, start)
    offer = waitlist_slot_freed(branch_id=salon.branch.pk, staff_id=salon.master.pk, starts_at=start, ends_at=start + H)
    assert offer is not None
    return offer


def _appointment_id(org: Organization, status: str) -> int:
    salon = salon_in(org)
    when = future(days=2) if status == AppointmentStatus.BOOKED else timezone.now() - 3 * H
    return appointment_row(salon, salon.client(), when, status=status).pk


def _reviews(org: Organization) -> Call:
    salon = salon_in(org)
    appointment = appointment_row(salon, salon.client(), timezone.now() - 3 * H, status=AppointmentStatus.DONE)
    Review.objects.create(
        organization=org,
        branch=salon.branch,
        appointment=appointment,
        client_id=appointment.client_id,
        staff=salon.master,
        score=9,
    )
    return Call(query={"organization_id": org.pk, "staff_id": salon.master.pk})


def _segment(org: Organization, **extra: Any) -> Call:
    group = ClientGroup.objects.create(organization=org, name="VIP")
    source = ClientSource.objects.create(organization=org, name="Instagram")
    return Call(body={"organization_id": org.pk, "group_ids": [group.pk], "source_ids": [source.pk], **extra})


SEGMENT_REFUSALS = {"body.group_ids": INVALID_REFERENCE, "body.source_ids": INVALID_REFERENCE}

register(
    "post",
    "/api/v1/booking/waitlist",
    TenancyCase(
        build=_join_body,
        needs=MANAGE,
        refusals={
            "body.service_id": INVALID_REFERENCE,
            "body.staff_id": INVALID_REFERENCE,
            "body.client_id": INVALID_REFERENCE,
        },
    ),
)
register(
    "get",
    "/api/v1/booking/waitlist",
    TenancyCase(
        build=lambda org: Call(query={"branch_id": _entry(salon_in(org), future(days=3)).branch_id}), needs=MANAGE
    ),
)
register(
    "post",
    "/api/v1/booking/waitlist/{entry_id}/leave",
    TenancyCase(build=lambda org: Call(path={"entry_id": _entry(salon_in(org), future(days=3)).pk}), needs=MANAGE),
)
register(
    "post",
    "/api/v1/booking/waitlist/offers/{offer_id}/take",
    TenancyCase(build=lambda org: Call(path={"offer_id": _offer(org).pk}), needs=MANAGE),
)
register(
    "post",
    "/api/v1/booking/waitlist/offers/{offer_id}/decline",
    TenancyCase(build=lambda org: Call(path={"offer_id": _offer(org).pk}), needs=MANAGE),
)
register(
    "post",
    "/api/v1/booking/confirmations",
    TenancyCase(
        build=lambda org: Call(body={"appointment_id": _appointment_id(org, AppointmentStatus.BOOKED)}), needs=MANAGE
    ),
)
register(
    "post",
    "/api/v1/booking/reviews",
    TenancyCase(
        build=lambda org: Call(body={"appointment_id": _appointment_id(org, AppointmentStatus.DONE), "score": 8}),
        needs=MANAGE,
    ),
)
register(
    "get",
    "/api/v1/booking/reviews",
    TenancyCase(build=_reviews, needs=(Perm.CLIENT_VIEW,), refusals={"query.staff_id": SCOPED_LIST}),
)
register(
    "post",
    "/api/v1/booking/mailings/preview",
    TenancyCase(build=lambda org: _segment(org, text="Привет"), needs=(Perm.MAILING_SEND,), refusals=SEGMENT_REFUSALS),
)
register(
    "post",
    "/api/v1/booking/mailings",
    TenancyCase(build=lambda org: _segment(org, text="Hello"), needs=(Perm.MAILING_SEND,), refusals=SEGMENT_REFUSALS),
)
register(
    "get",
    "/api/v1/booking/comms-settings",
    TenancyCase(build=lambda org: Call(query={"organization_id": org.pk}), needs=(Perm.ORG_VIEW,)),
)
register(
    "post",
    "/api/v1/booking/comms-settings",
    TenancyCase(
        build=lambda org: Call(
            body={"organization_id": org.pk, "waitlist_hold_minutes": 20, "reminder_offsets_minutes": [1440, 60]}
        ),
        needs=(Perm.COMMS_SETTINGS,),
    ),
)
