"""The client-messaging API over HTTP: a customer's waiting-list journey with Idempotency-Key, reviews, mailing
preview, settings; bad input answered 4xx with a code and nothing changed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from backend.booking.models_comms import CommsSettings, Review, WaitlistEntry, WaitlistOffer
from backend.booking.services import appointments
from backend.crm.models import ClientGroup
from backend.organizations.models import Role
from tests.booking.comms_world import book, cancel, finish, future, salon_make
from tests.conftest import ApiClient, member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
H = dt.timedelta(hours=1)
BASE = "/api/v1/booking"


def _window(start: dt.datetime, hours: int = 4) -> list[dict[str, str]]:
    return [{"start": (start - H).isoformat(), "end": (start + hours * H).isoformat()}]


def test_customer_joins_gets_an_offer_and_takes_it() -> None:
    salon = salon_make()
    start = future(days=2)
    booked = book(salon, salon.client(), start)
    customer = UserFactory(phone="+77057770001")
    api = ApiClient(customer)
    body = {"branch_id": salon.branch.pk, "service_id": salon.service.pk, "windows": _window(start)}
    # when the customer joins (and the app retries with the same key)
    first = api.post(f"{BASE}/waitlist", body, headers={"Idempotency-Key": "join-1"})
    again = api.post(f"{BASE}/waitlist", body, headers={"Idempotency-Key": "join-1"})
    assert first.status_code == 201, first.content
    assert again.status_code == 201 and again.json() == first.json()
    assert WaitlistEntry.objects.count() == 1
    # when the booked visit is cancelled, the customer sees the offer held for them
    cancel(salon, booked)
    mine = api.get(f"{BASE}/waitlist/mine").json()["items"]
    assert [e["status"] for e in mine] == ["offered"]
    offer_id = mine[0]["offer"]["id"]
    # when they take it
    taken = api.post(f"{BASE}/waitlist/offers/{offer_id}/take", headers={"Idempotency-Key": "take-1"})
    assert taken.status_code == 200, taken.content
    assert (taken.json()["status"], taken.json()["starts_at"]) == ("booked", start.isoformat().replace("+00:00", "Z"))
    # then a second take (another key) is a 409 and nothing more changes
    second = api.post(f"{BASE}/waitlist/offers/{offer_id}/take", headers={"Idempotency-Key": "take-2"})
    assert (second.status_code, second.json()["error"]["code"]) == (409, "offer_gone")
    assert WaitlistOffer.objects.get(pk=offer_id).status == "taken"


@pytest.mark.parametrize(
    ("window", "code"),
    [
        ({"start": "9999-12-31T23:00:00-10:00", "end": "9999-12-31T23:59:00-10:00"}, "validation_error"),
        ({"start": "0001-01-01T00:00:00+14:00", "end": "0001-01-01T01:00:00+14:00"}, "validation_error"),
        ({"start": "2030-01-01T10:00:00", "end": "2030-01-01T12:00:00"}, "validation_error"),  # no zone
        ({"start": "2030-01-01T12:00:00+05:00", "end": "2030-01-01T10:00:00+05:00"}, "invalid_windows"),
        ({"start": "2001-01-01T12:00:00+05:00", "end": "2001-01-01T14:00:00+05:00"}, "invalid_windows"),  # past
    ],
)
def test_bad_windows_are_4xx_and_change_nothing(window: dict[str, str], code: str) -> None:
    salon = salon_make()
    api = ApiClient(salon.manager)
    body = {
        "branch_id": salon.branch.pk,
        "service_id": salon.service.pk,
        "client_id": salon.client().pk,
        "windows": [window],
    }
    response = api.post(f"{BASE}/waitlist", body)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == code
    assert not WaitlistEntry.objects.exists()


def test_reviews_over_http() -> None:
    salon = salon_make()
    client = salon.client()
    customer = UserFactory(phone=client.phone)
    done = finish(
        salon,
        appointments.appointment_create_for_customer(
            user=customer,
            branch_id=salon.branch.pk,
            service_ids=[salon.service.pk],
            start=future(days=1),
            staff_id=salon.master.pk,
        ),
    )
    api = ApiClient(customer)
    too_high = api.post(f"{BASE}/reviews", {"appointment_id": done.pk, "score": 11})
    long_comment = api.post(f"{BASE}/reviews", {"appointment_id": done.pk, "score": 7, "comment": "x" * 2001})
    assert (too_high.status_code, long_comment.status_code) == (422, 422)
    assert not Review.objects.exists()
    created = api.post(f"{BASE}/reviews", {"appointment_id": done.pk, "score": 7, "comment": "ok"})
    assert created.status_code == 201 and created.json()["score"] == 7
    assert api.post(f"{BASE}/reviews", {"appointment_id": done.pk, "score": 9}).json()["error"]["code"] == (
        "already_reviewed"
    )
    listing = ApiClient(salon.manager).get(f"{BASE}/reviews", {"organization_id": salon.org.pk}).json()
    assert (listing["count"], listing["average"], [r["score"] for r in listing["items"]]) == (1, 7.0, [7])


def test_mailing_preview_shows_the_sms_segments_and_needs_the_manager_right() -> None:
    salon = salon_make()
    vip = ClientGroup.objects.create(organization=salon.org, name="VIP")
    for consent in (True, True, False):
        client = salon.client()
        if consent:
            client.consent_marketing_at = timezone.now()
            client.save()
        client.groups.add(vip)
    body: dict[str, Any] = {"organization_id": salon.org.pk, "group_ids": [vip.pk], "text": "Скидка " * 12}
    preview = ApiClient(salon.manager).post(f"{BASE}/mailings/preview", body)
    assert preview.status_code == 200, preview.content
    data = preview.json()
    assert (data["in_segment"], data["recipients"], data["without_consent"]) == (3, 2, 1)
    assert (data["sms"]["encoding"], data["sms"]["units"], data["sms"]["segments"]) == ("ucs2", 83, 2)
    assert data["sms_segments_total"] == 4
    refused = ApiClient(member(salon.org, Role.DISPATCHER)).post(f"{BASE}/mailings/preview", body)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")


def test_reminder_settings_over_http() -> None:
    salon = salon_make()
    api = ApiClient(salon.manager)
    current = api.get(f"{BASE}/comms-settings", {"organization_id": salon.org.pk}).json()
    assert (current["reminder_offsets_minutes"], current["waitlist_hold_minutes"]) == ([1440, 120], 15)
    changed = api.post(
        f"{BASE}/comms-settings",
        {"organization_id": salon.org.pk, "reminder_offsets_minutes": [60, 2880], "waitlist_hold_minutes": 30},
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["reminder_offsets_minutes"], changed.json()["waitlist_hold_minutes"]) == ([2880, 60], 30)
    for bad in (
        {"reminder_offsets_minutes": [2]},
        {"reminder_offsets_minutes": [60, 60]},
        {"waitlist_hold_minutes": 0},
        {"birthday_text": "x" * 501},
    ):
        response = api.post(f"{BASE}/comms-settings", {"organization_id": salon.org.pk, **bad})
        assert response.status_code == 422, (bad, response.content)
    salon.org.refresh_from_db()
    assert salon.org.booking_reminder_offsets_minutes == [2880, 60]
    assert CommsSettings.objects.get(organization=salon.org).waitlist_hold_minutes == 30
    dispatcher = ApiClient(member(salon.org, Role.DISPATCHER))
    assert dispatcher.post(f"{BASE}/comms-settings", {"waitlist_hold_minutes": 5}).status_code == 403
