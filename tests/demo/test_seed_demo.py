from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from backend.accounts.models import User
from backend.core.models import Event, EventAction
from backend.demo.services import DEMO_ADMIN_PHONE
from backend.organizations.models import Branch, Membership, Organization, OrganizationKind, Role

pytestmark = pytest.mark.django_db

OLD_FIXED_PASSWORD = "brigada-demo"


@pytest.fixture(autouse=True)
def _debug_on(settings: Any) -> None:
    # The test runner turns DEBUG off; `make demo` runs with it on. The refusal tests turn it off again.
    settings.DEBUG = True


def seed(*args: str) -> str:
    out = StringIO()
    # The tiny world without history: the structure every size shares (tests/demo/test_world.py checks the rest).
    call_command("seed_demo", "--size", "tiny", "--history-days", "0", *args, stdout=out)
    return out.getvalue()


def printed_password(output: str) -> str:
    match = re.search(rf"phone {re.escape(DEMO_ADMIN_PHONE)}\s+password (\S+)", output)
    assert match, output
    return match.group(1)


def counts() -> tuple[int, ...]:
    return (
        Organization.objects.count(),
        Branch.objects.count(),
        User.objects.count(),
        Membership.objects.count(),
        Event.objects.count(),
    )


def test_seed_demo_builds_the_world_and_is_idempotent() -> None:
    out = seed()
    before = counts()

    again = seed()

    assert counts() == before  # nothing duplicated, and no empty update events either
    assert "Demo world ready." in out and "Demo world ready." in again
    assert DEMO_ADMIN_PHONE in out
    assert User.objects.get(phone=DEMO_ADMIN_PHONE).is_superuser
    # the second run cannot show the password (only its hash exists) but says how to get a new one
    assert "password " + printed_password(out) not in again and "--reset-admin-password" in again


def test_demo_world_has_a_franchise_tree_and_every_role(db: Any) -> None:
    seed()

    almaty = Organization.objects.get(name="Brigada Loaders Almaty")
    assert almaty.parent is not None and almaty.parent.kind == OrganizationKind.STAFFING_AGENCY
    assert set(Membership.objects.values_list("role", flat=True)) == set(Role.values)


def test_refuses_with_debug_off_and_writes_nothing(settings: Any) -> None:
    settings.DEBUG = False

    with pytest.raises(CommandError, match=r"DEBUG is off.*--allow-production"):
        seed()

    assert counts() == (0, 0, 0, 0, 0)


def test_allow_production_seeds_with_debug_off(settings: Any) -> None:
    settings.DEBUG = False

    out = seed("--allow-production")

    assert "Demo world ready." in out
    assert User.objects.get(phone=DEMO_ADMIN_PHONE).check_password(printed_password(out))


def _password_on_a_fresh_database() -> str:
    with transaction.atomic():
        password = printed_password(seed())
        admin = User.objects.get(phone=DEMO_ADMIN_PHONE)
        assert admin.check_password(password)
        assert not admin.check_password(OLD_FIXED_PASSWORD)
        transaction.set_rollback(True)  # back to an empty database for the next run
    assert User.objects.count() == 0
    return password


def test_the_admin_password_is_random_per_database_and_the_old_fixed_one_fails() -> None:
    first = _password_on_a_fresh_database()
    second = _password_on_a_fresh_database()

    assert first != second
    assert len(first) >= 16 and OLD_FIXED_PASSWORD not in (first, second)


def test_reset_admin_password_prints_a_new_one_and_the_old_one_stops_working() -> None:
    old = printed_password(seed())

    new = printed_password(seed("--reset-admin-password"))

    admin = User.objects.get(phone=DEMO_ADMIN_PHONE)
    assert new != old and admin.check_password(new) and not admin.check_password(old)
    assert Event.objects.filter(
        entity_type="accounts.user", entity_id=str(admin.pk), action=EventAction.PASSWORD_CHANGE
    ).exists()


def test_every_created_object_has_a_create_event_with_the_demo_admin_as_actor() -> None:
    seed()

    admin = User.objects.get(phone=DEMO_ADMIN_PHONE)
    created = {
        (entity_type, entity_id): actor_id
        for entity_type, entity_id, actor_id in Event.objects.filter(action=EventAction.CREATE).values_list(
            "entity_type", "entity_id", "actor_id"
        )
    }
    for model in (Organization, Branch, Membership):
        for pk in model.objects.values_list("pk", flat=True):
            assert created.get((model._meta.label_lower, str(pk))) == admin.pk, (model, pk)
    for user in User.objects.exclude(pk=admin.pk):
        assert created.get(("accounts.user", str(user.pk))) == admin.pk, user
    # the admin itself is bootstrapped by the command: no actor, but the creation and the grant are both there
    assert created[("accounts.user", str(admin.pk))] is None
    grant = Event.objects.get(entity_id=str(admin.pk), action=EventAction.PRIVILEGE_CHANGE)
    assert grant.after == {"is_staff": True, "is_superuser": True}
