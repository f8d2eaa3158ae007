"""Linking through the bot: /start with an organization's (or branch's) deep link, then the user's own contact."""

from __future__ import annotations

import re
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import translation

from backend.accounts.models import TelegramDeepLink, User
from backend.accounts.telegram import telegram_deep_link_create, telegram_deep_link_revoke
from backend.core.exceptions import NotFound, PermissionDenied
from backend.crm.models import Client, ClientSource
from backend.organizations.models import Organization, Role
from bots.models import BotChat
from bots.state import linked_customer
from bots.testing.harness import BotHarness, link_user
from tests.conftest import member
from tests.factories import BranchFactory, OrganizationFactory, UserFactory
from tests.staffing.world import agency, pool_worker

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+77011234567"


@pytest.fixture
def salon(transactional_db: Any) -> Organization:
    return OrganizationFactory(name="Salon Aru")


@pytest.fixture
def deep_link(salon: Organization) -> TelegramDeepLink:
    return telegram_deep_link_create(actor=None, organization_id=salon.pk, label="Instagram bio")


def counts() -> tuple[int, int]:
    return User.objects.count(), Client.objects.count()


async def test_a_new_customer_links_by_the_organizations_link_and_becomes_its_client(
    bot: BotHarness, salon: Organization, deep_link: TelegramDeepLink
) -> None:
    aru = bot.user(language="ru", first_name="Aru")

    asked = await bot.command(aru, "start", deep_link.code)
    linked = await bot.share_contact(aru, PHONE.lstrip("+"))  # Telegram sends the number without "+"

    assert "Salon Aru" in asked[0].text
    # in the user's language (Telegram said "ru")
    with translation.override("ru"):
        share = translation.gettext("Share my phone number")
    assert share != "Share my phone number"
    assert asked[0].reply_keyboard == [[{"text": share, "request_contact": True}]]
    user = await sync_to_async(User.objects.get)(phone=PHONE)
    assert user.telegram_user_id == aru.id and user.first_name == "Aru" and user.language == "ru"
    client = await sync_to_async(Client.objects.select_related("source").get)(organization=salon, phone=PHONE)
    assert client.source is not None and client.source.name == "Telegram"
    assert "+77*******67" in linked[0].text  # the phone is masked in the chat too
    assert linked[0].call.params["reply_markup"] == {"remove_keyboard": True}
    await sync_to_async(deep_link.refresh_from_db)()
    assert deep_link.uses == 1
    customer = await sync_to_async(linked_customer)(aru.id)
    assert customer is not None and customer.user.pk == user.pk and customer.organization_id == salon.pk


async def test_a_branch_link_with_its_own_source_is_recorded(bot: BotHarness, salon: Organization) -> None:
    def make() -> TelegramDeepLink:
        branch = BranchFactory(organization=salon)
        source = ClientSource.objects.create(organization=salon, name="Flyer")
        return telegram_deep_link_create(actor=None, organization_id=salon.pk, branch_id=branch.pk, source_id=source.pk)

    link = await sync_to_async(make)()
    ben = bot.user()

    await bot.command(ben, "start", link.code)
    await bot.share_contact(ben, PHONE)

    client = await sync_to_async(Client.objects.select_related("source").get)(phone=PHONE)
    assert client.source is not None and client.source.name == "Flyer"
    chat = await sync_to_async(BotChat.objects.get)(telegram_user_id=ben.id)
    assert (chat.organization_id, chat.branch_id) == (salon.pk, link.branch_id)


@pytest.mark.parametrize("contact_user_id", [None, 555], ids=["no-user-id", "another-user"])
async def test_only_the_users_own_contact_is_accepted(
    bot: BotHarness, deep_link: TelegramDeepLink, contact_user_id: int | None
) -> None:
    eve = bot.user()
    await bot.command(eve, "start", deep_link.code)
    before = await sync_to_async(counts)()

    replies = await bot.share_contact(eve, PHONE, contact_user_id=contact_user_id)

    assert "your own number" in replies[0].text
    assert await sync_to_async(counts)() == before
    assert not await sync_to_async(User.objects.filter(telegram_user_id=eve.id).exists)()


async def test_a_revoked_or_unknown_link_joins_no_organization(
    bot: BotHarness, salon: Organization, deep_link: TelegramDeepLink
) -> None:
    await sync_to_async(telegram_deep_link_revoke)(actor=None, link_id=deep_link.pk)
    dan = bot.user()

    for payload in (deep_link.code, "no-such-code", "bad payload!"):
        replies = await bot.command(dan, "start", payload)
        assert "no longer valid" in replies[0].text
    await bot.share_contact(dan, PHONE)

    assert await sync_to_async(User.objects.filter(phone=PHONE, telegram_user_id=dan.id).exists)()
    assert not await sync_to_async(Client.objects.filter(organization=salon).exists)()


