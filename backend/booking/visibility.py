"""Booking's rows in the idempotent replay check (``backend.core.visibility``): what the appointment selectors show."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from backend.core.visibility import visibility_register

from .appointment_selectors import appointments_visible
from .models import Appointment


def appointments_visible_ids(user: Any, ids: Sequence[int]) -> Collection[int]:
    """The ids among ``ids`` of appointments the caller may still see."""
    return set(Appointment.objects.filter(appointments_visible(user), id__in=ids).values_list("id", flat=True))


def register() -> None:
    """Called from ``BookingConfig.ready()``."""
    visibility_register("booking.appointment", appointments_visible_ids)
