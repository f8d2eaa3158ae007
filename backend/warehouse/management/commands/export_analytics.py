"""``python manage.py export_analytics --out DIR``: write the Parquet warehouse the notebooks read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backend.warehouse.services import warehouse_export


class Command(BaseCommand):
    help = (
        "Export the database to the analytics warehouse (Parquet files, schema in analytics.schema). Incremental: "
        "only rows changed since the last export into the same folder are read (state in DIR/_export_state.json)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="folder to write <table>.parquet into")
        parser.add_argument("--organization", type=int, action="append", help="limit to these organization ids")
        parser.add_argument("--full", action="store_true", help="export everything again, ignoring the saved state")

    def handle(self, *args: Any, **options: Any) -> None:
        orgs = set(options["organization"]) if options["organization"] else None
        self.stdout.write(f"Exporting the warehouse to {options['out']} ...")
        report = warehouse_export(out=options["out"], organization_ids=orgs, full=options["full"])
        for table, rows in sorted(report.rows.items()):
            how = "full" if table in report.full else f"{report.changed.get(table, 0)} changed"
            self.stdout.write(f"  {table:<15} {rows:>9} rows  ({how})")
        self.stdout.write(self.style.SUCCESS(f"Warehouse written to {report.folder}"))
