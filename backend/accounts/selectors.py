"""Identity reads."""

from __future__ import annotations

from backend.core.phones import phone_normalize

from .models import User


def user_by_phone(*, phone: str) -> User | None:
    """The user with this phone (any spelling phonenumbers understands), or None."""
    return User.objects.filter(phone=phone_normalize(phone)).first()
