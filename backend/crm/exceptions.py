"""CRM error codes: stable strings the API exposes and clients branch on."""

from __future__ import annotations

from enum import StrEnum


class CrmErrorCode(StrEnum):
    CLIENT_PHONE_TAKEN = "client_phone_taken"
    CLIENT_CODE_TAKEN = "client_code_taken"
    CLIENT_DELETED = "client_deleted"
    SOURCE_NAME_TAKEN = "source_name_taken"
    GROUP_NAME_TAKEN = "group_name_taken"
    INVALID_REFERENCE = "invalid_reference"
    INVALID_CURSOR = "invalid_cursor"
    INVALID_SORT = "invalid_sort"
