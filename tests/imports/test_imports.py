from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backend.catalog.models import Service
from backend.catalog.services import service_create
from backend.core.models import Event, EventAction
from backend.crm.models import Client, ClientGroup, ClientSource
from backend.crm.services import client_create, client_soft_delete
from backend.imports.models import ImportJob, ImportStatus
from backend.imports.selectors import services_export
from backend.imports.services import clients_export, clients_import, services_import
from backend.organizations.models import Role
from tests.conftest import member

pytestmark = pytest.mark.django_db

CSV_SEMICOLON = (
    "\ufeffТелефон;Фамилия;Имя;Дата рождения;Email;Источник;Группы;consent_marketing\r\n"
    "8 701 111 00 01;Ёлкина;Ольга;05.03.1990;OLGA@mail.kz;Instagram;VIP|Постоянные;да\r\n"
    "+77011110002;Иванов;Олег;;;Walk-in;;\r\n"
    "77011110003;Smith;Anna;1985-03-20;anna@example.com;Instagram;VIP;2024-01-02T10:00:00+00:00\r\n"
)


def _snapshot(org) -> list[tuple]:
    return sorted(
        Client.objects.filter(organization=org).values_list(
            "phone",
            "first_name",
            "last_name",
            "birthday",
            "email",
            "source__name",
            "consent_marketing_at",
            "search_text",
            "deleted_at",
        )
    )


def test_csv_with_bom_and_semicolons_imports_and_records_events_with_the_job_batch(org, manager) -> None:
    job = clients_import(
        user=manager,
        organization_id=org.id,
        content=CSV_SEMICOLON.encode("utf-8"),
        fmt="csv",
        dry_run=False,
        file_name="clients.csv",
    )

    assert job.status == ImportStatus.DONE, job.errors
    assert (job.created_count, job.updated_count, job.skipped_count, job.error_count) == (3, 0, 0, 0)
    olga = Client.objects.get(phone="+77011110001")
    assert olga.last_name == "Ёлкина" and olga.birthday == dt.date(1990, 3, 5) and olga.email == "olga@mail.kz"
    assert olga.search_text.startswith("елкина ольга")
    assert sorted(olga.groups.values_list("name", flat=True)) == ["VIP", "Постоянные"]
    assert olga.consent_marketing_at is not None and olga.consent_marketing_how == "import"
    assert Client.objects.get(phone="+77011110003").consent_marketing_at == dt.datetime(2024, 1, 2, 10, tzinfo=dt.UTC)
    assert set(ClientSource.objects.values_list("name", flat=True)) == {"Instagram", "Walk-in"}
    events = Event.objects.filter(batch_id=job.batch_id)
    assert events.filter(entity_type="crm.client", action=EventAction.IMPORT).count() == 3
    assert events.filter(entity_type="crm.clientgroup").count() == 2
    assert set(events.values_list("actor", flat=True)) == {manager.id}


def test_dry_run_reports_per_row_errors_and_writes_nothing(org, manager) -> None:
    content = (
        b"phone,first_name,birthday,email,gender\n"
        b"+77011110001,Ann,1990-01-01,ann@example.com,f\n"
        b"12345,Bob,31.02.1990,bob@,x\n"
        b"+77011110001,Ann again,,,\n"
    )

    job = clients_import(user=manager, organization_id=org.id, content=content, fmt="csv", dry_run=True)

    assert job.status == ImportStatus.CHECKED and job.dry_run
    assert [(e["row"], e["field"]) for e in job.errors] == [
        (3, "birthday"),
        (3, "email"),
        (3, "gender"),
        (3, "phone"),
        (4, "phone"),
    ]
    assert job.created_count == 1  # what a real run would create from the valid rows
    assert not Client.objects.exists() and not Event.objects.exists()
    assert ImportJob.objects.count() == 1


def test_a_real_run_with_any_error_writes_nothing(org, manager) -> None:
    content = b"phone;first_name\n+77011110001;Ann\nnot-a-phone;Bob\n"

    job = clients_import(user=manager, organization_id=org.id, content=content, fmt="csv", dry_run=False)

    assert job.status == ImportStatus.FAILED and job.error_count == 1
    assert job.errors == [{"row": 3, "field": "phone", "message": "Invalid phone number."}]
    assert (job.created_count, job.updated_count) == (0, 0)
    assert not Client.objects.exists() and not Event.objects.exists() and not ClientSource.objects.exists()


