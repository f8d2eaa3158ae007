"""Reading and writing CSV / XLSX tables: the file format layer of import and export, no business rules."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils.translation import gettext as _

from backend.core.exceptions import ValidationFailed

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class TableError(ValidationFailed):
    """The file as a whole cannot be read (not a row problem)."""


def _header_key(value: Any) -> str:
    text = str(value or "").strip().lower().lstrip("\ufeff")
    for ch in (" ", "-", "."):
        text = text.replace(ch, "_")
    return text


def _decode(content: bytes) -> str:
    # Excel on Russian-locale Windows still saves "CSV" as cp1251; UTF-8 (with or without BOM) is tried first.
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1251")
    except UnicodeDecodeError as exc:
        raise TableError(_("The file is not UTF-8 or Windows-1251 text."), code="invalid_file") from exc


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def unescape_cell(value: Any) -> Any:
    """Undo the export's guard against spreadsheet formulas ("'=..." -> "=...")."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_START:
        return value[1:]
    return value


def table_read(content: bytes, fmt: str) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """Return normalised header keys and (spreadsheet row number, cells) for each non-empty data row."""
    if len(content) > MAX_FILE_BYTES:
        raise TableError(_("The file is larger than 10 MB."), code="file_too_large")
    if fmt == "csv":
        text = _decode(content)
        first_line = text.split("\n", 1)[0]
        reader: Iterable[Sequence[Any]] = csv.reader(
            io.StringIO(text, newline=""), delimiter=_sniff_delimiter(first_line)
        )
        rows_iter = enumerate(reader, start=1)
        return _collect(rows_iter)
    if fmt == "xlsx":
        import openpyxl  # heavy; only imports of spreadsheets need it

        try:
            workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
            raise TableError(_("The file is not a readable XLSX workbook."), code="invalid_file") from exc
        except Exception as exc:  # openpyxl raises its own InvalidFileException and friends
            raise TableError(_("The file is not a readable XLSX workbook."), code="invalid_file") from exc
        try:
            if not workbook.worksheets:
                raise TableError(_("The workbook has no sheets."), code="invalid_file")
            sheet = workbook.worksheets[0]
            # Read-only workbooks parse the sheet lazily: a broken sheet fails here, while the rows are read.
            return _collect(enumerate(sheet.iter_rows(values_only=True), start=1))
        except TableError:
            raise
        except Exception as exc:  # XML, zip, date conversion... errors of every kind from a file we did not write
            raise TableError(_("The file is not a readable XLSX workbook."), code="invalid_file") from exc
        finally:
            workbook.close()
    raise TableError(_("Unknown format."), code="invalid_file")


def _collect(rows_iter: Iterable[tuple[int, Sequence[Any]]]) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    header: list[str] | None = None
    rows: list[tuple[int, list[Any]]] = []
    try:
        for number, cells in rows_iter:
            values = [unescape_cell(c) for c in cells]
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            if header is None:
                header = [_header_key(v) for v in values]
                continue
            if len(rows) >= MAX_ROWS:
                raise TableError(_("At most %(n)d rows per file.") % {"n": MAX_ROWS}, code="too_many_rows")
            rows.append((number, values))
    except csv.Error as exc:
        raise TableError(_("The CSV file is malformed: %(error)s") % {"error": exc}, code="invalid_file") from exc
    if header is None:
        raise TableError(_("The file is empty."), code="invalid_file")
    return header, rows


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value)
    # A cell starting like a formula is an injection risk when the file is opened in a spreadsheet.
    return "'" + text if text.startswith(_FORMULA_START) else text


def table_write(columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> bytes:
    """Write a table: CSV (UTF-8 with BOM, ';' as Excel in ru/kk locales expects) or XLSX."""
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(v) for v in row])
        return buffer.getvalue().encode("utf-8-sig")
    if fmt == "xlsx":
        import openpyxl
        from openpyxl.cell import WriteOnlyCell

        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet("data")
        sheet.append(list(columns))
        for row in rows:
            cells = []
            for value in row:
                if isinstance(value, dt.datetime):
                    value = value.isoformat()  # Excel has no time zones; ISO text round-trips exactly
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, str) and value.startswith("="):
                    cell.data_type = "s"  # text, never a formula
                cells.append(cell)
            sheet.append(cells)
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()
    raise ValueError(fmt)
