"""Client import benchmark: 10,000 clients from CSV, against naive row-by-row baselines in the same run.

    python benchmarks/import_bench.py [--rows 10000] [--skip-service-baseline]

Runs on a fresh SQLite file in a temporary directory (WAL, as in production's embedded default). With
DATABASE_URL set it runs on PostgreSQL in a throw-away test database instead. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST = ["Анна", "Ольга", "Пётр", "Иван", "Айгерим", "Нурлан", "Maria", "John", "Елена", "Дмитрий"]
LAST = ["Иванова", "Смирнов", "Ёлкина", "Ахметов", "Ким", "Smith", "Петрова", "Сидоров", "Жумабаев", "Lee"]
SOURCES = ["Instagram", "2GIS", "Рекомендация", "Walk-in", "Сайт"]
GROUPS = ["VIP", "Постоянные", "Опт"]


def make_csv(rows: int, *, seed: int, variant: int = 0) -> bytes:
    """A realistic file: Cyrillic names, ';' delimiter, BOM, dates in DD.MM.YYYY, some consents and groups."""
    rnd = random.Random(seed)
    lines = ["Телефон;Фамилия;Имя;Дата рождения;Email;Источник;Группы;consent_marketing;Комментарий"]
    for i in range(rows):
        phone = f"+7701{i:07d}"
        first = rnd.choice(FIRST) + ("" if variant == 0 or i % 2 else "а")  # variant 1 changes half the names
        last = rnd.choice(LAST)
        birthday = f"{rnd.randint(1, 28):02d}.{rnd.randint(1, 12):02d}.{rnd.randint(1950, 2010)}"
        email = f"client{i}@example.com" if i % 3 else ""
        groups = "|".join(sorted(rnd.sample(GROUPS, rnd.randint(0, 2))))
        consent = "да" if i % 4 == 0 else ""
        lines.append(f"{phone};{last};{first};{birthday};{email};{rnd.choice(SOURCES)};{groups};{consent};note {i}")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def timed(label: str, fn: Any, rows: int) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<58} {seconds:8.2f} s   {rows / seconds:9.0f} rows/s")
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--skip-service-baseline", action="store_true", help="skip the slowest baseline")
    parser.add_argument(
        "--service-baseline-rows",
        type=int,
        default=2_000,
        help="rows for the client_create()-per-row baseline (slow: compared by rows/s)",
    )
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="brigada-bench-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.config.settings.test"
    os.environ.setdefault("BRIGADA_VAR_DIR", tmp.name)
    os.environ.setdefault("BRIGADA_TEST_DB_NAME", "brigada_import_bench")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    test_db = None
    if settings.IS_POSTGRES:
        test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    else:
        call_command("migrate", verbosity=0)
    try:
        run(args, transaction)
    finally:
        if test_db is not None:
            connection.creation.destroy_test_db(test_db, verbosity=0)
        tmp.cleanup()


def run(args: argparse.Namespace, transaction: Any) -> None:
    from backend.accounts.models import User
    from backend.core.events import event_record
    from backend.core.models import Event, EventAction
    from backend.core.phones import phone_normalize
    from backend.crm.models import Client
    from backend.crm.services import client_create
    from backend.imports.services import clients_import
    from backend.imports.tables import table_read
    from backend.organizations.models import Membership, Organization, Role

    n = args.rows
    user = User.objects.create_user("+77000000001")
    orgs = [Organization.objects.create(name=f"Bench {i}", kind="beauty_salon", country="KZ") for i in range(3)]
    for org in orgs:
        Membership.objects.create(user=user, organization=org, role=Role.OWNER)
    ours, naive_orm, naive_events = orgs
    content = make_csv(n, seed=1)
    changed = make_csv(n, seed=1, variant=1)
    from django.db import connection

    print(f"database: {connection.vendor}; rows: {n}; file: {len(content) / 1024:.0f} KiB")

    def ours_run(data: bytes, dry: bool) -> Any:
        job = clients_import(user=user, organization_id=ours.pk, content=data, fmt="csv", dry_run=dry)
        assert job.error_count == 0, job.errors[:3]
        return job

    _, job = timed("import: dry run (validate, nothing written)", lambda: ours_run(content, True), n)
    assert job.created_count == n and not Client.objects.filter(organization=ours).exists()
    t_import, job = timed("import: real run (bulk, events)", lambda: ours_run(content, False), n)
    assert job.created_count == n and Client.objects.filter(organization=ours).count() == n
    _, job = timed("re-import: half the names changed (updates)", lambda: ours_run(changed, False), n)
    print(f"{'':<58} created={job.created_count} updated={job.updated_count} skipped={job.skipped_count}")
    _, job = timed("re-import: identical file (no changes)", lambda: ours_run(changed, False), n)
    assert job.updated_count == 0 and job.created_count == 0
    print(
        f"{'':<58} events written by the import runs: "
        f"{Event.objects.filter(organization=ours, entity_type='crm.client').count()}"
    )

    from backend.crm.selectors import ClientFilters, client_list

    def list_ms(**kw: Any) -> float:
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            page = client_list(user=user, organization_id=ours.pk, limit=50, **kw)
            best = min(best, time.perf_counter() - start)
        assert page.items
        return best * 1000

    print(f"client list over {n} clients, best of 5, 50 per page:")
    for label, kw in [
        ("first page sorted by name", {}),
        ("type-ahead 'ива' (Cyrillic, case-folded)", {"search": "ИВА"}),
        ("type-ahead phone digits '70100012'", {"search": "70100012"}),
        ("sorted by -birthday, birthday month 3", {"sort": "-birthday", "filters": ClientFilters(birthday_month=3)}),
    ]:
        print(f"  {label:<56} {list_ms(**kw):8.1f} ms")

    _header, table = table_read(content, "csv")

    def orm_loop() -> None:
        with transaction.atomic():
            for _number, cells in table:
                Client.objects.create(
                    organization=naive_orm,
                    phone=phone_normalize(cells[0], default_region="KZ"),
                    last_name=cells[1],
                    first_name=cells[2],
                    email=cells[4],
                    notes=cells[8],
                )

    t_orm, _ = timed("baseline: ORM create() per row (no events)", orm_loop, n)

    def orm_loop_with_events() -> None:
        with transaction.atomic():
            for _number, cells in table:
                client = Client.objects.create(
                    organization=naive_events,
                    phone=phone_normalize(cells[0], default_region="KZ"),
                    last_name=cells[1],
                    first_name=cells[2],
                    email=cells[4],
                    notes=cells[8],
                )
                event_record(entity=client, action=EventAction.IMPORT, actor=user, after={"phone": client.phone})

    t_orm_ev, _ = timed("baseline: ORM create() + event per row", orm_loop_with_events, n)
    if not args.skip_service_baseline:
        fourth = Organization.objects.create(name="Bench service", kind="beauty_salon", country="KZ")
        Membership.objects.create(user=user, organization=fourth, role=Role.OWNER)
        sample = table[: args.service_baseline_rows]

        def service_loop() -> None:
            with transaction.atomic():
                for _number, cells in sample:
                    client_create(
                        user=user,
                        organization_id=fourth.pk,
                        phone=cells[0],
                        last_name=cells[1],
                        first_name=cells[2],
                        email=cells[4],
                        notes=cells[8],
                    )

        t_service, _ = timed(
            f"baseline: client_create() service per row ({len(sample)} rows)", service_loop, len(sample)
        )
        per_row = t_service / len(sample)
        print(
            f"speed-up of the bulk import over client_create() per row:  {per_row * n / t_import:5.1f}x "
            f"(by rows/s; {per_row * n:.1f} s projected for {n} rows)"
        )
    print(f"speed-up of the bulk import over ORM create() + event per row: {t_orm_ev / t_import:5.1f}x")
    print(
        f"speed-up of the bulk import over bare ORM create() per row:    {t_orm / t_import:5.1f}x "
        "(the import also validates every field, resolves sources/groups and writes events)"
    )


if __name__ == "__main__":
    main()