def test_reimport_updates_by_phone_instead_of_duplicating(org, manager) -> None:
    existing = client_create(
        user=manager, organization_id=org.id, phone="+77011110002", first_name="Oleg", notes="keep me"
    )
    gone = client_create(user=manager, organization_id=org.id, phone="+77011110003")
    client_soft_delete(user=manager, client_id=gone.id)

    job = clients_import(user=manager, organization_id=org.id, content=CSV_SEMICOLON.encode(), fmt="csv", dry_run=False)

    assert (job.created_count, job.updated_count, job.skipped_count) == (1, 1, 1)
    assert job.warnings[0]["row"] == 4 and "deleted" in job.warnings[0]["message"]
    existing.refresh_from_db()
    assert existing.first_name == "Олег" and existing.last_name == "Иванов" and existing.notes == "keep me"
    [event] = Event.objects.filter(entity_type="crm.client", entity_id=str(existing.id), action=EventAction.IMPORT)
    assert event.before["first_name"] == "Oleg" and event.after["first_name"] == "Олег"
    assert event.after["source"] == ClientSource.objects.get(name="Walk-in").id
    assert Client.objects.count() == 3
    gone.refresh_from_db()
    assert gone.is_deleted and gone.first_name == ""

    again = clients_import(
        user=manager, organization_id=org.id, content=CSV_SEMICOLON.encode(), fmt="csv", dry_run=False
    )
    assert (again.created_count, again.updated_count, again.skipped_count) == (0, 0, 3)
    assert not Event.objects.filter(batch_id=again.batch_id).exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(org, manager, fmt) -> None:
    clients_import(user=manager, organization_id=org.id, content=CSV_SEMICOLON.encode(), fmt="csv", dry_run=False)
    client_create(
        user=manager,
        organization_id=org.id,
        phone="+77011110009",
        first_name="=HYPERLINK(1)",
        notes='-minus; "quoted"\nnew line',
        consents={"messages": {"given": True}},
    )
    before = _snapshot(org)

    content, name, _ = clients_export(user=manager, organization_id=org.id, fmt=fmt)
    events_before = Event.objects.count()  # the export's own event included
    job = clients_import(user=manager, organization_id=org.id, content=content, fmt=fmt, dry_run=False)

    assert name.endswith(f".{fmt}")
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.created_count, job.updated_count, job.skipped_count) == (0, 0, 4)
    assert _snapshot(org) == before and Event.objects.count() == events_before


def test_exported_csv_guards_against_formulas(org, manager) -> None:
    client_create(user=manager, organization_id=org.id, phone="+77011110009", first_name="=cmd()")
    content, _, _ = clients_export(user=manager, organization_id=org.id, fmt="csv")
    text = content.decode("utf-8-sig")
    assert "'=cmd()" in text and "'+77011110009" in text


def test_xlsx_import_reads_numbers_and_dates_from_cells(org, manager) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Phone", "First name", "Birthday", "Groups"])
    sheet.append([77011110001, "Ann", dt.datetime(1990, 3, 5), "VIP"])
    sheet.append([None, None, None, None])
    sheet.append(["+77011110002", "Bob", "05.03.1991", ""])
    buffer = io.BytesIO()
    workbook.save(buffer)

    job = clients_import(user=manager, organization_id=org.id, content=buffer.getvalue(), fmt="xlsx", dry_run=False)

    assert job.status == ImportStatus.DONE, job.errors
    assert job.rows_total == 2
    assert Client.objects.get(phone="+77011110001").birthday == dt.date(1990, 3, 5)
    assert Client.objects.get(phone="+77011110002").birthday == dt.date(1991, 3, 5)
    assert ClientGroup.objects.get().name == "VIP"


@pytest.mark.parametrize(
    ("content", "fmt"),
    [(b"", "csv"), (b"PK\x03\x04garbage", "xlsx"), (b"first_name\nAnn\n", "csv"), (b"\xff\xfe\x00\x81", "csv")],
)
def test_unreadable_files_fail_as_a_job_with_a_file_error(org, manager, content, fmt) -> None:
    job = clients_import(user=manager, organization_id=org.id, content=content, fmt=fmt, dry_run=False)
    assert job.status == ImportStatus.FAILED and job.error_count == 1
    assert not Client.objects.exists()


def test_services_import_matches_by_code_then_name(org, manager) -> None:
    by_code = service_create(user=manager, organization_id=org.id, name="Old name", code="A1", price="100")
    by_name = service_create(user=manager, organization_id=org.id, name="Manicure", price="200")
    content = (
        "Артикул;Название;Категория;Цена;Длительность\n"
        "A1;Haircut;Hair;1 500,00;45\n"
        ";manicure;Nails;250;60\n"
        "B2;Pedicure;Nails;300;90\n"
    ).encode()

    dry = services_import(user=manager, organization_id=org.id, content=content, fmt="csv", dry_run=True)
    assert (dry.created_count, dry.updated_count, dry.status) == (1, 2, ImportStatus.CHECKED)
    assert Service.objects.count() == 2
    job = services_import(user=manager, organization_id=org.id, content=content, fmt="csv", dry_run=False)

    assert job.status == ImportStatus.DONE, job.errors
    by_code.refresh_from_db()
    by_name.refresh_from_db()
    assert (by_code.name, str(by_code.price), by_code.duration_minutes, by_code.group.name) == (
        "Haircut",
        "1500.00",
        45,
        "Hair",
    )
    assert str(by_name.price) == "250.00" and by_name.group.name == "Nails"
    assert Service.objects.get(code="B2").duration_minutes == 90
    assert Event.objects.filter(batch_id=job.batch_id, entity_type="catalog.service").count() == 3
    exported, _, _ = services_export(user=manager, organization_id=org.id, fmt="xlsx")
    again = services_import(user=manager, organization_id=org.id, content=exported, fmt="xlsx", dry_run=False)
    assert (again.created_count, again.updated_count, again.skipped_count) == (0, 0, 3), again.errors


