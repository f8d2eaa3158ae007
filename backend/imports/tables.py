"""Reading and writing CSV / XLSX tables: the file format layer of import and export, no business rules."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext as _

from backend.core.exceptions import ValidationFailed

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
# Work bounds, checked while the file is read (never after building the sheet in memory): a 4.9 MB XLSX of 2
# million cells held a request for 44 s. 100,000 rows of the export's 15 columns fit under the cell cap.
MAX_COLUMNS = 64
MAX_CELLS = 1_600_000
# The most rows an XLSX sheet can hold (Excel's limit).
MAX_SHEET_ROWS = 1_048_576
# An XLSX is a zip: its parts may inflate far beyond the upload limit.
MAX_XLSX_UNPACKED_BYTES = 256 * 1024 * 1024
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class TableError(ValidationFailed):
    """The file as a whole cannot be read (not a row problem)."""


class TableErrorCode(StrEnum):
    INVALID_FILE = "invalid_file"
    FILE_TOO_LARGE = "file_too_large"
    TOO_MANY_ROWS = "too_many_rows"
    TOO_MANY_COLUMNS = "too_many_columns"
    TOO_MANY_CELLS = "too_many_cells"


def _too_many_columns() -> TableError:
    return TableError(
        _("At most %(n)d columns per file.") % {"n": MAX_COLUMNS},
        code=TableErrorCode.TOO_MANY_COLUMNS,
        fields={"file": [_("Too many columns.")]},
    )


def _too_many_cells() -> TableError:
    return TableError(
        _("At most %(n)d cells per file.") % {"n": MAX_CELLS},
        code=TableErrorCode.TOO_MANY_CELLS,
        fields={"file": [_("Too many cells.")]},
    )


def table_check(content: bytes, fmt: str) -> int | None:
    """Refuse a file over the caps from what it declares, before a single row is parsed; return its size in cells
    (an upper bound), 0 for a file that cannot be read at all, None when an XLSX does not declare its size.

    CSV: the header's width, and separators plus line breaks (an upper bound of the cells). XLSX: the unpacked
    size of its parts and the first sheet's declared dimension (openpyxl's read-only mode pads every row to it,
    so a lying dimension alone is a cell bomb). A file without a dimension is still capped while it is read.
    A file that cannot be read at all passes: reading it reports that, as the job's file error.
    """
    try:
        return _caps_check(content, fmt)
    except TableError as exc:
        if exc.code != TableErrorCode.INVALID_FILE:
            raise
        return 0


def _size_check(content: bytes) -> None:
    if len(content) > MAX_FILE_BYTES:
        raise TableError(
            _("The file is larger than 10 MB."), code=TableErrorCode.FILE_TOO_LARGE, fields={"file": [_("Too large.")]}
        )


def _caps_check(content: bytes, fmt: str) -> int | None:
    _size_check(content)
    if fmt == "csv":
        text = _decode(content)
        first_line = text.split("\n", 1)[0]
        delimiter = _sniff_delimiter(first_line)
        if first_line.count(delimiter) + 1 > MAX_COLUMNS:
            raise _too_many_columns()
        cells = text.count(delimiter) + text.count("\n") + 1
        if cells > MAX_CELLS:
            raise _too_many_cells()
        return cells
    if fmt == "xlsx":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                unpacked = sum(item.file_size for item in archive.infolist())
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise TableError(_("The file is not a readable XLSX workbook."), code=TableErrorCode.INVALID_FILE) from exc
        if unpacked > MAX_XLSX_UNPACKED_BYTES:
            raise _too_many_cells()
        workbook = _workbook_open(content)
        try:
            if not workbook.worksheets:
                raise TableError(_("The workbook has no sheets."), code=TableErrorCode.INVALID_FILE)
            sheet = workbook.worksheets[0]
            declared = _dimension_check(sheet)
            if declared is None:
                return None
            # A dimension may also claim less than the sheet holds: count the cell elements themselves, so a small
            # claim cannot take a large sheet past the inline limit into a request.
            counted = _cell_elements(content, getattr(sheet, "_worksheet_path", ""))
            if counted > MAX_CELLS:
                raise _too_many_cells()
            return max(declared, counted)
        finally:
            workbook.close()
    raise TableError(_("Unknown format."), code=TableErrorCode.INVALID_FILE)


# A cell element, with or without a namespace prefix (<c r="A1">, <c/>, <x:c>): not <col>, <cfRule>, ...
_CELL_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")


def _cell_elements(content: bytes, member: str) -> int:
    """How many cell elements a sheet's XML holds, streamed in 1 MB pieces (its unpacked size is capped already).

    Every match starts at a ``<``, and text cannot hold a bare ``<``: cutting each piece at its last ``<`` never
    splits a match, and the rest is carried into the next piece.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive, archive.open(member) as stream:
            count, carry = 0, b""
            while chunk := stream.read(1 << 20):
                buffer = carry + chunk
                cut = buffer.rfind(b"<")
                if cut == -1:
                    carry = b""
                    continue
                count += len(_CELL_ELEMENT.findall(buffer, 0, cut))
                carry = buffer[cut:]
            return count + len(_CELL_ELEMENT.findall(carry))
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise TableError(_("The file is not a readable XLSX workbook."), code=TableErrorCode.INVALID_FILE) from exc


