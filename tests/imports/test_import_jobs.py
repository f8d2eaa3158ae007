"""Imports cannot tie up a server: caps read before the sheet, large files on the task queue (202 + job), the job's
progress and per-row errors, dry run and real run, tenancy of the job."""

from __future__ import annotations

import io
import re
import time
import zipfile
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django_tasks_db.models import DBTaskResult

from backend.core.models import Event
from backend.crm.models import Client
from backend.imports import tables
from backend.imports.models import ImportJob, ImportStatus, ImportUpload
from backend.imports.services import INLINE_MAX_CELLS, clients_import, import_job_run
from backend.organizations.models import Role
from tests.conftest import ApiClient, member

COLUMNS = "phone;last_name;first_name;middle_name;code;birthday;gender;email;source;groups;notes;extra_contact"


def _csv(rows: int, *, bad_rows: tuple[int, ...] = ()) -> bytes:
    """``rows`` clients in 12 columns; the data rows numbered in ``bad_rows`` (1-based) carry an invalid phone."""
    lines = [COLUMNS]
    for i in range(1, rows + 1):
        phone = "not-a-phone" if i in bad_rows else f"+7701{i:07d}"
        lines.append(f"{phone};Last{i};First{i};;C{i};01.02.1990;f;c{i}@example.com;Walk-in;VIP;note;")
    return ("\n".join(lines) + "\n").encode()


def _xlsx_sheet(sheet_xml: str) -> bytes:
    """A real workbook (written by openpyxl) whose first sheet is replaced by ``sheet_xml``."""
    workbook = openpyxl.Workbook()
    workbook.active.append(["phone"])
    source = io.BytesIO()
    workbook.save(source)
    out = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = sheet_xml.encode()
            target.writestr(item.filename, data)
    return out.getvalue()


def _sheet(columns: int, rows: int, *, dimension: str | None) -> str:
    """Rows of numeric cells without coordinates (the reader counts them), built by repetition: instant."""
    head = "".join(f'<c t="inlineStr"><is><t>{"phone" if c == 0 else f"col{c}"}</t></is></c>' for c in range(columns))
    row = "<row>" + "<c><v>1</v></c>" * columns + "</row>"
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData><row>{head}</row>{row * (rows - 1)}</sheetData></worksheet>"
    )


def _upload(api: ApiClient, name: str, content: bytes, **form: Any) -> Any:
    return api.post("/api/v1/crm/imports", data={"kind": "clients", **form, "file": SimpleUploadedFile(name, content)})


# --- caps ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_xlsx_of_two_million_cells_is_refused_at_once_without_reading_its_rows(org, manager) -> None:
    # given the incident's shape: 2,000,000 cells (50 columns x 40,000 rows) with its true dimension
    content = _xlsx_sheet(_sheet(50, 40_000, dimension="A1:AX40000"))
    # when it is uploaded
    started = time.perf_counter()
    response = _upload(ApiClient(manager), "big.xlsx", content)
    elapsed = time.perf_counter() - started
    # then it is a 422 too_many_cells within a fraction of the 44 s it used to hold the request; nothing stored
    assert response.status_code == 422, response.content[:300]
    assert response.json()["error"]["code"] == "too_many_cells"
    assert elapsed < 3.0, f"took {elapsed:.1f} s"
    assert not ImportJob.objects.exists() and not DBTaskResult.objects.exists() and not Client.objects.exists()


@pytest.mark.django_db
def test_a_file_over_10_mb_is_refused_before_it_is_read(org, manager) -> None:
    content = b"phone\n" + b"+77011110001\n" * 900_000  # 11.7 MB

    response = _upload(ApiClient(manager), "huge.csv", content)

    assert (response.status_code, response.json()["error"]["code"]) == (422, "file_too_large")
    assert response.json()["error"]["fields"] == {"file": ["Too large."]}
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_a_lying_dimension_is_refused_before_openpyxl_pads_rows_to_it(org, manager) -> None:
    # A tiny sheet that declares the whole grid: read-only openpyxl would yield 1,048,576 rows of 16,384 cells.
    content = _xlsx_sheet(_sheet(2, 2, dimension="A1:XFD1048576"))

    response = _upload(ApiClient(manager), "bomb.xlsx", content)

    assert (response.status_code, response.json()["error"]["code"]) == (422, "too_many_columns")
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_a_csv_wider_than_the_column_cap_is_refused(org, manager) -> None:
    header = ";".join(["phone", *(f"c{i}" for i in range(tables.MAX_COLUMNS))])

    response = _upload(ApiClient(manager), "wide.csv", f"{header}\n+77011110001\n".encode())

    assert (response.status_code, response.json()["error"]["code"]) == (422, "too_many_columns")
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_a_csv_over_the_cell_cap_is_refused(monkeypatch, org, manager) -> None:
    monkeypatch.setattr(tables, "MAX_CELLS", 1_000)

    response = _upload(ApiClient(manager), "many.csv", _csv(100))  # 101 lines of 12 cells

    assert (response.status_code, response.json()["error"]["code"]) == (422, "too_many_cells")
    assert not ImportJob.objects.exists() and not Client.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_sheet_without_a_dimension_stops_at_the_cell_cap_while_it_is_read(monkeypatch, org, manager, dry_run) -> None:
    monkeypatch.setattr(tables, "MAX_CELLS", 1_000)
    content = _xlsx_sheet(_sheet(10, 500, dimension=None))  # 5,000 cells, size not declared

    job = clients_import(user=manager, organization_id=org.id, content=content, fmt="xlsx", dry_run=dry_run)

    assert job.status == ImportStatus.FAILED
    assert job.errors == [{"row": 0, "field": "file", "message": "At most 1000 cells per file."}]
    assert not Client.objects.exists() and not Event.objects.exists()


