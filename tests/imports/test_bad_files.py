"""Files a spreadsheet could produce but we cannot store: a job error (dry run and real run alike), never a 500."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backend.core.models import Event
from backend.crm.models import Client
from backend.imports.models import ImportJob, ImportStatus
from backend.imports.services import clients_import

pytestmark = pytest.mark.django_db


def _xlsx(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_with_broken_sheet() -> bytes:
    """A valid zip whose sheet XML is cut in half: openpyxl's read-only mode fails only while rows are read."""
    source = zipfile.ZipFile(io.BytesIO(_xlsx([["phone", "first_name"], ["+77011234567", "Ann"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            target.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_xlsx_with_a_broken_sheet_is_a_file_error(org, manager, dry_run) -> None:
    job = clients_import(
        user=manager, organization_id=org.id, content=_xlsx_with_broken_sheet(), fmt="xlsx", dry_run=dry_run
    )
    assert job.status == ImportStatus.FAILED
    assert [(e["row"], e["field"]) for e in job.errors] == [(0, "file")]
    assert not Client.objects.exists() and not Event.objects.exists()


@pytest.mark.parametrize("dry_run", ["true", "false"])
def test_the_api_answers_a_broken_xlsx_without_a_server_error(api_client, org, manager, dry_run) -> None:
    upload = SimpleUploadedFile("broken.xlsx", _xlsx_with_broken_sheet())
    response = api_client(manager).post(
        "/api/v1/crm/imports", data={"kind": "clients", "dry_run": dry_run, "file": upload}
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "failed"
    assert not Client.objects.exists()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("consent_messages_at", "01.01.0001"),
        ("consent_marketing_at", "31.12.9999"),
        ("consent_personal_data_at", "1899-12-31"),
        ("consent_messages_at", "0001-01-01T00:00:00+05:00"),
        ("birthday", "01.01.0001"),
        ("birthday", "31.12.1899"),
    ],
)
@pytest.mark.parametrize("dry_run", [True, False])
def test_dates_outside_1900_2100_are_row_errors_in_dry_and_real_runs(org, manager, column, value, dry_run) -> None:
    content = f"phone;{column}\r\n+77011234567;{value}\r\n".encode()

    job = clients_import(user=manager, organization_id=org.id, content=content, fmt="csv", dry_run=dry_run)

    assert job.status == (ImportStatus.CHECKED if dry_run else ImportStatus.FAILED)
    assert [(e["row"], e["field"]) for e in job.errors] == [(2, column)]
    assert not Client.objects.exists() and not Event.objects.exists()


@pytest.mark.parametrize("value", [dt.datetime(1, 1, 1), dt.date(9999, 12, 31)])
def test_xlsx_date_cells_outside_1900_2100_are_row_errors(org, manager, value) -> None:
    content = _xlsx([["phone", "consent_messages_at"], ["+77011234567", value]])

    job = clients_import(user=manager, organization_id=org.id, content=content, fmt="xlsx", dry_run=False)

    assert job.status == ImportStatus.FAILED
    assert [(e["row"], e["field"]) for e in job.errors] == [(2, "consent_messages_at")]
    assert not Client.objects.exists() and not Event.objects.exists()
    assert ImportJob.objects.count() == 1


def test_dates_at_the_bounds_are_accepted(org, manager) -> None:
    content = b"phone;birthday;consent_messages_at\r\n+77011234567;01.01.1900;31.12.2100\r\n"

    job = clients_import(user=manager, organization_id=org.id, content=content, fmt="csv", dry_run=False)

    assert job.status == ImportStatus.DONE, job.errors
    client = Client.objects.get()
    assert client.birthday == dt.date(1900, 1, 1) and client.consent_messages_at.year == 2100