def test_services_import_errors(org, manager) -> None:
    content = b"code,name,price,duration_minutes\nA1,Cut,-5,30\nA2,,10,30\nA3,Ok,10,0\n"
    job = services_import(user=manager, organization_id=org.id, content=content, fmt="csv", dry_run=False)
    assert job.status == ImportStatus.FAILED
    assert [(e["row"], e["field"]) for e in job.errors] == [(2, "price"), (3, "name"), (4, "duration_minutes")]
    assert not Service.objects.exists()


def test_import_api_history_and_export_api(api_client, org, manager) -> None:
    api = api_client(manager)
    upload = SimpleUploadedFile("clients.csv", CSV_SEMICOLON.encode(), content_type="text/csv")

    response = api.post("/api/v1/crm/imports", data={"kind": "clients", "dry_run": "false", "file": upload})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "done" and body["created"] == 3 and body["started_by_id"] == manager.id
    history = api.get("/api/v1/crm/imports").json()
    assert [j["id"] for j in history["items"]] == [body["id"]] and history["items"][0]["file_name"] == "clients.csv"
    exported = api.get("/api/v1/crm/clients/export", {"format": "xlsx"})
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("application/vnd.openxmlformats")
    assert api.get("/api/v1/crm/clients/export", {"format": "pdf"}).status_code == 422


def test_import_api_permissions(api_client, org, other_org, manager) -> None:
    dispatcher = member(org, Role.DISPATCHER)  # may edit clients, may not import or export them
    upload = SimpleUploadedFile("c.csv", b"phone\n+77011110001\n")
    response = api_client(dispatcher).post("/api/v1/crm/imports", data={"kind": "clients", "file": upload})
    assert response.status_code == 403
    assert api_client(dispatcher).get("/api/v1/crm/clients/export").status_code == 403
    upload = SimpleUploadedFile("c.csv", b"phone\n+77011110001\n")
    foreign = api_client(manager).post(
        "/api/v1/crm/imports", data={"kind": "clients", "file": upload, "organization_id": other_org.id}
    )
    assert foreign.status_code == 404
    assert not Client.objects.exists() and not ImportJob.objects.exists()


def test_a_file_name_with_control_characters_is_cleaned(org, manager) -> None:
    job = clients_import(
        user=manager,
        organization_id=org.id,
        content=b"phone\n+77011110001\n",
        fmt="csv",
        dry_run=False,
        file_name="a\x00b\nc.csv",
    )
    assert job.file_name == "abc.csv" and job.status == ImportStatus.DONE


def test_client_codes_taken_by_another_client_or_an_earlier_row_are_row_errors(org, manager) -> None:
    client_create(user=manager, organization_id=org.id, phone="+77011110009", code="CARD-1")
    content = b"phone;code\n+77011110001;CARD-1\n+77011110002;CARD-2\n+77011110003;CARD-2\n+77011110009;CARD-1\n"

    dry = clients_import(user=manager, organization_id=org.id, content=content, fmt="csv", dry_run=True)
    job = clients_import(user=manager, organization_id=org.id, content=content, fmt="csv", dry_run=False)

    assert [(e["row"], e["field"]) for e in dry.errors] == [(2, "code"), (4, "code")]
    assert job.status == ImportStatus.FAILED and job.errors == dry.errors
    assert Client.objects.count() == 1 and not ClientSource.objects.exists()


def test_a_client_export_records_who_exported_what(api_client, org, manager) -> None:
    client_create(user=manager, organization_id=org.id, phone="+77011110001")
    client_create(user=manager, organization_id=org.id, phone="+77011110002")
    events_before = Event.objects.count()

    response = api_client(manager).get("/api/v1/crm/clients/export", {"format": "csv"})

    assert response.status_code == 200
    [event] = Event.objects.filter(action=EventAction.EXPORT)
    assert (event.actor_id, event.organization_id, event.entity_type, event.entity_id) == (
        manager.id,
        org.id,
        "crm.client",
        "*",
    )
    assert event.after == {"rows": 2, "format": "csv", "filters": {}}
    assert Event.objects.count() == events_before + 1


def test_a_refused_export_records_nothing(api_client, org, other_org, manager) -> None:
    dispatcher = member(org, Role.DISPATCHER)
    events_before = Event.objects.count()

    assert api_client(dispatcher).get("/api/v1/crm/clients/export").status_code == 403
    assert api_client(manager).get("/api/v1/crm/clients/export", {"organization_id": other_org.id}).status_code == 404
    assert Event.objects.count() == events_before