# --- inline or queued ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_small_file_still_runs_inside_the_request(org, manager) -> None:
    response = _upload(ApiClient(manager), "small.csv", _csv(10))

    assert response.status_code == 201, response.content[:300]
    assert response.json()["status"] == "done" and response.json()["rows_done"] == 10
    assert not DBTaskResult.objects.exists() and Client.objects.count() == 10


class _JobUpdates:
    """Records the progress the worker publishes (UPDATEs of the job row), as the database receives them."""

    def __init__(self) -> None:
        self.rows_done: list[int] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith('UPDATE "imports_importjob"') and '"rows_done"' in sql and params:
            done = re.search(r'"rows_done" = %s', sql)
            if done:
                self.rows_done.append(int(params[sql[: done.start()].count("%s")]))
        return execute(sql, params, many, context)


def _run_the_queue() -> _JobUpdates:
    updates = _JobUpdates()
    with connection.execute_wrapper(updates):
        # django-tasks-db's worker loop, the one `run_worker` supervises, for one batch: it claims the task row and
        # runs the import. (Without run_worker's housekeeping thread: on the in-memory SQLite test database its
        # concurrent writes fail the task with "database table is locked", which a file database in WAL mode waits out.)
        call_command(
            "db_worker", "--batch", "--queue-name", "default", "--no-startup-delay", "--worker-id", "imports-test"
        )
    return updates


