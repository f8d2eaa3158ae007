"""Importing clients and services from CSV/XLSX files.

Policy (all-or-nothing per file): every row is validated first; if any row has an error, nothing is written
and the job lists every error as {row, field, message} (a dry run reports the same without writing). Otherwise
the whole file is written in one transaction with bulk inserts/updates and one event per changed row, all
carrying the job's batch id. Re-importing matches clients by phone and services by code, then name, and updates
only what differs; an identical file changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.files.base import File
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.catalog.services import ServiceImportRow, service_bulk_upsert, service_fields_clean
from backend.core.events import export_record
from backend.core.exceptions import ApplicationError, ValidationFailed
from backend.core.phones import phone_normalize
from backend.crm.cleaning import client_fields_clean
from backend.crm.fields import CLIENT_IMPORT_TEXT_COLUMNS
from backend.crm.models import CONSENT_KINDS, Client
from backend.crm.services import ClientImportRow, client_bulk_upsert
from backend.organizations.models import Organization
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_for_action, organization_get

from .columns import CLIENT_COLUMNS, SERVICE_COLUMNS
from .models import ImportFormat, ImportJob, ImportKind, ImportStatus, ImportUpload
from .selectors import EXPORT_CONTENT_TYPES, client_export_rows
from .tables import MAX_FILE_BYTES, TableError, TableErrorCode, table_check, table_read, table_write

logger = logging.getLogger("brigada.imports")

MAX_STORED_ERRORS = 1000

# Headers people actually have in their spreadsheets (Russian CRMs' exports), mapped to our columns.
CLIENT_ALIASES = {
    "телефон": "phone",
    "phone_number": "phone",
    "мобильный": "phone",
    "mobile": "phone",
    "имя": "first_name",
    "фамилия": "last_name",
    "отчество": "middle_name",
    "фио": "full_name",
    "full_name": "full_name",
    "код": "code",
    "код_клиента": "code",
    "номер_карты": "code",
    "card": "code",
    "дата_рождения": "birthday",
    "день_рождения": "birthday",
    "birth_date": "birthday",
    "пол": "gender",
    "e_mail": "email",
    "почта": "email",
    "источник": "source",
    "группы": "groups",
    "группа": "groups",
    "комментарий": "notes",
    "примечание": "notes",
    "comment": "notes",
    "доп_контакт": "extra_contact",
    "согласие_на_рассылку": "consent_messages_at",
    "согласие_на_рекламу": "consent_marketing_at",
    "согласие_на_обработку_пд": "consent_personal_data_at",
    "consent_messages": "consent_messages_at",
    "consent_marketing": "consent_marketing_at",
    "consent_personal_data": "consent_personal_data_at",
}
SERVICE_ALIASES = {
    "артикул": "code",
    "код": "code",
    "article": "code",
    "название": "name",
    "наименование": "name",
    "услуга": "name",
    "service": "name",
    "группа": "group",
    "категория": "group",
    "category": "group",
    "цена": "price",
    "стоимость": "price",
    "длительность": "duration_minutes",
    "duration": "duration_minutes",
    "длительность_мин": "duration_minutes",
    "описание": "description",
    "активна": "is_active",
    "active": "is_active",
}
_YES = {"1", "yes", "y", "true", "да", "д", "+", "иә", "x"}
_NO = {"0", "no", "n", "false", "нет", "н", "-", "жоқ"}
_GENDERS = {
    "female": "female",
    "f": "female",
    "ж": "female",
    "жен": "female",
    "женский": "female",
    "male": "male",
    "m": "male",
    "м": "male",
    "муж": "male",
    "мужской": "male",
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheets turn phones and codes into numbers
    return str(value).strip()


_DMY = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


_D = TypeVar("_D", bound=dt.date)

# The same bounds as the API's dates: far from year 1 and 9999, where converting to UTC overflows.
MIN_YEAR = 1900
MAX_YEAR = 2100


def _bounded(value: _D) -> _D:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year {value.year} outside {MIN_YEAR}..{MAX_YEAR}")
    return value


def _parse_date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return _bounded(value.date())
    if isinstance(value, dt.date):
        return _bounded(value)
    text = _text(value)
    match = _DMY.match(text)
    if match:  # the common case, without strptime's cost
        day, month, year = (int(g) for g in match.groups())
        return _bounded(dt.date(year, month, day))
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%y"):
        try:
            parsed = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        return _bounded(parsed)
    raise ValueError(text)


def _parse_consent(value: Any) -> dt.datetime | bool | None:
    """Blank/no -> not given; yes -> given (keeps an existing timestamp); a date or ISO time -> given then."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        _bounded(value)
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    if isinstance(value, dt.date):
        return timezone.make_aware(dt.datetime.combine(_bounded(value), dt.time.min))
    text = _text(value).lower()
    if not text or text in _NO:
        return None
    if text in _YES:
        return True
    try:
        parsed = dt.datetime.fromisoformat(text.replace("z", "+00:00"))
    except ValueError:
        day = _parse_date(text)
        if day is None:
            raise
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    _bounded(parsed)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def _phone(value: Any, region: str | None) -> str:
    text = _text(value)
    try:
        return phone_normalize(text, default_region=region)
    except ValidationFailed:
        digits = re.sub(r"\D", "", text)
        if digits and not text.startswith("+"):
            return phone_normalize("+" + digits)  # "77011234567" typed without the plus
        raise


