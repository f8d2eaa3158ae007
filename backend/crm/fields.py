"""Every client field, defined once: how it is cleaned, whether services accept it, whether events record it,
how a merge treats it and which import/export column carries it.

The services, the cleaning, the merge, the admin form, the import, the export and the API's patch rules all derive
their lists from ``CLIENT_FIELDS``; a new client field is added here (and to the model) and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .models import CONSENT_KINDS, Client


class Clean(StrEnum):
    """Which rule ``client_fields_clean`` applies."""

    PHONE = "phone"  # normalised to E.164 with the organization's country as the default region
    TEXT = "text"  # stripped, no NUL, at most the column's length
    EMAIL = "email"  # validated, lowercased
    BIRTHDAY = "birthday"  # a date between 1900 and today
    GENDER = "gender"  # one of Gender's values
    REFERENCE = "reference"  # an id checked against the organization (source, curator, groups)
    CONSENT = "consent"  # set through the ``consents`` argument: given / withdrawn, stamped with who and when
    NONE = "none"  # maintained by the services themselves


class Merge(StrEnum):
    """What ``client_merge`` does with the field when a duplicate is folded into a survivor."""

    KEEP = "keep"  # the survivor's value stays
    FILL = "fill"  # the survivor's empty value takes the duplicate's
    MOVE = "move"  # unique per organization: moves from the duplicate when the survivor has none
    JOIN = "join"  # both values kept, one per line
    UNION = "union"  # both sets together
    EARLIEST = "earliest"  # the consent given first wins, with who recorded it and how
    LATEST = "latest"  # the later moment wins


@dataclass(frozen=True)
class ClientField:
    name: str  # the model field
    clean: Clean
    merge: Merge
    #: The key services accept for it (``source_id``, ``group_ids``, ``consents``); None: not writable by callers.
    api_name: str | None = None
    #: Recorded in the client's events (denormalised search columns and updated_at are noise in a history).
    in_events: bool = True
    #: The column that carries it in import and export files; None: not in files.
    import_column: str | None = None
    #: The ORM path the client list sorts it by (its API sort key is ``name``); None: not sortable.
    sort_path: str | None = None

    @property
    def updatable(self) -> bool:
        return self.api_name is not None

    @property
    def attname(self) -> str:
        return str(getattr(Client._meta.get_field(self.name), "attname", self.name))


def _plain(name: str, clean: Clean, merge: Merge = Merge.FILL, *, sortable: bool = True) -> ClientField:
    return ClientField(name, clean, merge, api_name=name, import_column=name, sort_path=name if sortable else None)


def _consent_fields() -> list[ClientField]:
    out = []
    for kind in CONSENT_KINDS:
        at = f"consent_{kind}_at"
        out.append(ClientField(at, Clean.CONSENT, Merge.EARLIEST, "consents", import_column=at, sort_path=at))
        out.append(ClientField(f"consent_{kind}_by", Clean.CONSENT, Merge.EARLIEST, "consents"))
        out.append(ClientField(f"consent_{kind}_how", Clean.CONSENT, Merge.EARLIEST, "consents"))
    return out


# In the order files and forms show them.
CLIENT_FIELDS: tuple[ClientField, ...] = (
    _plain("phone", Clean.PHONE, Merge.KEEP),
    _plain("last_name", Clean.TEXT),
    _plain("first_name", Clean.TEXT),
    _plain("middle_name", Clean.TEXT),
    _plain("code", Clean.TEXT, Merge.MOVE),
    _plain("birthday", Clean.BIRTHDAY),
    _plain("gender", Clean.GENDER),
    _plain("email", Clean.EMAIL),
    ClientField(
        "source", Clean.REFERENCE, Merge.FILL, api_name="source_id", import_column="source", sort_path="source__name"
    ),
    # Events carry groups as a sorted id list next to the plain fields (``client_snapshot``).
    ClientField("groups", Clean.REFERENCE, Merge.UNION, api_name="group_ids", in_events=False, import_column="groups"),
    ClientField("curator", Clean.REFERENCE, Merge.FILL, api_name="curator_id", sort_path="curator__last_name"),
    _plain("notes", Clean.TEXT, Merge.JOIN, sortable=False),
    _plain("extra_contact", Clean.TEXT, sortable=False),
    *_consent_fields(),
    ClientField("last_visit_at", Clean.NONE, Merge.LATEST, sort_path="last_visit_at"),
    ClientField("deleted_at", Clean.NONE, Merge.KEEP, sort_path="deleted_at"),
)
CLIENT_FIELDS_BY_NAME = {f.name: f for f in CLIENT_FIELDS}


def _names(fields: Iterable[ClientField]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.name for f in fields))


#: What a client's events carry (plus ``groups``).
CLIENT_EVENT_FIELDS = _names(f for f in CLIENT_FIELDS if f.in_events)
#: The keys ``client_create`` / ``client_update`` accept.
CLIENT_UPDATABLE = tuple(dict.fromkeys(f.api_name for f in CLIENT_FIELDS if f.api_name))
#: Keys cleaned by ``client_fields_clean`` per rule.
CLIENT_CLEAN_FIELDS: dict[Clean, tuple[str, ...]] = {
    rule: _names(f for f in CLIENT_FIELDS if f.clean == rule) for rule in Clean
}
#: Plain (non-reference, non-consent) fields callers write by value: what the admin form and the import clean.
CLIENT_PLAIN_FIELDS = _names(
    f for f in CLIENT_FIELDS if f.updatable and f.clean not in (Clean.REFERENCE, Clean.CONSENT)
)
#: Updatable keys that may be cleared with null (a patch sending null for another key is refused).
CLIENT_NULLABLE = tuple(
    f.api_name
    for f in CLIENT_FIELDS
    if f.api_name
    and f.clean != Clean.CONSENT
    and f.name != "groups"
    and getattr(Client._meta.get_field(f.name), "null", False)
)
CLIENT_NOT_NULL = tuple(name for name in CLIENT_UPDATABLE if name not in CLIENT_NULLABLE)
#: The model fields the admin's client form edits directly (consents have their own check boxes).
CLIENT_FORM_FIELDS = ("organization", *_names(f for f in CLIENT_FIELDS if f.updatable and f.clean != Clean.CONSENT))
#: Sort key (API name) -> ORM path: every column of the list can be sorted on; ties break on id.
CLIENT_SORTS: dict[str, str] = {
    "name": "name_key",
    **{f.name: f.sort_path for f in CLIENT_FIELDS if f.sort_path},
    "created_at": "created_at",
    "updated_at": "updated_at",
    "id": "id",
}
#: Import and export columns, in file order.
CLIENT_IMPORT_COLUMNS = tuple(f.import_column for f in CLIENT_FIELDS if f.import_column)
#: File columns holding plain text the import reads as text before cleaning.
CLIENT_IMPORT_TEXT_COLUMNS = tuple(
    f.name for f in CLIENT_FIELDS if f.import_column and f.clean in (Clean.TEXT, Clean.EMAIL)
)


def merge_fields(policy: Merge) -> tuple[str, ...]:
    """Model fields a merge treats with ``policy``."""
    return _names(f for f in CLIENT_FIELDS if f.merge == policy)


def client_export_row(client: Client, group_names: Iterable[str]) -> list[Any]:
    """One export file row in ``CLIENT_IMPORT_COLUMNS`` order; re-importing it changes nothing."""
    row: list[Any] = []
    for f in CLIENT_FIELDS:
        if f.import_column is None:
            continue
        if f.name == "source":
            row.append(client.source.name if client.source else "")
        elif f.name == "groups":
            row.append("|".join(sorted(group_names)))
        else:
            row.append(getattr(client, f.name))
    return row


def client_snapshot_values(client: Client) -> dict[str, Any]:
    """The event fields of ``client`` (relations as ids, dates as ISO strings), without groups."""
    data: dict[str, Any] = {}
    for name, attname in _SNAPSHOT_ATTRS:  # a flat loop: imports snapshot thousands of rows
        value = getattr(client, attname)
        data[name] = value.isoformat() if isinstance(value, dt.date) else value
    return data


_SNAPSHOT_ATTRS = [(f.name, f.attname) for f in CLIENT_FIELDS if f.in_events]


# --- vehicles ----------------------------------------------------------------------------------------------------

#: Text fields of a vehicle: stripped, no NUL, at most the column's length.
VEHICLE_TEXT_FIELDS = ("make", "model", "plate", "vin")
#: Text fields stored upper-case without spaces, so "a 123 bc" and "A123BC" are one plate.
VEHICLE_CODE_FIELDS = ("plate", "vin")
#: Every vehicle field callers write, the one list the services, events, the admin and the API derive from.
VEHICLE_FIELDS = (*VEHICLE_TEXT_FIELDS, "year")
#: Fields a change may clear with null; a null for any other is refused.
VEHICLE_NULLABLE = ("year",)
VEHICLE_NOT_NULL = tuple(name for name in VEHICLE_FIELDS if name not in VEHICLE_NULLABLE)