@pytest.mark.django_db(transaction=True)
def test_a_large_file_is_queued_202_then_the_worker_imports_it_with_progress(org, manager) -> None:
    api = ApiClient(manager)
    rows = 5_000
    content = _csv(rows)
    assert content.count(b";") + content.count(b"\n") > INLINE_MAX_CELLS

    # when it is uploaded: 202, the job queued, its URL in Location, nothing imported yet
    response = _upload(api, "large.csv", content)
    assert response.status_code == 202, response.content[:300]
    job = response.json()
    assert response["Location"] == f"/api/v1/crm/imports/{job['id']}"
    assert (job["status"], job["rows_done"], job["rows_total"]) == ("queued", 0, 0)
    assert api.get(response["Location"]).json()["status"] == "queued"
    assert not Client.objects.exists() and ImportUpload.objects.count() == 1

    # and a worker runs the queue
    updates = _run_the_queue()

    # then the job is done, every row imported, progress published on the way, the stored file dropped
    final = api.get(response["Location"]).json()
    assert (final["status"], final["rows_done"], final["rows_total"], final["created"]) == ("done", rows, rows, rows)
    assert Client.objects.filter(organization=org).count() == rows
    assert Event.objects.filter(batch_id=final["batch_id"], entity_type="crm.client").count() == rows
    assert updates.rows_done == sorted(updates.rows_done) and len(set(updates.rows_done)) >= 5
    assert [d for d in updates.rows_done if 0 < d < rows][:3] == [500, 1000, 1500] and updates.rows_done[-1] == rows
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert not ImportUpload.objects.exists()
    assert api.get("/api/v1/crm/imports").json()["items"][0]["id"] == job["id"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_queued_file_reports_per_row_errors_and_writes_nothing(org, manager, dry_run) -> None:
    api = ApiClient(manager)

    response = _upload(api, "large.csv", _csv(5_000, bad_rows=(7, 4_999)), dry_run=str(dry_run).lower())
    assert response.status_code == 202, response.content[:300]
    _run_the_queue()

    final = api.get(response["Location"]).json()
    assert final["status"] == ("checked" if dry_run else "failed")
    assert final["dry_run"] is dry_run
    # spreadsheet rows: the header is row 1
    assert [(e["row"], e["field"]) for e in final["errors"]] == [(8, "phone"), (5_000, "phone")]
    assert final["rows_done"] == final["rows_total"] == 5_000
    if dry_run:
        assert final["created"] == 4_998  # what a real run would create from the valid rows
    assert not Client.objects.exists() and not Event.objects.filter(entity_type="crm.client").exists()


@pytest.mark.django_db(transaction=True)
def test_a_finished_job_is_not_run_again(org, manager) -> None:
    response = _upload(ApiClient(manager), "large.csv", _csv(5_000))
    job_id = response.json()["id"]
    _run_the_queue()

    again = import_job_run(job_id=job_id)

    assert again is None
    assert Client.objects.count() == 5_000 and ImportJob.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_starter_who_lost_the_right_while_queued_gets_a_failed_job(org) -> None:
    manager = member(org, Role.MANAGER)
    response = _upload(ApiClient(manager), "large.csv", _csv(5_000))
    manager.memberships.update(role=Role.WORKER)

    _run_the_queue()

    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.status == ImportStatus.FAILED and [e["field"] for e in job.errors] == ["file"]
    assert not Client.objects.exists()


# --- the job belongs to its organization ---------------------------------------------------------------------


@pytest.mark.django_db
def test_another_tenants_job_is_a_404_and_a_role_without_the_right_a_403(org, other_org, manager) -> None:
    response = _upload(ApiClient(manager), "large.csv", _csv(5_000))
    assert response.status_code == 202
    url = response["Location"]

    stranger = ApiClient(member(other_org, Role.OWNER)).get(url)
    worker = ApiClient(member(org, Role.WORKER)).get(url)

    assert (stranger.status_code, stranger.json()["error"]["code"]) == (404, "not_found")
    assert (worker.status_code, worker.json()["error"]["code"]) == (403, "forbidden")
    assert ApiClient(manager).get("/api/v1/crm/imports/999999999").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_dimension_smaller_than_the_sheet_drops_no_row(org, manager, dry_run) -> None:
    # given a sheet that declares 2 rows but holds a header and 30 clients (openpyxl would stop at the declared end)
    rows = "".join(f'<row><c t="inlineStr"><is><t>+7701{i:07d}</t></is></c></row>' for i in range(1, 31))
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<dimension ref="A1:A2"/><sheetData><row><c t="inlineStr"><is><t>phone</t></is></c></row>'
        f"{rows}</sheetData></worksheet>"
    )

    job = clients_import(user=manager, organization_id=org.id, content=_xlsx_sheet(sheet), fmt="xlsx", dry_run=dry_run)

    assert job.status in (ImportStatus.DONE, ImportStatus.CHECKED), job.errors
    assert job.rows_total == 30
    assert Client.objects.count() == (0 if dry_run else 30)


@pytest.mark.django_db
def test_a_sheet_that_jumps_past_the_last_possible_row_is_not_a_workbook(org, manager) -> None:
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c t="inlineStr"><is><t>phone</t></is></c></row>'
        '<row r="2000000"><c t="inlineStr"><is><t>+77010000001</t></is></c></row></sheetData></worksheet>'
    )

    job = clients_import(user=manager, organization_id=org.id, content=_xlsx_sheet(sheet), fmt="xlsx", dry_run=False)

    assert job.status == ImportStatus.FAILED
    assert job.errors[0]["field"] == "file" and not Client.objects.exists()


@pytest.mark.django_db
def test_a_dimension_that_claims_a_small_sheet_cannot_run_a_large_one_inside_the_request(org, manager) -> None:
    # given a sheet that claims 2 rows of 12 columns but holds 5,000 rows of them (60,000 cells)
    content = _xlsx_sheet(_sheet(12, 5_000, dimension="A1:L2"))
    assert tables.table_check(content, "xlsx") == 60_000 > INLINE_MAX_CELLS

    response = _upload(ApiClient(manager), "liar.xlsx", content)

    assert response.status_code == 202, response.content[:300]
    assert ImportJob.objects.get().status == ImportStatus.QUEUED and not Client.objects.exists()


def test_cell_elements_are_counted_with_any_prefix_and_across_pieces(monkeypatch) -> None:
    sheet = '<x:worksheet xmlns:x="s"><x:sheetData>' + '<x:row><x:c r="A1"><x:v>1</x:v></x:c><c/></x:row>' * 3000
    content = _xlsx_sheet(sheet + '<x:col min="1"/></x:sheetData></x:worksheet>')

    assert tables._cell_elements(content, "xl/worksheets/sheet1.xml") == 6000
