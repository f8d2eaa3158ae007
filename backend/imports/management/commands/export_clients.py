"""python manage.py export_clients --organization ID --as-phone +7... --out FILE.csv|FILE.xlsx"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts.models import User
from backend.core.exceptions import ApplicationError
from backend.core.phones import phone_normalize
from backend.imports.services import clients_export


class Command(BaseCommand):
    help = "Export an organization's clients in the columns the import reads (format from the file suffix)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", type=int, required=True)
        parser.add_argument("--as-phone", required=True, help="the user exporting (needs the export right)")
        parser.add_argument("--out", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        fmt = "xlsx" if out.suffix.lower() == ".xlsx" else "csv"
        try:
            user = User.objects.get(phone=phone_normalize(options["as_phone"]), is_active=True)
            content, _name, _type = clients_export(user=user, organization_id=options["organization"], fmt=fmt)
        except User.DoesNotExist as exc:
            raise CommandError("No active user with that phone.") from exc
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        out.write_bytes(content)
        self.stdout.write(f"wrote {out} ({len(content)} bytes)")
