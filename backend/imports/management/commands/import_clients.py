"""python manage.py import_clients FILE --organization ID --as-phone +7... [--dry-run] [--kind services]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts.models import User
from backend.core.exceptions import ApplicationError
from backend.core.phones import phone_normalize
from backend.imports.services import clients_import, services_import


class Command(BaseCommand):
    help = "Import clients (or services) from a CSV/XLSX file, all-or-nothing, as the given staff user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--organization", type=int, required=True)
        parser.add_argument("--as-phone", required=True, help="the user the import is recorded as (needs the right)")
        parser.add_argument("--kind", choices=["clients", "services"], default="clients")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            user = User.objects.get(phone=phone_normalize(options["as_phone"]), is_active=True)
        except (User.DoesNotExist, ApplicationError) as exc:
            raise CommandError("No active user with that phone.") from exc
        fmt = "xlsx" if path.suffix.lower() in (".xlsx", ".xlsm") else "csv"
        run = clients_import if options["kind"] == "clients" else services_import
        try:
            job = run(
                user=user,
                organization_id=options["organization"],
                content=path.read_bytes(),
                fmt=fmt,
                dry_run=options["dry_run"],
                file_name=path.name,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for error in job.errors:
            self.stderr.write(f"row {error['row']}, {error['field']}: {error['message']}")
        self.stdout.write(
            f"{job.status}: rows={job.rows_total} created={job.created_count} updated={job.updated_count} "
            f"skipped={job.skipped_count} errors={job.error_count} (job {job.pk})"
        )
        if job.status == "failed":
            raise CommandError("Nothing was imported.")
