"""Mailings to a client segment (consent honoured, preview counts, SMS segments) and birthday greetings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from backend.booking.models_comms import CommsSettings, Mailing
from backend.booking.services.campaigns import (
    Segment,
    birthday_greetings_send,
    mailing_preview,
    mailing_send,
)
from backend.booking.tasks import birthday_greetings_task, comms_sweep
from backend.core.exceptions import PermissionDenied, ValidationFailed
from backend.core.models import Event
from backend.crm.models import Client, ClientGroup, ClientSource
from backend.notifications.models import Channel, OutboxMessage
from backend.organizations.models import Organization, Role
from tests.conftest import member
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
_seq = iter(range(1, 10_000))


def _client(org: Organization, *, marketing: bool = True, messages: bool = True, **kwargs: Any) -> Client:
    return Client.objects.create(
        organization=org,
        phone=f"+7702{next(_seq):07d}",
        first_name=kwargs.pop("first_name", "Aigul"),
        consent_marketing_at=NOW if marketing else None,
        consent_messages_at=NOW if messages else None,
        **kwargs,
    )


@pytest.fixture
def salon() -> dict[str, Any]:
    org = OrganizationFactory(name="Salon Lotus", time_zone="Asia/Almaty", language="en")
    vip = ClientGroup.objects.create(organization=org, name="VIP")
    insta = ClientSource.objects.create(organization=org, name="Instagram")
    women_vip = [_client(org, gender="female") for _ in range(3)]
    for c in women_vip:
        c.groups.add(vip)
    man_vip = _client(org, gender="male")
    man_vip.groups.add(vip)
    no_marketing = _client(org, gender="female", marketing=False)
    no_marketing.groups.add(vip)
    no_messages = _client(org, gender="female", messages=False)
    no_messages.groups.add(vip)
    deleted = _client(org, gender="female", deleted_at=NOW)
    deleted.groups.add(vip)
    from_insta = _client(org, gender="female", source=insta)
    return {
        "org": org,
        "vip": vip,
        "insta": insta,
        "women_vip": women_vip,
        "man_vip": man_vip,
        "from_insta": from_insta,
        "manager": member(org, Role.MANAGER),
    }


def test_preview_counts_the_segment_and_who_consented(salon: dict[str, Any]) -> None:
    # given a VIP group of 3 consenting women, a consenting man, one without marketing and one without messages
    # consent (and a deleted client who never counts)
    preview = mailing_preview(
        user=salon["manager"],
        organization_id=salon["org"].pk,
        segment=Segment(group_ids=(salon["vip"].pk,), gender="female"),
        text="Скидка 20% в пятницу!",
    )
    # then the women of the group are 5, of whom 3 may get marketing; the Cyrillic text is one UCS-2 segment
    assert (preview.in_segment, preview.recipients, preview.without_consent) == (5, 3, 2)
    assert preview.by_channel == {Channel.SMS: 3}
    assert (preview.sms.encoding, preview.sms.segments, preview.sms_segments_total) == ("ucs2", 1, 3)
    assert not OutboxMessage.objects.exists()  # a preview sends nothing


def test_segment_by_source_and_everyone(salon: dict[str, Any]) -> None:
    by_source = mailing_preview(
        user=salon["manager"], organization_id=salon["org"].pk, segment=Segment(source_ids=(salon["insta"].pk,))
    )
    assert (by_source.in_segment, by_source.recipients) == (1, 1)
    everyone = mailing_preview(user=salon["manager"], organization_id=salon["org"].pk, segment=Segment())
    assert (everyone.in_segment, everyone.recipients) == (7, 5)


def test_send_reaches_exactly_the_consenting_clients_once(salon: dict[str, Any]) -> None:
    # given a linked Telegram account for one of the women
    telegram_woman = salon["women_vip"][0]
    UserFactory(phone=telegram_woman.phone, telegram_user_id=555001)
    text = "Новая коллекция весны: запишитесь на окрашивание со скидкой 15% до конца месяца. Ждём вас в салоне!"
    # when the manager sends to the VIP women
    mailing = mailing_send(
        user=salon["manager"],
        organization_id=salon["org"].pk,
        segment=Segment(group_ids=(salon["vip"].pk,), gender="female"),
        text=text,
    )
    # then one outbox message per consenting woman, Telegram for the linked one, SMS for the others
    messages = OutboxMessage.objects.filter(dedupe_key__startswith=f"mailing:{mailing.pk}:")
    assert sorted(m.recipient for m in messages) == sorted(["555001"] + [c.phone for c in salon["women_vip"][1:]])
    assert {m.channel for m in messages if m.recipient == "555001"} == {Channel.TELEGRAM}
    assert all(m.body == text and m.organization_id == salon["org"].pk for m in messages)
    # the mailing records its counts (the text is 99 Cyrillic characters: two UCS-2 segments) and an event
    assert (mailing.recipients, mailing.sms_recipients, mailing.sms_segments) == (3, 2, 2)
    assert Event.objects.filter(entity_type="booking.mailing", entity_id=str(mailing.pk), action="create").count() == 1


def test_send_refuses_bad_input_and_changes_nothing(salon: dict[str, Any]) -> None:
    other = OrganizationFactory()
    their_group = ClientGroup.objects.create(organization=other, name="Theirs")
    for segment, text, code in [
        (Segment(group_ids=(their_group.pk,)), "Hi", "invalid_reference"),
        (Segment(gender="robot"), "Hi", "invalid_segment"),
        (Segment(), "   ", "empty_text"),
        (Segment(), "x" * 1001, "empty_text"),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            mailing_send(user=salon["manager"], organization_id=salon["org"].pk, segment=segment, text=text)
        assert caught.value.code == code
    assert not Mailing.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_mailing_needs_the_manager_right(salon: dict[str, Any]) -> None:
    dispatcher = member(salon["org"], Role.DISPATCHER)
    with pytest.raises(PermissionDenied):
        mailing_send(user=dispatcher, organization_id=salon["org"].pk, segment=Segment(), text="Hi")
    with pytest.raises(PermissionDenied):
        mailing_preview(user=dispatcher, organization_id=salon["org"].pk, segment=Segment())
    assert not OutboxMessage.objects.exists()


# --- birthdays --------------------------------------------------------------------------------------------------

ALMATY = dt.timezone(dt.timedelta(hours=5))


def _birthday_org(days_ahead: int = 0, **kwargs: Any) -> Organization:
    org = OrganizationFactory(time_zone="Asia/Almaty", language="en", **kwargs)
    CommsSettings.objects.create(organization=org, birthday_greetings=True, birthday_days_ahead=days_ahead)
    return org


def test_birthday_greetings_go_once_a_year_to_consenting_clients() -> None:
    # given a salon greeting birthdays 2 days ahead; it is 11:00 in Almaty on 10 March 2027
    org = _birthday_org(days_ahead=2)
    now = dt.datetime(2027, 3, 10, 11, 0, tzinfo=ALMATY)
    hero = _client(org, first_name="Dana", birthday=dt.date(1990, 3, 12))
    _client(org, birthday=dt.date(1990, 3, 12), marketing=False)  # no marketing consent
    _client(org, birthday=dt.date(1990, 3, 13))  # not yet
    _client(org, birthday=dt.date(1990, 3, 12), deleted_at=NOW)  # deleted
    # when the hourly run happens several times that day (and once more the next hour)
    assert birthday_greetings_send(now=now) == 1
    assert birthday_greetings_send(now=now) == 0
    assert birthday_greetings_send(now=now + dt.timedelta(hours=1)) == 0
    # then Dana got one greeting, keyed by her and the year
    [message] = OutboxMessage.objects.all()
    assert (message.recipient, message.dedupe_key) == (hero.phone, f"birthday:{hero.pk}:2027")
    assert "Dana" in message.body and "12.03" in message.body
    # and next year she is greeted again
    assert birthday_greetings_send(now=now.replace(year=2028)) == 1


def test_no_greeting_before_the_local_morning_or_when_switched_off() -> None:
    org = _birthday_org()
    _client(org, birthday=dt.date(1985, 6, 1))
    early = dt.datetime(2027, 6, 1, 9, 59, tzinfo=ALMATY)
    assert birthday_greetings_send(now=early) == 0
    CommsSettings.objects.filter(organization=org).update(birthday_greetings=False)
    assert birthday_greetings_send(now=early + dt.timedelta(hours=2)) == 0
    assert not OutboxMessage.objects.exists()


def test_29_february_is_greeted_on_the_28th_in_other_years() -> None:
    org = _birthday_org()
    leapling = _client(org, birthday=dt.date(2000, 2, 29))
    assert birthday_greetings_send(now=dt.datetime(2027, 2, 28, 12, tzinfo=ALMATY)) == 1
    assert OutboxMessage.objects.get().dedupe_key == f"birthday:{leapling.pk}:2027"


def test_custom_greeting_text() -> None:
    org = _birthday_org(name="Barber Bro")
    CommsSettings.objects.filter(organization=org).update(birthday_text="{name}, с днём рождения! {organization}")
    _client(org, first_name="Арман", birthday=dt.date(1999, 7, 7))
    birthday_greetings_send(now=dt.datetime(2027, 7, 7, 10, 30, tzinfo=ALMATY))
    assert OutboxMessage.objects.get().body == "Арман, с днём рождения! Barber Bro"


@pytest.mark.django_db(transaction=True)
def test_the_sweep_keeps_one_hourly_run_queued_and_a_worker_runs_it() -> None:
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    # when the sweep runs twice (two workers a few seconds apart)
    comms_sweep()
    comms_sweep()
    # then one birthday run is queued, and a worker runs it to success (what it sends is the service's tests' part)
    [run] = DBTaskResult.objects.filter(task_path=birthday_greetings_task.module_path)
    call_command("run_worker", "--once", "--queues", "default")
    run.refresh_from_db()
    assert run.status == "SUCCESSFUL"
    # and within the hour the sweep does not queue another
    comms_sweep()
    assert DBTaskResult.objects.filter(task_path=birthday_greetings_task.module_path).count() == 1


def test_the_back_office_lists_mailings_with_their_sms_segments(salon: dict[str, Any]) -> None:
    from django.test import Client as HttpClient
    from django.urls import reverse

    from backend.accounts.models import User

    mailing_send(user=salon["manager"], organization_id=salon["org"].pk, segment=Segment(), text="Привет! " * 10)
    browser = HttpClient()
    browser.force_login(User.objects.create_superuser("+77019990077", "pw"))
    page = browser.get(reverse("admin:booking_mailing_changelist"))
    assert page.status_code == 200
    assert "2 × UCS-2" in page.content.decode()
