"""Normalising and validating client fields: shared by the services and the import."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.exceptions import ValidationFailed
from backend.core.phones import phone_normalize

from .fields import CLIENT_CLEAN_FIELDS, Clean
from .models import Client, Gender

MIN_BIRTHDAY = dt.date(1900, 1, 1)


def _max_length(name: str) -> int:
    return int(getattr(Client._meta.get_field(name), "max_length", 0) or 0)


def search_fold(text: str) -> str:
    """Lowercase with ё folded to е: what the search column stores and what queries are compared with."""
    return (text or "").lower().replace("ё", "е")


def client_search_text(client: Client) -> str:
    parts = (client.last_name, client.first_name, client.middle_name, client.email, client.code)
    return search_fold(" ".join(p for p in parts if p))[:600]


def client_name_key(client: Client) -> str:
    return search_fold(" ".join(p for p in (client.last_name, client.first_name, client.middle_name) if p))[:310]


def client_derived_refresh(client: Client) -> None:
    """Recompute the denormalised search/sort columns; every write path calls this."""
    client.search_text = client_search_text(client)
    client.name_key = client_name_key(client)


def nulls_refuse(data: Mapping[str, Any], not_null: Iterable[str]) -> None:
    """Refuse a change that sends null for a field that cannot be cleared, naming every such field."""
    nulls = [name for name in not_null if name in data and data[name] is None]
    if nulls:
        raise ValidationFailed(_("Some fields are invalid."), fields={name: [_("May not be null.")] for name in nulls})


def _clean_phone(value: Any, default_region: str | None) -> str:
    try:
        return phone_normalize(str(value or ""), default_region=default_region)
    except ValidationFailed:
        raise ValueError(_("Invalid phone number.")) from None


def _clean_text(value: Any, limit: int) -> str:
    text = str(value or "").strip()
    if "\x00" in text:
        raise ValueError(_("Contains a NUL character."))
    if len(text) > limit:
        raise ValueError(_("At most %(n)d characters.") % {"n": limit})
    return text


def _clean_email(value: Any, limit: int) -> str:
    email = str(value or "").strip()
    if email and "\x00" in email:
        raise ValueError(_("Invalid e-mail address."))
    if email:
        if len(email) > limit:
            raise ValueError(_("At most %(n)d characters.") % {"n": limit})
        try:
            validate_email(email)
        except DjangoValidationError:
            raise ValueError(_("Invalid e-mail address.")) from None
    return email.lower()


def _clean_birthday(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        value = value.date()
    if value is not None and not isinstance(value, dt.date):
        raise ValueError(_("Invalid date."))
    if value is not None and not (MIN_BIRTHDAY <= value <= timezone.localdate()):
        raise ValueError(_("The birthday must be between 1900 and today."))
    return value


def _clean_gender(value: Any) -> str:
    gender = str(value or "").strip().lower()
    if gender not in Gender.values:
        raise ValueError(_("Use female, male or leave empty."))
    return gender


def client_fields_clean(
    data: Mapping[str, Any], *, default_region: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean the plain client fields present in ``data`` by each field's rule (``backend.crm.fields``).

    Returns (cleaned, {field: error message}); keys that are not plain fields are left out.
    """
    cleaners: dict[Clean, Callable[[str, Any], Any]] = {
        Clean.PHONE: lambda _name, value: _clean_phone(value, default_region),
        Clean.TEXT: lambda name, value: _clean_text(value, _max_length(name)),
        Clean.EMAIL: lambda name, value: _clean_email(value, _max_length(name)),
        Clean.BIRTHDAY: lambda _name, value: _clean_birthday(value),
        Clean.GENDER: lambda _name, value: _clean_gender(value),
    }
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for rule, clean in cleaners.items():
        for name in CLIENT_CLEAN_FIELDS[rule]:
            if name not in data:
                continue
            try:
                cleaned[name] = clean(name, data[name])
            except ValueError as exc:
                errors[name] = str(exc)
    return cleaned, errors
