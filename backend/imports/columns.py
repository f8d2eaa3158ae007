"""The columns import reads and export writes, in the order export writes them."""

from __future__ import annotations

from backend.crm.fields import CLIENT_IMPORT_COLUMNS

CLIENT_COLUMNS = CLIENT_IMPORT_COLUMNS  # defined with the fields, in backend.crm.fields
SERVICE_COLUMNS = ("code", "name", "group", "price", "duration_minutes", "description", "is_active")
