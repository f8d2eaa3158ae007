"""Import API schemas: the upload form and the job with its progress and per-row errors."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from ninja import Schema
from pydantic import Field

from mobile_api.crm.schemas import MAX_ID


class ImportIn(Schema):
    kind: Literal["clients", "services"]
    dry_run: bool = False
    organization_id: int | None = Field(None, ge=1, le=MAX_ID)


class RowErrorOut(Schema):
    row: int
    field: str
    message: str


class ImportJobOut(Schema):
    id: int
    organization_id: int
    kind: str
    file_name: str
    format: str
    dry_run: bool
    status: str = Field(
        ...,
        description="queued | running (a queued job) | done | checked (dry run) | failed (nothing written)",
    )
    batch_id: uuid.UUID = Field(..., description="Stamped on every event the import wrote.")
    started_by_id: int | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    rows_total: int = Field(..., description="Data rows in the file (known once the job has read it).")
    rows_done: int = Field(..., description="Rows read and checked so far; equals rows_total when finished.")
    created: int
    updated: int
    skipped: int
    error_count: int
    errors: list[RowErrorOut]
    warnings: list[RowErrorOut]


class ImportJobListOut(Schema):
    items: list[ImportJobOut]
    next_cursor: str | None
