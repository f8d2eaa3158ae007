"""A salon for the customer conversations, laid out around today (the bot's steps use the real clock): Salon Lotus
(English, online booking, slots every 30 minutes, an hour's lead time, a 2-hour cutoff) with two branches; at
"Centre" two masters (Aigerim, Dana) work every day 09:00-18:00 and perform a haircut (60 min, 5000; Aigerim's own
price 6000) and a colouring (90 min, 9000); "Riverside" has nobody yet. Customers are accounts linked to Telegram.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from asgiref.sync import sync_to_async
from django.utils import timezone
from telegram import InlineKeyboardMarkup

from backend.accounts.telegram import telegram_deep_link_create
from backend.booking.models import Appointment, PatternKind, WorkPattern
from backend.booking.services.appointments import appointment_create_for_customer, appointment_status_set
from backend.catalog.models import BranchService, Service, StaffService
from backend.notifications.models import OutboxMessage
from backend.organizations.models import Branch, Organization, Role
from bots.testing.fake_bot_api import TgUser
from bots.testing.harness import BotHarness, link_user
from tests.conftest import member
from tests.factories import BranchFactory, OrganizationFactory, UserFactory

ZONE = ZoneInfo("Asia/Almaty")
_phones = itertools.count(1)


@dataclass
class Salon:
    org: Organization
    branch: Branch
    riverside: Branch
    aigerim: Any
    dana: Any
    manager: Any
    haircut: Service
    colouring: Service


def salon_build() -> Salon:
    org = OrganizationFactory(
        name="Salon Lotus",
        language="en",
        online_booking=True,
        booking_slot_step_minutes=30,
        booking_lead_time_minutes=60,
        booking_cancel_cutoff_minutes=120,
    )
    branch = BranchFactory(organization=org, name="Centre", time_zone="Asia/Almaty")
    riverside = BranchFactory(organization=org, name="Riverside", time_zone="Asia/Almaty")
    aigerim = member(org, Role.MASTER, first_name="Aigerim", last_name="Bek")
    dana = member(org, Role.MASTER, first_name="Dana", last_name="Sarsen")
    haircut = Service.objects.create(organization=org, name="Haircut", duration_minutes=60, price=Decimal("5000"))
    colouring = Service.objects.create(organization=org, name="Colouring", duration_minutes=90, price=Decimal("9000"))
    today = timezone.now().astimezone(ZONE).date()
    for service in (haircut, colouring):
        BranchService.objects.create(organization=org, branch=branch, service=service)
    for staff in (aigerim, dana):
        for service in (haircut, colouring):
            price = Decimal("6000") if (staff, service) == (aigerim, haircut) else None
            StaffService.objects.create(organization=org, staff=staff, service=service, price=price)
        WorkPattern.objects.create(
            organization=org,
            branch=branch,
            staff=staff,
            kind=PatternKind.WEEKLY,
            weekdays=list(range(7)),
            anchor_date=today - dt.timedelta(days=1),
            end_date=today + dt.timedelta(days=60),
            day_start=dt.time(9),
            day_end=dt.time(18),
        )
    return Salon(
        org=org,
        branch=branch,
        riverside=riverside,
        aigerim=aigerim,
        dana=dana,
        manager=member(org, Role.MANAGER),
        haircut=haircut,
        colouring=colouring,
    )


def tomorrow() -> dt.date:
    return timezone.now().astimezone(ZONE).date() + dt.timedelta(days=1)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZONE)


def day_caption(day: dt.date) -> str:
    """How the bot labels a day in English ("Thu 03.12")."""
    return day.strftime("%a %d.%m")


def _account(tg: TgUser, first_name: str) -> Any:
    user = UserFactory(phone=f"+7707{next(_phones):07d}", first_name=first_name, last_name="")
    link_user(user, tg)
    return user


async def customer_joins(
    bot: BotHarness, salon: Salon, tg: TgUser, *, first_name: str = "Saule", branch: Branch | None = None
) -> Any:
    """A customer account linked to ``tg`` that follows the salon's deep link (``/start <code>``; a branch's link
    when ``branch`` is given), as a real customer does: the bot then books with the salon."""
    user = await sync_to_async(_account)(tg, first_name)
    link = await sync_to_async(telegram_deep_link_create)(
        actor=None, organization_id=salon.org.pk, branch_id=branch.pk if branch is not None else None
    )
    await bot.command(tg, "start", link.code)
    return user


def visit_booked(salon: Salon, user: Any, start: dt.datetime, *, staff: Any = None, service: Any = None) -> Appointment:
    """A visit the customer booked (through the booking service)."""
    return appointment_create_for_customer(
        user=user,
        branch_id=salon.branch.pk,
        service_ids=[(service or salon.haircut).pk],
        staff_id=(staff or salon.aigerim).pk,
        start=start,
    )


def visit_done(salon: Salon, appointment: Appointment) -> Appointment:
    for status in ("arrived", "done"):
        appointment = appointment_status_set(user=salon.manager, appointment_id=appointment.pk, status=status)
    return appointment


async def deliver(bot: BotHarness, message: OutboxMessage) -> None:
    """Deliver an outbox message to its Telegram chat as the outbox's Telegram backend does: its text and its
    buttons (``payload.reply_markup``), through the real Bot API client, so the fake holds a message to press on."""
    markup = (message.payload or {}).get("reply_markup")
    await bot.application.bot.send_message(
        chat_id=int(message.recipient),
        text=message.body,
        reply_markup=InlineKeyboardMarkup.de_json(markup, bot.application.bot) if markup else None,
    )