def _client_row(
    number: int, record: dict[str, Any], region: str | None, errors: list[dict[str, Any]]
) -> ClientImportRow | None:
    raw: dict[str, Any] = {}
    row_errors: list[dict[str, Any]] = []
    if "full_name" in record:
        parts = _text(record["full_name"]).split()
        for name, part in zip(
            ("last_name", "first_name", "middle_name"), [*parts[:2], " ".join(parts[2:])], strict=False
        ):
            record.setdefault(name, part)
    for name in CLIENT_IMPORT_TEXT_COLUMNS:
        if name in record:
            raw[name] = _text(record[name])
    if "birthday" in record:
        try:
            raw["birthday"] = _parse_date(record["birthday"])
        except ValueError:
            row_errors.append({"row": number, "field": "birthday", "message": _("Use YYYY-MM-DD or DD.MM.YYYY.")})
    if "gender" in record:
        gender = _text(record["gender"]).lower()
        if gender and gender not in _GENDERS:
            row_errors.append({"row": number, "field": "gender", "message": _("Use female, male or leave empty.")})
        else:
            raw["gender"] = _GENDERS.get(gender, "")
    cleaned, field_errors = client_fields_clean(raw, default_region=region)
    row_errors += [{"row": number, "field": k, "message": v} for k, v in field_errors.items()]
    try:
        cleaned["phone"] = _phone(record.get("phone"), region)
    except ValidationFailed:
        row_errors.append({"row": number, "field": "phone", "message": _("Invalid phone number.")})
    for kind in CONSENT_KINDS:
        key = f"consent_{kind}_at"
        if key in record:
            try:
                cleaned[key] = _parse_consent(record[key])
            except ValueError:
                row_errors.append({"row": number, "field": key, "message": _("Use yes/no, a date or an ISO time.")})
    source = _text(record["source"]) if "source" in record else None
    if source and (len(source) > 100 or "\x00" in source):
        row_errors.append({"row": number, "field": "source", "message": _("At most 100 characters.")})
    groups = None
    if "groups" in record:
        groups = sorted({g.strip() for g in _text(record["groups"]).split("|") if g.strip()})
        if any(len(g) > 100 or "\x00" in g for g in groups):
            row_errors.append({"row": number, "field": "groups", "message": _("At most 100 characters a group.")})
    if row_errors:
        errors.extend(row_errors)
        return None
    return ClientImportRow(row=number, fields=cleaned, source_name=source, group_names=groups)


