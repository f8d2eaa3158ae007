"""``manage.py issue_token``: a bearer token for administrators and tools."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backend.accounts.models import AuthToken, User
from backend.accounts.tokens import access_token_user, token_refresh

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[list[str], str]:
    out, err = StringIO(), StringIO()
    call_command("issue_token", *args, stdout=out, stderr=err)
    return out.getvalue().split(), err.getvalue()


def test_prints_a_working_access_token_for_an_existing_user() -> None:
    # given
    user = User.objects.create_user(phone="+77017654321")

    # when
    lines, _ = run("--phone", "+7 701 765 43 21")

    # then
    assert len(lines) == 1
    assert access_token_user(lines[0]) == user


def test_with_refresh_prints_a_refresh_token_on_the_second_line() -> None:
    # given
    User.objects.create_user(phone="+77017654321")

    # when
    lines, _ = run("--phone", "+77017654321", "--refresh")

    # then
    assert len(lines) == 2
    assert token_refresh(refresh_token=lines[1]).access_token


def test_an_unknown_phone_without_create_is_a_clear_error_and_creates_nothing() -> None:
    # when
    with pytest.raises(CommandError, match="--create"):
        run("--phone", "+77017654321")

    # then
    assert User.objects.count() == 0
    assert AuthToken.objects.count() == 0


def test_create_makes_a_customer_user() -> None:
    # when
    lines, err = run("--phone", "+79161234567", "--create")

    # then
    user = User.objects.get(phone="+79161234567")
    assert access_token_user(lines[0]) == user
    assert not user.is_staff and not user.memberships.exists()
    assert "Created" in err


def test_create_for_an_existing_phone_reuses_the_user() -> None:
    # given
    User.objects.create_user(phone="+79161234567")

    # when
    run("--phone", "+79161234567", "--create")

    # then
    assert User.objects.count() == 1


def test_an_invalid_phone_is_a_command_error() -> None:
    with pytest.raises(CommandError):
        run("--phone", "garbage", "--create")
    assert User.objects.count() == 0


def test_a_disabled_user_gets_no_token() -> None:
    # given
    User.objects.create_user(phone="+77017654321", is_active=False)

    # when
    with pytest.raises(CommandError, match="disabled"):
        run("--phone", "+77017654321")

    # then
    assert AuthToken.objects.count() == 0
