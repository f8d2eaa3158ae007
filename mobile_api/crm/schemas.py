"""CRM API schemas. Lengths mirror the model columns and numbers/dates are bounded, so no input reaches the
database that it would refuse with a server error."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

from mobile_api.types import Text

MAX_ID = 2**63 - 1
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]


MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)
GenderIn = Literal["", "female", "male"]


class ConsentIn(Schema):
    given: bool
    how: Text = Field("", max_length=100, description="paper form, website, verbal...")


class ConsentsIn(Schema):
    messages: ConsentIn | None = None
    marketing: ConsentIn | None = None
    personal_data: ConsentIn | None = None


class ConsentOut(Schema):
    given_at: dt.datetime | None
    recorded_by_id: int | None
    how: str


class ConsentsOut(Schema):
    messages: ConsentOut
    marketing: ConsentOut
    personal_data: ConsentOut


class NamedOut(Schema):
    id: int
    name: str


class ClientOut(Schema):
    id: int
    organization_id: int
    phone: str
    first_name: str
    last_name: str
    middle_name: str
    full_name: str
    code: str
    birthday: dt.date | None
    gender: str
    email: str
    source: NamedOut | None
    groups: list[NamedOut]
    curator_id: int | None
    curator_name: str | None
    notes: str
    extra_contact: str
    consents: ConsentsOut
    last_visit_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None


class ClientListOut(Schema):
    items: list[ClientOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last one.")


class VehicleOut(Schema):
    id: int
    make: str
    model: str
    plate: str
    vin: str
    year: int | None


class EventOut(Schema):
    id: int
    occurred_at: dt.datetime
    entity_type: str
    entity_id: str
    action: str
    actor_id: int | None
    actor_name: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    batch_id: uuid.UUID | None
    note: str


class EventListOut(Schema):
    items: list[EventOut]
    next_cursor: str | None


class ClientCardOut(ClientOut):
    vehicles: list[VehicleOut]
    history: list[EventOut] = Field(..., description="The latest events, newest first; more at .../history.")
    history_next_cursor: str | None
    visits: list[dict[str, Any]] = Field(
        ..., description="Always empty until the booking module lands; it will list appointments here."
    )


class ClientCreateIn(Schema):
    organization_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="Defaults to the caller's first organization where they may edit clients."
    )
    phone: Text = Field(..., min_length=1, max_length=32)
    first_name: Text = Field("", max_length=100)
    last_name: Text = Field("", max_length=100)
    middle_name: Text = Field("", max_length=100)
    code: Text = Field("", max_length=32)
    birthday: dt.date | None = Field(None, ge=MIN_DATE, le=MAX_DATE)
    gender: GenderIn = ""
    email: Text = Field("", max_length=254)
    notes: Text = Field("", max_length=5000)
    extra_contact: Text = Field("", max_length=200)
    source_id: int | None = Field(None, ge=1, le=MAX_ID)
    group_ids: list[ObjectId] = Field(default_factory=list, max_length=100)
    curator_id: int | None = Field(None, ge=1, le=MAX_ID)
    consents: ConsentsIn | None = None


class ClientPatchIn(Schema):
    """Only the fields sent are changed; send null to clear birthday, source or curator."""

    phone: Text | None = Field(None, min_length=1, max_length=32)
    first_name: Text | None = Field(None, max_length=100)
    last_name: Text | None = Field(None, max_length=100)
    middle_name: Text | None = Field(None, max_length=100)
    code: Text | None = Field(None, max_length=32)
    birthday: dt.date | None = Field(None, ge=MIN_DATE, le=MAX_DATE)
    gender: GenderIn | None = None
    email: Text | None = Field(None, max_length=254)
    notes: Text | None = Field(None, max_length=5000)
    extra_contact: Text | None = Field(None, max_length=200)
    source_id: int | None = Field(None, ge=1, le=MAX_ID)
    group_ids: list[ObjectId] | None = Field(None, max_length=100)
    curator_id: int | None = Field(None, ge=1, le=MAX_ID)
    consents: ConsentsIn | None = None


class ClientListQuery(Schema):
    organization_id: int | None = Field(None, ge=1, le=MAX_ID)
    search: Text = Field("", max_length=100, description="Type-ahead: name words, e-mail, code or phone digits.")
    group_id: int | None = Field(None, ge=1, le=MAX_ID)
    source_id: int | None = Field(None, ge=1, le=MAX_ID)
    curator_id: int | None = Field(None, ge=1, le=MAX_ID)
    birthday_month: int | None = Field(None, ge=1, le=12)
    last_visit_from: dt.date | None = Field(None, ge=MIN_DATE, le=MAX_DATE, description="Inclusive day.")
    last_visit_to: dt.date | None = Field(None, ge=MIN_DATE, le=MAX_DATE, description="Inclusive day.")
    consent_messages: bool | None = None
    consent_marketing: bool | None = None
    consent_personal_data: bool | None = None
    deleted: Literal["exclude", "include", "only"] = Field(
        "exclude", description="include/only need the right to delete clients."
    )
    sort: Text = Field(
        "name",
        max_length=32,
        description="A column, '-' for descending: name, first_name, last_name, middle_name, phone, email, code, "
        "gender, birthday, source, curator, last_visit_at, created_at, updated_at, deleted_at, "
        "consent_messages_at, consent_marketing_at, consent_personal_data_at, id. Empty values sort last.",
    )
    cursor: Text | None = Field(None, max_length=1024)
    limit: int = Field(50, ge=1, le=200)


class PageQuery(Schema):
    cursor: Text | None = Field(None, max_length=1024)
    limit: int = Field(50, ge=1, le=200)


class OrgPageQuery(PageQuery):
    organization_id: int | None = Field(None, ge=1, le=MAX_ID)


class OrgQuery(Schema):
    organization_id: int | None = Field(None, ge=1, le=MAX_ID)


class BulkIn(Schema):
    """Fields left out are not touched; ``source_id``/``curator_id`` sent as null clear them."""

    organization_id: int | None = Field(None, ge=1, le=MAX_ID)
    client_ids: list[ObjectId] = Field(..., min_length=1, max_length=10_000)
    source_id: int | None = Field(None, ge=1, le=MAX_ID)
    curator_id: int | None = Field(None, ge=1, le=MAX_ID)
    add_group_ids: list[ObjectId] = Field(default_factory=list, max_length=100)
    remove_group_ids: list[ObjectId] = Field(default_factory=list, max_length=100)


class MergeIn(Schema):
    duplicate_id: int = Field(..., ge=1, le=MAX_ID, description="The card folded into this one and soft-deleted.")


class BulkOut(Schema):
    changed: int


class NamedIn(Schema):
    organization_id: int | None = Field(None, ge=1, le=MAX_ID)
    name: Text = Field(..., min_length=1, max_length=100)


class SourceOut(Schema):
    id: int
    organization_id: int
    name: str
    is_active: bool


class SourceListOut(Schema):
    items: list[SourceOut]
    next_cursor: str | None = None


class GroupOut(Schema):
    id: int
    organization_id: int
    name: str


class GroupListOut(Schema):
    items: list[GroupOut]
    next_cursor: str | None = None


class VehicleIn(Schema):
    make: Text = Field("", max_length=64)
    model: Text = Field("", max_length=64)
    plate: Text = Field("", max_length=16)
    vin: Text = Field("", max_length=17)
    year: int | None = Field(None, ge=1900, le=2100)


class VehiclePatchIn(Schema):
    make: Text | None = Field(None, max_length=64)
    model: Text | None = Field(None, max_length=64)
    plate: Text | None = Field(None, max_length=16)
    vin: Text | None = Field(None, max_length=17)
    year: int | None = Field(None, ge=1900, le=2100)


class CountsOut(Schema):
    total: int
    active: int
    deleted: int


class ExportQuery(Schema):
    organization_id: int | None = Field(None, ge=1, le=MAX_ID)
    format: Literal["csv", "xlsx"] = "csv"


# --- staff type-ahead -----------------------------------------------------------------------------------------


class ClientSearchQuery(Schema):
    organization_id: int | None = Field(None, ge=1, le=MAX_ID)
    q: Text = Field(..., min_length=1, max_length=100, description="A name, phone digits in any format or a plate.")
    limit: int = Field(20, ge=1, le=50)


class ClientSearchHitOut(Schema):
    id: int
    organization_id: int
    full_name: str
    phone: str
    plates: list[str]
    matched: list[Literal["name", "phone", "plate"]]


class ClientSearchOut(Schema):
    items: list[ClientSearchHitOut]