def _service_row(number: int, record: dict[str, Any], errors: list[dict[str, Any]]) -> ServiceImportRow | None:
    raw: dict[str, Any] = {
        k: record[k] for k in ("code", "name", "price", "duration_minutes", "description") if k in record
    }
    raw = {k: _text(v) if k in ("code", "name", "description") else v for k, v in raw.items()}
    if "is_active" in record:
        flag = _text(record["is_active"]).lower()
        if flag not in _YES | _NO | {""}:
            errors.append({"row": number, "field": "is_active", "message": _("Use yes or no.")})
            return None
        raw["is_active"] = flag not in _NO
    cleaned, field_errors = service_fields_clean(raw)
    if field_errors:
        errors.extend({"row": number, "field": k, "message": v} for k, v in field_errors.items())
        return None
    group = _text(record["group"]) if "group" in record else None
    if group and (len(group) > 100 or "\x00" in group):
        errors.append({"row": number, "field": "group", "message": _("At most 100 characters.")})
        return None
    return ServiceImportRow(row=number, fields=cleaned, group_name=group)


def _records(
    header: list[str], rows: list[tuple[int, list[Any]]], aliases: dict[str, str], known: set[str]
) -> list[tuple[int, dict[str, Any]]]:
    keys = [aliases.get(h, h) for h in header]
    out = []
    for number, cells in rows:
        record = {key: cells[i] if i < len(cells) else None for i, key in enumerate(keys) if key in known}
        out.append((number, record))
    return out


def _duplicates(rows: list[Any], key: Callable[[Any], str | None], field: str) -> list[dict[str, Any]]:
    first: dict[str, int] = {}
    errors = []
    for r in rows:
        k = key(r)
        if not k:
            continue
        if k in first:
            errors.append(
                {"row": r.row, "field": field, "message": _("Repeats row %(row)d of the file.") % {"row": first[k]}}
            )
        else:
            first[k] = r.row
    return errors


def _job_finish(
    job: ImportJob,
    *,
    status: str,
    errors: list[dict[str, Any]],
    warnings: list[dict[str, Any]],
    created: int = 0,
    updated: int = 0,
    skipped: int = 0,
) -> ImportJob:
    job.status = status
    job.errors = errors[:MAX_STORED_ERRORS]
    job.warnings = warnings[:MAX_STORED_ERRORS]
    job.error_count = len(errors)
    job.created_count, job.updated_count, job.skipped_count = created, updated, skipped
    job.finished_at = timezone.now()
    job.save()
    return job


PROGRESS_EVERY = 500


def _job_new(
    *, user: Any, organization: Organization, kind: str, fmt: str, file_name: str, dry_run: bool, status: str
) -> ImportJob:
    return ImportJob(
        organization=organization,
        kind=kind,
        file_name="".join(ch for ch in file_name if ch.isprintable())[:255],
        format=fmt,
        dry_run=dry_run,
        started_by=user if getattr(user, "is_authenticated", False) else None,
        status=status,
    )


def _progress(job: ImportJob, **values: int) -> None:
    """Publish progress of a stored (queued) job at once: the worker runs outside a transaction here."""
    for name, value in values.items():
        setattr(job, name, value)
    if job.pk is not None:
        ImportJob.objects.filter(pk=job.pk).update(**values)