def _workbook_open(content: bytes) -> Any:
    import openpyxl  # heavy; only imports of spreadsheets need it

    try:
        return openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # zip, XML, KeyError, openpyxl's InvalidFileException... from a file we did not write
        raise TableError(_("The file is not a readable XLSX workbook."), code=TableErrorCode.INVALID_FILE) from exc


def _dimension_check(sheet: Any) -> int | None:
    try:
        columns, rows = sheet.max_column, sheet.max_row  # from the sheet's <dimension>, read before any row
    except Exception as exc:
        raise TableError(_("The file is not a readable XLSX workbook."), code=TableErrorCode.INVALID_FILE) from exc
    if columns is not None and columns > MAX_COLUMNS:
        raise _too_many_columns()
    if columns is None or rows is None:
        return None
    if columns * rows > MAX_CELLS:
        raise _too_many_cells()
    return int(columns * rows)


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
        raise TableError(_("The file is not UTF-8 or Windows-1251 text."), code=TableErrorCode.INVALID_FILE) from exc


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
    _size_check(content)
    if fmt == "csv":
        text = _decode(content)
        first_line = text.split("\n", 1)[0]
        reader: Iterable[Sequence[Any]] = csv.reader(
            io.StringIO(text, newline=""), delimiter=_sniff_delimiter(first_line)
        )
        rows_iter = enumerate(reader, start=1)
        return _collect(rows_iter)
    if fmt == "xlsx":
        workbook = _workbook_open(content)
        try:
            if not workbook.worksheets:
                raise TableError(_("The workbook has no sheets."), code=TableErrorCode.INVALID_FILE)
            sheet = workbook.worksheets[0]
            _dimension_check(sheet)
            # The declared dimension has served its purpose (an early refusal). Read-only mode would also stop at its
            # last row, silently dropping every row a wrong (too small) dimension leaves out: read what is there,
            # capped by _collect instead.
            sheet.reset_dimensions()
            # Read-only workbooks parse the sheet lazily: a broken sheet fails here, while the rows are read.
            return _collect(_sheet_rows(sheet))
        except TableError:
            raise
        except Exception as exc:  # XML, zip, date conversion... errors of every kind from a file we did not write
            raise TableError(_("The file is not a readable XLSX workbook."), code=TableErrorCode.INVALID_FILE) from exc
        finally:
            workbook.close()
    raise TableError(_("Unknown format."), code=TableErrorCode.INVALID_FILE)


def _sheet_rows(sheet: Any) -> Iterator[tuple[int, Sequence[Any]]]:
    """(row number, values) of an XLSX sheet. A sheet may skip row numbers (openpyxl yields an empty row for each
    gap): past the most rows a spreadsheet holds the file is not one, and its gap is not walked row by row."""
    for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > MAX_SHEET_ROWS:
            raise TableError(_("The file is not a readable XLSX workbook."), code=TableErrorCode.INVALID_FILE)
        yield number, cells


def _collect(rows_iter: Iterable[tuple[int, Sequence[Any]]]) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    header: list[str] | None = None
    rows: list[tuple[int, list[Any]]] = []
    cells_read = 0
    try:
        for number, cells in rows_iter:
            # Counted before anything is kept, so a file without a (true) dimension stops at the cap.
            cells_read += len(cells)
            if cells_read > MAX_CELLS:
                raise _too_many_cells()
            values = [unescape_cell(c) for c in cells]
            while values and (values[-1] is None or values[-1] == ""):
                values.pop()
            if len(values) > MAX_COLUMNS:
                raise _too_many_columns()
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            if header is None:
                header = [_header_key(v) for v in values]
                continue
            if len(rows) >= MAX_ROWS:
                raise TableError(_("At most %(n)d rows per file.") % {"n": MAX_ROWS}, code=TableErrorCode.TOO_MANY_ROWS)
            rows.append((number, values))
    except csv.Error as exc:
        raise TableError(
            _("The CSV file is malformed: %(error)s") % {"error": exc}, code=TableErrorCode.INVALID_FILE
        ) from exc
    if header is None:
        raise TableError(_("The file is empty."), code=TableErrorCode.INVALID_FILE)
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
