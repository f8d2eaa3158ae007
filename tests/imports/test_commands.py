from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from backend.crm.models import Client

pytestmark = pytest.mark.django_db


def test_export_then_import_commands_round_trip(tmp_path: Path, org, manager, capsys) -> None:
    source = tmp_path / "in.csv"
    source.write_text("phone;first_name\n+77011110001;Ann\n+77011110002;Bob\n", encoding="utf-8")

    call_command("import_clients", str(source), organization=org.id, as_phone=manager.phone)
    out = tmp_path / "out.xlsx"
    call_command("export_clients", organization=org.id, as_phone=manager.phone, out=str(out))
    call_command("import_clients", str(out), organization=org.id, as_phone=manager.phone)

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("done: rows=2 created=2")
    assert lines[-1].startswith("done: rows=2 created=0 updated=0 skipped=2")
    assert Client.objects.count() == 2


def test_import_command_fails_loudly_on_row_errors(tmp_path: Path, org, manager) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("phone\nnope\n", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("import_clients", str(source), organization=org.id, as_phone=manager.phone)
    assert not Client.objects.exists()
