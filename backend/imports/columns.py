"""The columns import reads and export writes, in the order export writes them."""

from __future__ import annotations

CLIENT_COLUMNS = (
    "phone",
    "last_name",
    "first_name",
    "middle_name",
    "code",
    "birthday",
    "gender",
    "email",
    "source",
    "groups",
    "notes",
    "extra_contact",
    "consent_messages_at",
    "consent_marketing_at",
    "consent_personal_data_at",
)
SERVICE_COLUMNS = ("code", "name", "group", "price", "duration_minutes", "description", "is_active")
