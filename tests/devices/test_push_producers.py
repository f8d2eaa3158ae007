"""Pushes that go with the outbox's messages (ADR 0025, addendum): an offer, a confirmation due, a visit moved or
cancelled by staff reach the user's registered phones, each in the device's language, with a deep link, once per
message; never another account's device; a token the provider calls dead switches the device off."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from backend.crm.models import Client
from backend.devices.models import Device, RevokeReason
from backend.devices.push import PUSH_CHANNEL
from backend.devices.services import device_register
from backend.notifications.dispatch import outbox_deliver_due
from backend.notifications.models import OutboxMessage, OutboxStatus
from backend.notifications.sealing import SECRET_SLOT
from backend.notifications.services import PushNote, message_enqueue, push_notify
from backend.staffing.models import Offer, OfferStatus, Shift
from backend.staffing.services.offers import OFFER_PUSHES, offer_withdraw_many, offers_send
from tests.booking.comms_world import book, cancel, future, reschedule, salon_make
from tests.factories import UserFactory
from tests.notifications.fakes import FakeProvider
from tests.staffing.world import agency, order_with_shift, pool_worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def push_file(settings: Any, tmp_path: Path) -> Path:
    settings.PUSH_BACKEND, settings.PUSH_FILE_PATH = "file", str(tmp_path / "push.log")
    return tmp_path / "push.log"


def _pushes(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _offer_to(worker: Any, shift: Shift) -> Offer:
    offer = Offer.objects.create(
        organization=shift.organization, shift=shift, worker=worker, position=1, status=OfferStatus.STANDBY
    )
    with transaction.atomic():
        offers_send(shift=Shift.objects.select_for_update().get(pk=shift.pk), offers=[offer], wave=1)
    return offer


def _staffing() -> tuple[Any, Shift]:
    hq = agency("Agency HQ")
    franchise = agency("Agency North", parent=hq)
    _, shift = order_with_shift(franchise, call_cap=2)
    return hq, shift


def test_an_offer_sent_pushes_to_the_workers_phones_in_each_devices_language_with_a_deep_link(
    push_file: Path,
) -> None:
    hq, shift = _staffing()
    worker = pool_worker(hq)
    worker.user.language = "ru"  # the SMS / Telegram text is Russian ...
    worker.user.save(update_fields=["language"])
    android, _ = device_register(user=worker.user, platform="android", token="tok-android", language="en")
    iphone, _ = device_register(user=worker.user, platform="ios", token="tok-iphone", language="kk")
    # when the dispatcher's service sends the call-up
    offer = _offer_to(worker, shift)
    # then one push per device is queued with the message, in that transaction
    message = OutboxMessage.objects.exclude(channel=PUSH_CHANNEL).get(payload__offer_id=offer.pk)
    pushes = OutboxMessage.objects.filter(channel=PUSH_CHANNEL).order_by("id")
    assert [p.dedupe_key for p in pushes] == [
        f"push:{message.pk}:device:{android.pk}",
        f"push:{message.pk}:device:{iphone.pk}",
    ]
    assert all(p.expires_at == shift.starts_at and p.user_id == worker.user.pk for p in pushes)
    # when the outbox delivers: the file backend (the simulated phone) gets both, with the deep link
    assert outbox_deliver_due().sent == 3
    lines = {line["message"]["token"]: line["message"] for line in _pushes(push_file)}
    assert set(lines) == {"tok-android", "tok-iphone"}
    # the time is the site's wall clock: 08:00 UTC at a site in Moscow (its organization's zone) is 11:00
    assert shift.order.site.effective_time_zone == "Europe/Moscow"
    note = PushNote(
        kind="staffing.offer",
        object_id=offer.pk,
        title=OFFER_PUSHES["offer"][0],
        body=OFFER_PUSHES["offer"][1],
        params={"title": "Loaders", "day": shift.starts_at.strftime("%d.%m"), "start": "11:00"},
    )
    for token, language in (("tok-android", "en"), ("tok-iphone", "kk")):
        title, body = note.render(language)
        assert lines[token]["notification"] == {"title": title, "body": body}
        assert lines[token]["data"] == {"kind": "staffing.offer", "id": str(offer.pk)}
    assert "Loaders" in lines["tok-android"]["notification"]["body"]
    assert "11:00" in lines["tok-android"]["notification"]["body"]
    assert "UTC" not in lines["tok-android"]["notification"]["body"]


def test_each_device_gets_its_own_language() -> None:
    # Texts that already have translations show the language chosen per device, not the account's or the request's.
    user = UserFactory(language="en")
    ru, _ = device_register(user=user, platform="android", token="tok-ru", language="ru")
    kk, _ = device_register(user=user, platform="ios", token="tok-kk", language="kk")
    note = PushNote(kind="staffing.offer", object_id=7, title="Offer not found.", body="Cancel")
    with transaction.atomic():
        assert push_notify(user=user, note=note, dedupe_key="lang-check") == 2
    by_device = {int(m.recipient): m for m in OutboxMessage.objects.filter(channel=PUSH_CHANNEL)}
    assert by_device[ru.pk].subject == "Приглашение на смену не найдено."
    assert by_device[kk.pk].subject == "Ауысымға шақыру табылмады."
    assert by_device[ru.pk].payload["data"] == {"kind": "staffing.offer", "id": "7"}


def test_the_push_is_idempotent_per_message() -> None:
    user = UserFactory()
    device_register(user=user, platform="android", token="tok-once")
    note = PushNote(kind="booking.appointment", object_id=1, title="Visit reminder", body="Tomorrow")
    for _ in range(3):  # the cause retried: the same message key, so nothing new
        with transaction.atomic():
            message_enqueue(
                channel="sms", recipient=user.phone, body="Tomorrow", dedupe_key="visit:1", user=user, push=note
            )
    assert OutboxMessage.objects.filter(channel=PUSH_CHANNEL).count() == 1
    with pytest.raises(ValueError):  # a one-time code never goes to a lock screen
        message_enqueue(
            channel="sms",
            recipient=user.phone,
            body=f"Code: {SECRET_SLOT}",
            dedupe_key="otp",
            user=user,
            secret="123456",
            push=note,
        )


def test_no_devices_no_pushes_and_the_message_is_unchanged() -> None:
    hq, shift = _staffing()
    offer = _offer_to(pool_worker(hq), shift)
    assert OutboxMessage.objects.filter(payload__offer_id=offer.pk).count() == 1
    assert not OutboxMessage.objects.filter(channel=PUSH_CHANNEL).exists()


def test_another_organizations_worker_never_gets_the_push(push_file: Path) -> None:
    hq, shift = _staffing()
    other_hq, _ = _staffing()
    ours, theirs = pool_worker(hq), pool_worker(other_hq)
    device_register(user=ours.user, platform="android", token="tok-ours")
    stranger, _ = device_register(user=theirs.user, platform="android", token="tok-theirs")
    _offer_to(ours, shift)
    outbox_deliver_due()
    assert [line["message"]["token"] for line in _pushes(push_file)] == ["tok-ours"]
    assert not OutboxMessage.objects.filter(channel=PUSH_CHANNEL, recipient=str(stranger.pk)).exists()


def test_a_withdrawn_offer_pushes_too(push_file: Path) -> None:
    hq, shift = _staffing()
    worker = pool_worker(hq)
    device_register(user=worker.user, platform="android", token="tok-w")
    offer = _offer_to(worker, shift)
    with transaction.atomic():
        Shift.objects.select_for_update().get(pk=shift.pk)
        locked = Offer.objects.select_related("worker__user", "shift__order").get(pk=offer.pk)
        offer_withdraw_many(offers=[locked], actor=None, reason="order changed")
    outbox_deliver_due()
    kinds = [line["message"]["data"]["kind"] for line in _pushes(push_file)]
    assert kinds == ["staffing.offer", "staffing.withdrawn"]


def test_a_dead_token_answered_by_the_provider_switches_the_device_off(settings: Any) -> None:
    fake = FakeProvider(reply=lambda request, n: (410, {"error": {"status": "UNREGISTERED"}}, {})).start()
    settings.PUSH_BACKEND, settings.PUSH_HTTP_URL, settings.PUSH_HTTP_KEY = "http", fake.url + "/v1/send", "k3y"
    try:
        hq, shift = _staffing()
        worker = pool_worker(hq)
        device, _ = device_register(user=worker.user, platform="ios", token="dead-token")
        _offer_to(worker, shift)
        report = outbox_deliver_due()
        assert report.sent == 1 and report.failed == 1  # the SMS went, the push was refused for good
        device.refresh_from_db()
        assert device.revoked_reason == RevokeReason.PROVIDER and not device.is_active
        push = OutboxMessage.objects.get(channel=PUSH_CHANNEL)
        assert push.status == OutboxStatus.FAILED and "unregistered" in push.last_error
        # the next call-up queues no push for the dead device
        _, second = order_with_shift(
            shift.organization, day=shift.date + dt.timedelta(days=1), call_cap=1, site_=shift.order.site
        )
        _offer_to(worker, second)
        assert OutboxMessage.objects.filter(channel=PUSH_CHANNEL).count() == 1
    finally:
        fake.stop()
    assert [r.body["message"]["token"] for r in fake.received] == ["dead-token"]
    assert fake.received[0].body["message"]["data"]["kind"] == "staffing.offer"


def _client_with_app(salon: Any, token: str) -> tuple[Any, Any, Device]:
    account = UserFactory()
    client = Client.objects.create(
        organization=salon.org, phone=account.phone, first_name="Dana", consent_messages_at=timezone.now()
    )
    device, _ = device_register(user=account, platform="android", token=token)
    return account, client, device


def test_a_visit_moved_or_cancelled_by_staff_pushes_to_the_clients_phone(push_file: Path) -> None:
    salon = salon_make()
    _, client, device = _client_with_app(salon, "tok-client")
    stranger_salon = salon_make()
    _, _, stranger_device = _client_with_app(stranger_salon, "tok-stranger")
    start = future(days=3)
    appointment = book(salon, client, start)
    assert not OutboxMessage.objects.filter(channel=PUSH_CHANNEL).exists()  # booking it is no news to push
    reschedule(salon, appointment, start + dt.timedelta(hours=2))
    reschedule(salon, appointment, start + dt.timedelta(hours=2))  # the same time again: no second push
    cancel(salon, appointment)
    outbox_deliver_due()
    pushes = [line["message"] for line in _pushes(push_file)]
    assert [p["token"] for p in pushes] == ["tok-client", "tok-client"]
    assert [p["data"] for p in pushes] == [{"kind": "booking.appointment", "id": str(appointment.pk)}] * 2
    assert all("Haircut" in p["notification"]["body"] and "Salon Lotus" in p["notification"]["body"] for p in pushes)
    assert [p["notification"]["title"] for p in pushes] == ["Your visit was moved", "Your visit was cancelled"]
    assert not OutboxMessage.objects.filter(recipient=str(stranger_device.pk)).exists()
    assert device.pk  # the client's device, registered by the client's own account


def test_the_clients_own_cancel_is_not_pushed_back_to_them() -> None:
    from backend.booking.services import appointments

    salon = salon_make()
    account, client, _ = _client_with_app(salon, "tok-self")
    appointment = book(salon, client, future(days=3))
    appointments.appointment_cancel(user=account, appointment_id=appointment.pk)
    assert not OutboxMessage.objects.filter(channel=PUSH_CHANNEL).exists()


def test_a_shift_confirmation_due_pushes_to_the_worker(push_file: Path) -> None:
    from backend.staffing.services.confirmations import confirmations_due_run
    from backend.staffing.services.offers import offer_accept

    hq, shift = _staffing()
    worker = pool_worker(hq)
    device_register(user=worker.user, platform="android", token="tok-confirm")
    offer = _offer_to(worker, shift)
    offer_accept(user=worker.user, offer_id=offer.pk)
    assert confirmations_due_run(now=shift.starts_at - dt.timedelta(hours=20))["staffing_confirmations_asked"] == 1
    outbox_deliver_due()
    data = [line["message"]["data"] for line in _pushes(push_file)]
    assert data[-1] == {"kind": "staffing.confirm_request", "id": str(offer.pk)}


def test_a_waiting_list_slot_offered_pushes_to_the_clients_phone(push_file: Path) -> None:
    from backend.booking.models_comms import WaitlistOffer
    from backend.booking.services.waitlist import waitlist_join

    salon = salon_make()
    start = future(days=2)
    booked = book(salon, salon.client(first_name="Booker"), start)
    _, waiting, _ = _client_with_app(salon, "tok-waiting")
    waitlist_join(
        user=salon.manager,
        branch_id=salon.branch.pk,
        service_id=salon.service.pk,
        client_id=waiting.pk,
        staff_id=None,
        windows=[(start - dt.timedelta(hours=1), start + dt.timedelta(hours=4))],
    )
    cancel(salon, booked)
    [offer] = WaitlistOffer.objects.all()
    outbox_deliver_due()
    [push] = [line["message"] for line in _pushes(push_file)]
    assert push["token"] == "tok-waiting"
    assert push["data"] == {"kind": "booking.waitlist_offer", "id": str(offer.pk)}
    assert "Haircut" in push["notification"]["body"]
