"""Imports API (under /api/v1/crm/imports): upload a CSV/XLSX file, follow its job, read the history.
Pure mapping: the imports service owns the format, size, caps, rights and the inline-or-queued choice."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import File, Form, Path, Query, Router, Status
from ninja.files import UploadedFile

from backend.imports.models import ImportJob
from backend.imports.selectors import import_job_get, import_job_page
from backend.imports.services import INLINE_MAX_CELLS, import_start
from backend.imports.tables import MAX_CELLS, MAX_COLUMNS, MAX_ROWS
from mobile_api.crm.schemas import MAX_ID, OrgPageQuery
from mobile_api.errors import OBJECT_ERROR_RESPONSES, ErrorEnvelope

from .schemas import ImportIn, ImportJobListOut, ImportJobOut

router = Router(tags=["imports"])

READ = OBJECT_ERROR_RESPONSES
WRITE = {**OBJECT_ERROR_RESPONSES, 409: ErrorEnvelope}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def job_out(j: ImportJob) -> ImportJobOut:
    return ImportJobOut(
        id=j.pk,
        organization_id=j.organization_id,
        kind=j.kind,
        file_name=j.file_name,
        format=j.format,
        dry_run=j.dry_run,
        status=j.status,
        batch_id=j.batch_id,
        started_by_id=j.started_by_id,
        started_at=j.started_at,
        finished_at=j.finished_at,
        rows_total=j.rows_total,
        rows_done=j.rows_done,
        created=j.created_count,
        updated=j.updated_count,
        skipped=j.skipped_count,
        error_count=j.error_count,
        errors=j.errors,
        warnings=j.warnings,
    )


@router.post(
    "",
    response={201: ImportJobOut, 202: ImportJobOut, **WRITE},
    summary="Import clients or services from CSV / XLSX",
    description=f"Multipart: `file` (.csv, or .xlsx/.xlsm, at most 10 MB), `kind` (clients|services), `dry_run`. "
    f"A file over a cap is refused at once with a 422: `file_too_large`, `too_many_columns` (more than "
    f"{MAX_COLUMNS}) or `too_many_cells` (more than {MAX_CELLS:,}); more than {MAX_ROWS:,} rows fail the job. "
    f"**Small files** (up to {INLINE_MAX_CELLS:,} cells, e.g. 3,000 rows of 15 columns) run inside the request: "
    "201 with the finished job. **Larger files** (and XLSX files that do not declare their size) run on the task "
    "queue: 202 with the job in status `queued` and its URL in `Location`; "
    "poll `GET /crm/imports/{job_id}` for `status`, `rows_done` / `rows_total` and the per-row errors. Either "
    "way the job ends `checked` (dry run: per-row errors, nothing written), `done`, or `failed` (some row had "
    "an error, so nothing was written: the file is imported all-or-nothing). Re-importing updates matched "
    "clients (by phone) and services (by code, then name) instead of duplicating them.",
    openapi_extra={
        "responses": {
            202: {
                "description": "Queued; follow the job at `Location`.",
                "headers": {"Location": {"schema": {"type": "string"}, "description": "The job's URL."}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ImportJobOut"}}},
            }
        }
    },
)
def import_create(
    request: HttpRequest, response: HttpResponse, payload: Form[ImportIn], file: File[UploadedFile]
) -> Status[ImportJobOut]:
    started = import_start(
        user=_user(request),
        organization_id=payload.organization_id,
        kind=payload.kind,
        file=file,
        dry_run=payload.dry_run,
    )
    if not started.queued:
        return Status(201, job_out(started.job))
    response["Location"] = reverse("api-v1:import_job", kwargs={"job_id": started.job.pk})
    return Status(202, job_out(started.job))


@router.get(
    "/{job_id}",
    response={200: ImportJobOut, **READ},
    summary="One import job",
    url_name="import_job",
    description="Status, progress (`rows_done` of `rows_total`) and per-row errors of an import. Another "
    "organization's job is a 404.",
)
def import_get(request: HttpRequest, job_id: int = Path(..., ge=1, le=MAX_ID)) -> ImportJobOut:
    return job_out(import_job_get(user=_user(request), job_id=job_id))


@router.get(
    "",
    response={200: ImportJobListOut, **READ},
    summary="Import history",
    description="Who imported what and when, with counts and errors; newest first.",
)
def import_list(request: HttpRequest, query: Query[OrgPageQuery]) -> ImportJobListOut:
    page = import_job_page(
        user=_user(request), organization_id=query.organization_id, cursor=query.cursor, limit=query.limit
    )
    return ImportJobListOut(items=[job_out(j) for j in page.items], next_cursor=page.next_cursor)
