"""Import caps benchmark: how fast an oversized or lying XLSX is answered, against reading it as before.

    python benchmarks/import_caps_bench.py [--rows 40000] [--baseline-rows 4000]

The incident behind the caps: a 4.9 MB XLSX of 2 million cells held a request for 44 s. This builds a sheet of the
same shape (50 columns x 40,000 rows, true dimension) and measures:
- ours: ``table_check``, the check ``import_start`` runs before a row is parsed (a 422 ``too_many_cells``);
- baseline: what the request did before the caps, reading every row with openpyxl's read-only reader. It is run on
  the first ``--baseline-rows`` rows only and scaled to the whole sheet (reading is linear in rows), to keep
  ``make bench`` short;
- a sheet whose dimension claims 2 rows but holds 60,000 cells: the cell count that sends it to the task queue.
No database is used.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sheet_xml(columns: int, rows: int, dimension: str | None) -> str:
    head = "".join(f'<c t="inlineStr"><is><t>col{c}</t></is></c>' for c in range(columns))
    row = "<row>" + "<c><v>1</v></c>" * columns + "</row>"
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData><row>{head}</row>{row * (rows - 1)}</sheetData></worksheet>"
    )


def workbook(sheet: str) -> bytes:
    """A real workbook written by openpyxl whose first sheet is replaced by ``sheet``."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["phone"])
    source = io.BytesIO()
    book.save(source)
    out = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in original.infolist():
            data = sheet.encode() if item.filename == "xl/worksheets/sheet1.xml" else original.read(item.filename)
            target.writestr(item.filename, data)
    return out.getvalue()


def read_all_rows(content: bytes) -> int:
    """The pre-cap request: every row of the first sheet through openpyxl's read-only reader."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        return sum(len(row) for row in book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()


def best_of(times: int, fn: object) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--baseline-rows", type=int, default=4_000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings.test")
    import django

    django.setup()
    from backend.imports.services import INLINE_MAX_CELLS
    from backend.imports.tables import TableError, table_check

    columns = 50
    print(f"building a {columns} x {args.rows:,} sheet ({columns * args.rows:,} cells) ...", flush=True)
    bomb = workbook(sheet_xml(columns, args.rows, f"A1:AX{args.rows}"))
    print(f"file: {len(bomb) / 1024 / 1024:.2f} MB")

    def ours() -> None:
        try:
            table_check(bomb, "xlsx")
        except TableError as exc:
            assert exc.code == "too_many_cells", exc.code
        else:
            raise AssertionError("the cap did not refuse the file")

    t_ours = best_of(5, ours)
    print(f"{'ours: refused by table_check (too_many_cells), best of 5':<62} {t_ours:9.3f} s")

    sample = workbook(sheet_xml(columns, args.baseline_rows, f"A1:AX{args.baseline_rows}"))
    print(f"baseline: reading {args.baseline_rows:,} rows with openpyxl, scaled to {args.rows:,} ...", flush=True)
    t_sample = best_of(1, lambda: read_all_rows(sample))
    t_base = t_sample * args.rows / args.baseline_rows
    print(f"{'baseline: read every row (scaled from the sample)':<62} {t_base:9.3f} s")
    print(f"the request is answered {t_base / t_ours:,.0f}x sooner")

    liar = workbook(sheet_xml(12, 5_000, "A1:L2"))
    start = time.perf_counter()
    cells = table_check(liar, "xlsx")
    t_liar = time.perf_counter() - start
    verdict = "queued" if cells is None or cells > INLINE_MAX_CELLS else "inline"
    label = "a sheet claiming A1:L2 that holds 60,000 cells: counted"
    print(f"{label:<62} {t_liar:9.3f} s   {cells or 0:,} cells → {verdict}")


if __name__ == "__main__":
    main()