def _run(*, user: Any, job: ImportJob, content: bytes) -> ImportJob:
    """Read, check and (unless a dry run or any row is wrong) write the file; ``job`` ends done/checked/failed.

    ``job`` is either new (an inline import: saved here) or a stored queued job (its progress is published).
    """
    stored = job.pk is not None
    organization = job.organization
    kind = job.kind
    errors: list[dict[str, Any]] = []
    try:
        header, table = table_read(content, job.format)
    except TableError as exc:
        job.save()
        return _job_finish(
            job, status=ImportStatus.FAILED, warnings=[], errors=[{"row": 0, "field": "file", "message": exc.message}]
        )
    _progress(job, rows_total=len(table), rows_done=0)
    region = organization.country or None
    rows: list[Any] = []
    if kind == ImportKind.CLIENTS:
        records = _records(header, table, CLIENT_ALIASES, {*CLIENT_COLUMNS, "full_name"})
        required = "phone"
    else:
        records = _records(header, table, SERVICE_ALIASES, set(SERVICE_COLUMNS))
        required = "name"
    for done, (number, record) in enumerate(records, start=1):
        row = (
            _client_row(number, record, region, errors)
            if kind == ImportKind.CLIENTS
            else _service_row(number, record, errors)
        )
        if row is not None:
            rows.append(row)
        if done % PROGRESS_EVERY == 0:
            _progress(job, rows_done=done)
    if kind == ImportKind.CLIENTS:
        errors += _duplicates(rows, lambda r: r.fields.get("phone"), "phone")
    else:
        errors += _duplicates(rows, lambda r: r.fields.get("code"), "code")
    _progress(job, rows_done=len(records))
    if required not in {
        CLIENT_ALIASES.get(h, h) if kind == ImportKind.CLIENTS else SERVICE_ALIASES.get(h, h) for h in header
    }:
        job.save()
        return _job_finish(
            job,
            status=ImportStatus.FAILED,
            warnings=[],
            errors=[
                {
                    "row": 1,
                    "field": required,
                    "message": _("The file has no '%(column)s' column.") % {"column": required},
                }
            ],
        )
    errors.sort(key=lambda e: (e["row"], e["field"]))

    def apply(write: bool) -> tuple[int, int, int, list[dict[str, Any]], list[dict[str, Any]]]:
        if kind == ImportKind.CLIENTS:
            res = client_bulk_upsert(
                user=user, organization_id=organization.pk, rows=rows, batch_id=job.batch_id, dry_run=not write
            )
            return res.created, res.updated, res.skipped, res.errors, res.notes
        sres = service_bulk_upsert(
            user=user, organization_id=organization.pk, rows=rows, batch_id=job.batch_id, dry_run=not write
        )
        return sres.created, sres.updated, sres.skipped, sres.errors, sres.notes

    if job.dry_run or errors:
        created, updated, skipped, more_errors, warnings = apply(False)
        errors = sorted(errors + more_errors, key=lambda e: (e["row"], e["field"]))
        job.save()
        if job.dry_run:
            return _job_finish(
                job,
                status=ImportStatus.CHECKED,
                errors=errors,
                warnings=warnings,
                created=created,
                updated=updated,
                skipped=skipped,
            )
        return _job_finish(job, status=ImportStatus.FAILED, errors=errors, warnings=warnings)
    try:
        with transaction.atomic():
            job.save()
            created, updated, skipped, more_errors, warnings = apply(True)
            if more_errors:
                raise _RowErrors(more_errors)
            return _job_finish(
                job,
                status=ImportStatus.DONE,
                errors=[],
                warnings=warnings,
                created=created,
                updated=updated,
                skipped=skipped,
            )
    except _RowErrors as exc:
        failure = exc.errors
    except (IntegrityError, DatabaseError) as exc:
        # e.g. a client with the same phone was added while the import ran: nothing of the file is kept.
        logger.warning("import rolled back", extra={"job_kind": kind, "error": type(exc).__name__})
        failure = [{"row": 0, "field": "file", "message": _("A concurrent change conflicted; nothing was imported.")}]
    if not stored:
        # The job row was inserted inside the rolled-back transaction: insert it again to keep the history.
        job.pk = None
        job._state.adding = True
    job.save()
    return _job_finish(job, status=ImportStatus.FAILED, errors=failure, warnings=[])


