"""Normalising and validating client fields: shared by the services and the import."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.core.exceptions import ValidationFailed
from backend.core.phones import phone_normalize

from .models import CONSENT_KINDS, Client, Gender

TEXT_FIELDS = ("first_name", "last_name", "middle_name", "code", "notes", "extra_contact")
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


def client_fields_clean(
    data: Mapping[str, Any], *, default_region: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean the plain client fields present in ``data``; returns (cleaned, {field: error message})."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if "phone" in data:
        try:
            cleaned["phone"] = phone_normalize(str(data["phone"] or ""), default_region=default_region)
        except ValidationFailed:
            errors["phone"] = _("Invalid phone number.")
    for name in TEXT_FIELDS:
        if name in data:
            value = str(data[name] or "").strip()
            if "\x00" in value:
                errors[name] = _("Contains a NUL character.")
            elif len(value) > _max_length(name):
                errors[name] = _("At most %(n)d characters.") % {"n": _max_length(name)}
            else:
                cleaned[name] = value
    if "email" in data:
        email = str(data["email"] or "").strip()
        if email and "\x00" in email:
            errors["email"] = _("Invalid e-mail address.")
        elif email:
            try:
                validate_email(email)
            except DjangoValidationError:
                errors["email"] = _("Invalid e-mail address.")
            if len(email) > _max_length("email"):
                errors["email"] = _("At most %(n)d characters.") % {"n": _max_length("email")}
        cleaned["email"] = email.lower()
    if "birthday" in data:
        birthday = data["birthday"]
        if isinstance(birthday, dt.datetime):
            birthday = birthday.date()
        if birthday is not None and not isinstance(birthday, dt.date):
            errors["birthday"] = _("Invalid date.")
        elif birthday is not None and not (MIN_BIRTHDAY <= birthday <= timezone.localdate()):
            errors["birthday"] = _("The birthday must be between 1900 and today.")
        else:
            cleaned["birthday"] = birthday
    if "gender" in data:
        gender = str(data["gender"] or "").strip().lower()
        if gender not in Gender.values:
            errors["gender"] = _("Use female, male or leave empty.")
        else:
            cleaned["gender"] = gender
    return cleaned, errors


def consent_field_names() -> list[str]:
    return [f"consent_{kind}_{part}" for kind in CONSENT_KINDS for part in ("at", "by", "how")]