async def test_an_already_linked_customer_joins_another_organization_at_once(
    bot: BotHarness, deep_link: TelegramDeepLink, salon: Organization
) -> None:
    kim = bot.user()
    user = await sync_to_async(UserFactory)(phone=PHONE)
    await sync_to_async(link_user)(user, kim)

    replies = await bot.command(kim, "start", deep_link.code)

    assert "Welcome back" in replies[0].text and "Salon Aru" in replies[0].text
    assert await sync_to_async(Client.objects.filter(organization=salon, phone=PHONE).exists)()


async def test_a_worker_sharing_their_contact_is_linked_to_their_worker_record(bot: BotHarness) -> None:
    worker = await sync_to_async(lambda: pool_worker(agency()))()
    tg = bot.user()

    await bot.command(tg, "start")
    await bot.share_contact(tg, worker.user.phone)

    await sync_to_async(worker.user.refresh_from_db)()
    assert worker.user.telegram_user_id == tg.id
    assert await sync_to_async(User.objects.count)() == 1 + 0  # no second account for the same phone


async def test_a_telegram_account_moves_to_the_new_phone(bot: BotHarness) -> None:
    tg = bot.user()
    old = await sync_to_async(UserFactory)(phone="+77019998877")
    await sync_to_async(link_user)(old, tg)

    await bot.command(tg, "start")
    await bot.share_contact(tg, PHONE)

    await sync_to_async(old.refresh_from_db)()
    assert old.telegram_user_id is None
    assert await sync_to_async(User.objects.filter(phone=PHONE, telegram_user_id=tg.id).exists)()


async def test_an_invalid_phone_is_refused_politely_and_changes_nothing(bot: BotHarness) -> None:
    tg = bot.user()
    await bot.command(tg, "start")

    replies = await bot.share_contact(tg, "12")

    assert "valid phone number" in replies[0].text
    assert await sync_to_async(counts)() == (0, 0)


async def test_a_disabled_account_is_not_linked(bot: BotHarness) -> None:
    tg = bot.user()
    await sync_to_async(UserFactory)(phone=PHONE, is_active=False)

    replies = await bot.share_contact(tg, PHONE)

    assert "disabled" in replies[0].text
    assert not await sync_to_async(User.objects.filter(telegram_user_id=tg.id).exists)()


def test_deep_links_are_created_only_inside_the_creators_organization(salon: Organization) -> None:
    other = OrganizationFactory(name="Other")
    manager = member(salon, Role.OWNER)
    foreign_branch = BranchFactory(organization=other)

    link = telegram_deep_link_create(actor=manager, organization_id=salon.pk)
    with pytest.raises(NotFound):
        telegram_deep_link_create(actor=manager, organization_id=other.pk)
    with pytest.raises(NotFound):
        telegram_deep_link_create(actor=manager, organization_id=salon.pk, branch_id=foreign_branch.pk)
    with pytest.raises(PermissionDenied):
        telegram_deep_link_create(actor=member(salon, Role.WORKER), organization_id=salon.pk)

    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", link.code)
    assert TelegramDeepLink.objects.count() == 1


async def test_after_linking_the_menu_shows_the_domains_entries_workers_see_theirs(
    bot: BotHarness, deep_link: TelegramDeepLink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bots.handlers import base

    monkeypatch.setattr(base, "MENU", [])
    base.menu_add("Book a visit", "cb:start", audience="customer", order=10)
    base.menu_add("My offers", "offer:list", audience="worker", order=20)
    customer, worker_tg = bot.user(), bot.user()
    worker = await sync_to_async(lambda: pool_worker(agency()))()

    await bot.command(customer, "start", deep_link.code)
    await bot.share_contact(customer, PHONE)
    await bot.command(worker_tg, "start")
    await bot.share_contact(worker_tg, worker.user.phone)

    assert [b.callback_data for b in bot.last(customer).flat_buttons] == ["cb:start"]
    assert [b.callback_data for b in bot.last(worker_tg).flat_buttons] == ["cb:start", "offer:list"]


async def test_group_chats_are_not_linked(bot: BotHarness, deep_link: TelegramDeepLink) -> None:
    tg = bot.user()
    update = bot.fake.command_update(tg, "start", deep_link.code)
    update["message"]["chat"] = {"id": -100123, "type": "supergroup", "title": "Team"}

    replies = await bot.process(update)

    assert replies == []
    assert not await sync_to_async(BotChat.objects.exists)()


async def test_start_makes_a_chat_that_blocked_the_bot_reachable_again(bot: BotHarness) -> None:
    from backend.notifications.services import telegram_chat_mark_unreachable, telegram_chat_reachable

    tg = bot.user()
    await sync_to_async(telegram_chat_mark_unreachable)(chat_id=tg.id, reason="blocked")

    await bot.command(tg, "start")

    assert await sync_to_async(telegram_chat_reachable)(chat_id=tg.id)
