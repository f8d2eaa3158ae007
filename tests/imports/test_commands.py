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


@pytest.mark.parametrize("kind", ["clients", "services"])
def test_the_import_command_checks_the_right_before_reading_the_file(tmp_path: Path, org, other_org, kind) -> None:
    from backend.imports.models import ImportJob
    from backend.organizations.models import Role
    from tests.conftest import member

    worker = member(org, Role.WORKER)
    outsider = member(other_org, Role.OWNER)
    unreadable = tmp_path / "broken.xlsx"
    unreadable.write_bytes(b"not a spreadsheet")

    for user in (worker, outsider):
        with pytest.raises(CommandError):
            call_command("import_clients", str(unreadable), organization=org.id, as_phone=user.phone, kind=kind)

    assert not ImportJob.objects.exists()  # not even a failed job in an organization the caller may not import into
