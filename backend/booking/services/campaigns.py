"""Marketing messages to an organization's clients: mailings to a segment, and birthday greetings.

They live in the booking app with the other client messages (reminders, waiting-list offers, rating requests): one
place decides channels, consent and dedupe keys for everything a business says to its clients, while ``crm`` stays
the record of who the clients are and what they agreed to (decision 0011). Both honour the marketing consent *and*
the messages consent, and skip deleted clients.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.booking.exceptions import BookingErrorCode
from backend.booking.exceptions_comms import BookingCommsErrorCode
from backend.booking.models_comms import MAX_MAILING_TEXT_LENGTH, CommsSettings, Mailing
from backend.core.events import event_record, snapshot
from backend.core.exceptions import ValidationFailed
from backend.core.models import EventAction
from backend.crm.models import Client, ClientGroup, ClientSource, Gender
from backend.notifications.models import Channel, OutboxMessage
from backend.notifications.services import messages_enqueue_many
from backend.notifications.sms import SmsCount, sms_count
from backend.organizations.models import Organization
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check

from .messaging import client_message_enqueue, organization_language, routes_for

logger = logging.getLogger("brigada.booking")

#: Greetings go out from this local hour of the organization's day (nobody wants one at 00:05).
BIRTHDAY_SEND_HOUR = 10
MAX_SEGMENT_IDS = 100
MARKETING_FIELDS = ("text", "filters", "recipients", "sms_recipients", "sms_segments")


@dataclass(frozen=True)
class Segment:
    """Which clients a mailing is for: any of ``group_ids``, any of ``source_ids``, one ``gender`` (all optional)."""

    group_ids: tuple[int, ...] = ()
    source_ids: tuple[int, ...] = ()
    gender: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"group_ids": list(self.group_ids), "source_ids": list(self.source_ids), "gender": self.gender}


@dataclass(frozen=True)
class MailingPreview:
    """What sending would do: ``in_segment`` clients match, ``recipients`` of them consented (``without_consent``
    did not); ``by_channel`` splits the recipients; ``sms`` is the text's segment count for each SMS."""

    in_segment: int
    recipients: int
    without_consent: int
    by_channel: dict[str, int] = field(default_factory=dict)
    sms: SmsCount = field(default_factory=lambda: sms_count(""))

    @property
    def sms_segments_total(self) -> int:
        return self.sms.segments * self.by_channel.get(Channel.SMS, 0)


def marketing_consent_q() -> Q:
    """Clients who may receive marketing: both the marketing and the messages consent are on record."""
    return Q(consent_marketing_at__isnull=False, consent_messages_at__isnull=False)


def _segment_check(*, organization_id: int, segment: Segment) -> None:
    errors: dict[str, list[str]] = {}
    code: str | None = None
    for name, ids, model in (
        ("group_ids", segment.group_ids, ClientGroup),
        ("source_ids", segment.source_ids, ClientSource),
    ):
        if len(ids) > MAX_SEGMENT_IDS:
            errors[name] = [_("At most %(n)d.") % {"n": MAX_SEGMENT_IDS}]
            code = code or BookingCommsErrorCode.INVALID_SEGMENT
            continue
        found = set(model.objects.filter(organization_id=organization_id, pk__in=set(ids)).values_list("pk", flat=True))
        if found != set(ids):
            errors[name] = [_("Unknown in this organization.")]
            code = code or BookingErrorCode.INVALID_REFERENCE
    if segment.gender is not None and segment.gender not in {Gender.FEMALE, Gender.MALE}:
        errors["gender"] = [_("Unknown value.")]
        code = code or BookingCommsErrorCode.INVALID_SEGMENT
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), code=code, fields=errors)


def _text_check(text: str) -> str:
    text = text.strip()
    if not text:
        raise ValidationFailed(
            _("Write the text."), code=BookingCommsErrorCode.EMPTY_TEXT, fields={"text": [_("This field is required.")]}
        )
    if len(text) > MAX_MAILING_TEXT_LENGTH:
        raise ValidationFailed(
            _("At most %(n)d characters.") % {"n": MAX_MAILING_TEXT_LENGTH},
            code=BookingCommsErrorCode.EMPTY_TEXT,
            fields={"text": [_("Too long.")]},
        )
    return text


def segment_clients(*, organization_id: int, segment: Segment) -> QuerySet[Client]:
    """The organization's living clients in ``segment``, consent not yet applied (the caller checks access)."""
    qs = Client.objects.filter(organization_id=organization_id, deleted_at__isnull=True)
    if segment.group_ids:
        qs = qs.filter(
            pk__in=Client.groups.through.objects.filter(clientgroup_id__in=segment.group_ids).values("client_id")
        )
    if segment.source_ids:
        qs = qs.filter(source_id__in=segment.source_ids)
    if segment.gender:
        qs = qs.filter(gender=segment.gender)
    return qs