class _RowErrors(ApplicationError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("row errors")
        self.errors = errors


def _check_format(fmt: str) -> str:
    fmt = (fmt or "").lower()
    if fmt not in ImportFormat.values:
        raise ValidationFailed(_("Use csv or xlsx."), fields={"format": [_("Use csv or xlsx.")]})
    return fmt


# The right each kind of import needs: checked once per entry point (the API's ``import_start``, the shell's
# ``clients_import`` / ``services_import``); a queued job is checked again when it runs, by the write services.
IMPORT_RIGHTS: dict[str, Perm] = {ImportKind.CLIENTS: Perm.CLIENT_IMPORT, ImportKind.SERVICES: Perm.CATALOG_CHANGE}


def _import_inline(
    *, user: Any, organization: Organization, kind: str, content: bytes, fmt: str, dry_run: bool, file_name: str
) -> ImportJob:
    """Run an import in the caller's process; the entry point (``import_start`` or ``clients_import`` /
    ``services_import``) has already checked the right, once."""
    job = _job_new(
        user=user,
        organization=organization,
        kind=kind,
        fmt=_check_format(fmt),
        file_name=file_name,
        dry_run=dry_run,
        status=ImportStatus.FAILED,
    )
    return _run(user=user, job=job, content=content)


def clients_import(
    *, user: Any, organization_id: int, content: bytes, fmt: str, dry_run: bool, file_name: str = ""
) -> ImportJob:
    """Import clients from a CSV/XLSX file in this process (the shell's entry point; the API goes through
    ``import_start``): see the module docstring for the policy; always returns the job."""
    organization_access_check(user, organization_id, IMPORT_RIGHTS[ImportKind.CLIENTS])
    organization = Organization.objects.get(pk=organization_id)
    return _import_inline(
        user=user,
        organization=organization,
        kind=ImportKind.CLIENTS,
        content=content,
        fmt=fmt,
        dry_run=dry_run,
        file_name=file_name,
    )


def services_import(
    *, user: Any, organization_id: int, content: bytes, fmt: str, dry_run: bool, file_name: str = ""
) -> ImportJob:
    """Import services (match by code, then name) from a CSV/XLSX file in this process (the shell's entry
    point; the API goes through ``import_start``); always returns the job."""
    organization_access_check(user, organization_id, IMPORT_RIGHTS[ImportKind.SERVICES])
    organization = Organization.objects.get(pk=organization_id)
    return _import_inline(
        user=user,
        organization=organization,
        kind=ImportKind.SERVICES,
        content=content,
        fmt=fmt,
        dry_run=dry_run,
        file_name=file_name,
    )


# --- the upload: one entry point for the API ---------------------------------------------------------------

# Files up to this many cells (about 3,000 rows of 15 columns: a second or two) run inside the request; larger
# ones, and XLSX files that do not declare their size, go to the task queue, so no upload holds a request (and a
# server thread) for long.
INLINE_MAX_CELLS = 50_000


@dataclass(frozen=True)
class ImportStarted:
    job: ImportJob
    queued: bool  # True: the job waits for a worker (poll it); False: it already ran


def import_format_for(file_name: str) -> str:
    """The table format of an uploaded file, from its name (anything but .xlsx/.xlsm is read as CSV)."""
    return ImportFormat.XLSX if (file_name or "").lower().endswith((".xlsx", ".xlsm")) else ImportFormat.CSV


def import_start(
    *,
    user: Any,
    kind: str,
    file: File,
    dry_run: bool,
    organization_id: int | None = None,
) -> ImportStarted:
    """Accept an uploaded file: pick the organization, check the right for the kind, the format, the size (before
    reading the file into memory) and the caps, then run it inline (up to ``INLINE_MAX_CELLS``) or queue it.

    A file over a cap is refused here with a 422 (``file_too_large``, ``too_many_columns``, ``too_many_cells``)
    from what it declares, before a row is parsed; an unreadable file becomes a failed job like any row error.
    """
    if kind not in IMPORT_RIGHTS:
        raise ValidationFailed(_("Use clients or services."), fields={"kind": [_("Use clients or services.")]})
    perm = IMPORT_RIGHTS[kind]
    organization_id = organization_for_action(user=user, organization_id=organization_id, perm=perm)
    # The one check of this upload (404 outside the tenancy, 403 without the right), before the file is read.
    organization_access_check(user, organization_id, perm)
    organization = Organization.objects.get(pk=organization_id)
    file_name = file.name or ""
    fmt = import_format_for(file_name)
    if (file.size or 0) > MAX_FILE_BYTES:
        raise ValidationFailed(
            _("The file is larger than 10 MB."), code=TableErrorCode.FILE_TOO_LARGE, fields={"file": [_("Too large.")]}
        )
    content = file.read()
    cells = table_check(content, fmt)
    if cells is not None and cells <= INLINE_MAX_CELLS:
        job = _import_inline(
            user=user,
            organization=organization,
            kind=kind,
            content=content,
            fmt=fmt,
            dry_run=dry_run,
            file_name=file_name,
        )
        return ImportStarted(job=job, queued=False)
    return ImportStarted(
        job=_job_enqueue(
            user=user,
            organization=organization,
            kind=kind,
            fmt=fmt,
            file_name=file_name,
            content=content,
            dry_run=dry_run,
        ),
        queued=True,
    )


@transaction.atomic
def _job_enqueue(
    *, user: Any, organization: Organization, kind: str, fmt: str, file_name: str, content: bytes, dry_run: bool
) -> ImportJob:
    from .tasks import import_job_run_task  # the task module imports this one

    job = _job_new(
        user=user,
        organization=organization,
        kind=kind,
        fmt=fmt,
        file_name=file_name,
        dry_run=dry_run,
        status=ImportStatus.QUEUED,
    )
    job.save()
    ImportUpload.objects.create(job=job, content=content)
    # In the same transaction as the job row: both exist, or neither.
    import_job_run_task.enqueue(job_id=job.pk)
    return job


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a queued import (the task's body); None when the job has already finished.

    Idempotent: a job re-run after its worker died starts over from its stored file (the write is one transaction,
    so a crash left nothing half-written) and a finished job is left alone. The job runs with the rights its
    starter holds now: one who lost them meanwhile gets a failed job, not a write.
    """
    claimed = ImportJob.objects.filter(pk=job_id, status__in=(ImportStatus.QUEUED, ImportStatus.RUNNING)).update(
        status=ImportStatus.RUNNING, rows_done=0
    )
    if not claimed:
        return None
    job = ImportJob.objects.select_related("organization", "started_by").get(pk=job_id)
    upload = ImportUpload.objects.filter(job_id=job_id).first()
    if upload is None:
        job = _job_finish(
            job,
            status=ImportStatus.FAILED,
            warnings=[],
            errors=[{"row": 0, "field": "file", "message": _("The uploaded file is gone; upload it again.")}],
        )
    else:
        try:
            job = _run(user=job.started_by, job=job, content=bytes(upload.content))
        except ApplicationError as exc:  # e.g. the starter's right was withdrawn while the job waited
            job.refresh_from_db()
            failure = [{"row": 0, "field": "file", "message": exc.message}]
            job = _job_finish(job, status=ImportStatus.FAILED, warnings=[], errors=failure)
    ImportUpload.objects.filter(job_id=job_id).delete()
    return job


# --- export ---------------------------------------------------------------------------------------------------


@transaction.atomic
def clients_export(*, user: Any, organization_id: int, fmt: str) -> tuple[bytes, str, str]:
    """The organization's (not deleted) clients in the import's columns: (content, file name, content type).

    Personal data leaving the system: who exported what is recorded in the event log (on the organization).
    """
    organization = organization_get(user, organization_id, Perm.CLIENT_EXPORT)
    fmt = _check_format(fmt)
    rows = list(client_export_rows(organization_id=organization_id))
    content = table_write(CLIENT_COLUMNS, rows, fmt)
    export_record(model=Client, actor=user, organization_id=organization.pk, row_count=len(rows), file_format=fmt)
    return content, f"clients-{organization_id}.{fmt}", EXPORT_CONTENT_TYPES[fmt]
