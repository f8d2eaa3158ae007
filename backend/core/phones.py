"""E.164 phone numbers (phonenumbers), the identity key for users and clients."""

from __future__ import annotations

import phonenumbers
from django.utils.translation import gettext as _

from .exceptions import ValidationFailed


def phone_normalize(raw: str, *, default_region: str | None = None, field: str = "phone") -> str:
    """Return ``raw`` as E.164 or raise ``ValidationFailed`` with code ``invalid_phone``."""
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationFailed(
            _("Enter a valid phone number in international format, e.g. +77011234567."),
            code="invalid_phone",
            fields={field: [_("Invalid phone number.")]},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_mask(phone: str) -> str:
    """+77011234567 -> +77*******67, for logs and messages to third parties."""
    if len(phone) < 6:
        return "***"
    return phone[:3] + "*" * (len(phone) - 5) + phone[-2:]
