"""Catalog error codes."""

from __future__ import annotations

from enum import StrEnum


class CatalogErrorCode(StrEnum):
    SERVICE_CODE_TAKEN = "service_code_taken"
    SERVICE_GROUP_NAME_TAKEN = "service_group_name_taken"
    INVALID_REFERENCE = "invalid_reference"