def mailing_preview(*, user: Any, organization_id: int, segment: Segment, text: str = "") -> MailingPreview:
    """Count who a mailing would reach (and how many SMS segments it costs) without sending anything."""
    organization_access_check(user, organization_id, Perm.MAILING_SEND)
    _segment_check(organization_id=organization_id, segment=segment)
    matched = segment_clients(organization_id=organization_id, segment=segment)
    consenting = list(matched.filter(marketing_consent_q()).only("pk", "phone", "organization_id"))
    routes = routes_for(consenting)
    by_channel: dict[str, int] = {}
    for route in routes.values():
        by_channel[route.channel] = by_channel.get(route.channel, 0) + 1
    in_segment = matched.count()
    return MailingPreview(
        in_segment=in_segment,
        recipients=len(consenting),
        without_consent=in_segment - len(consenting),
        by_channel=by_channel,
        sms=sms_count(text.strip()),
    )


@transaction.atomic
def mailing_send(*, user: Any, organization_id: int, segment: Segment, text: str) -> Mailing:
    """Send ``text`` to every consenting client of ``segment``: one outbox message each, in this transaction.

    The dedupe key names the mailing and the client, so a client gets a mailing once whatever retries happen. The
    mailing is recorded in the event log with its segment and counts.
    """
    organization_access_check(user, organization_id, Perm.MAILING_SEND)
    _segment_check(organization_id=organization_id, segment=segment)
    text = _text_check(text)
    recipients = list(
        segment_clients(organization_id=organization_id, segment=segment)
        .filter(marketing_consent_q())
        .only("pk", "phone", "organization_id")
        .order_by("pk")
    )
    count = sms_count(text)
    mailing = Mailing.objects.create(
        organization_id=organization_id,
        created_by=user,
        text=text,
        filters=segment.as_json(),
        recipients=len(recipients),
        sms_segments=count.segments,
    )
    routes = routes_for(recipients)
    rows = [
        OutboxMessage(
            organization_id=organization_id,
            channel=routes[c.pk].channel,
            recipient=routes[c.pk].recipient,
            user=routes[c.pk].user,
            body=text,
            dedupe_key=f"mailing:{mailing.pk}:client:{c.pk}",
        )
        for c in recipients
    ]
    messages_enqueue_many(rows)
    mailing.sms_recipients = sum(1 for r in routes.values() if r.channel == Channel.SMS)
    mailing.save(update_fields=["sms_recipients"])
    event_record(entity=mailing, action=EventAction.CREATE, actor=user, after=snapshot(mailing, MARKETING_FIELDS))
    return mailing


# --- birthdays --------------------------------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def _birthday_q(day: dt.date) -> Q:
    q = Q(birthday__month=day.month, birthday__day=day.day)
    if day.month == 2 and day.day == 28 and not _is_leap(day.year):
        q |= Q(birthday__month=2, birthday__day=29)  # no 29 February this year: greet them on the 28th
    return q


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _greeting(settings_row: CommsSettings, organization: Organization, client: Client, day: dt.date) -> str:
    name = client.first_name or client.full_name
    if settings_row.birthday_text:
        return settings_row.birthday_text.replace("{name}", name).replace("{organization}", organization.name)
    with organization_language(organization):
        if settings_row.birthday_days_ahead:
            return _("%(name)s, your birthday is on %(date)s: %(organization)s wishes you a happy one!") % {
                "name": name,
                "date": day.strftime("%d.%m"),
                "organization": organization.name,
            }
        return _("Happy birthday, %(name)s! Best wishes from %(organization)s.") % {
            "name": name,
            "organization": organization.name,
        }


def birthday_greetings_send(*, now: dt.datetime | None = None, organization_ids: Sequence[int] | None = None) -> int:
    """Queue the greetings due now: for every organization that sends them, once its local clock reaches
    ``BIRTHDAY_SEND_HOUR``, each consenting client whose birthday is ``birthday_days_ahead`` days from its local
    today. Returns how many messages were queued.

    Idempotent: the dedupe key ``birthday:<client>:<year of the birthday>`` sends a client one greeting a year
    however often this runs (the task runs hourly; two workers running it at once are harmless). One transaction per
    organization, so one organization's failure does not hold the others back.
    """
    now = now or timezone.now()
    configured = CommsSettings.objects.filter(birthday_greetings=True, organization__is_active=True).select_related(
        "organization"
    )
    if organization_ids is not None:
        configured = configured.filter(organization_id__in=list(organization_ids))
    queued = 0
    for row in configured:
        organization = row.organization
        local = now.astimezone(_zone(organization.time_zone))
        if local.hour < BIRTHDAY_SEND_HOUR:
            continue
        day = local.date() + dt.timedelta(days=row.birthday_days_ahead)
        clients = Client.objects.filter(
            _birthday_q(day), marketing_consent_q(), organization=organization, deleted_at__isnull=True
        ).order_by("pk")
        with transaction.atomic():
            for client in clients:
                _, created = client_message_enqueue(
                    client=client,
                    body=_greeting(row, organization, client, day),
                    dedupe_key=f"birthday:{client.pk}:{day.year}",
                    expires_at=now + dt.timedelta(days=1),
                )
                queued += int(created)
    if queued:
        logger.info("birthday greetings queued", extra={"count": queued})
    return queued
