"""Staff client search benchmark: 100,000 clients of one organization on PostgreSQL, trigram indexes vs none.

    DATABASE_URL=postgres://... python benchmarks/client_search_bench.py [--clients 100000] [--queries 300]

Seeds a throw-away test database (bulk inserts: clients of the measured organization, a second organization's
clients that must never be found, cars for about 40% of them), runs the same mixed queries (name prefixes, phone
digits, plate fragments, each typed the way a person would) through ``backend.crm.search.client_search`` -- the
code behind GET /api/v1/crm/clients/search, ORM included -- first with the pg_trgm GIN indexes of migration crm 0005,
then with those indexes dropped inside a transaction that is rolled back (the plain LIKE plan: the baseline).
Prints p50/p95/max per kind and overall for both. Target: p95 under 50 ms with the indexes.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SYLLABLES = ["ка", "ли", "мо", "ра", "се", "ту", "на", "ви", "до", "же", "ба", "го", "пе", "ло", "ми", "ре",
             "ха", "ше", "ку", "зи", "ан", "ор", "ел", "ис", "ум", "ар", "ен", "ос", "ик", "ул"]
ENDINGS = ["ов", "ова", "ин", "ина", "ев", "ева", "ский", "ская", "енко", "бек"]
FIRST = ["Анна", "Ольга", "Пётр", "Иван", "Айгерим", "Нурлан", "Мария", "Алёна", "Елена", "Дмитрий", "Арман",
         "Асель", "Сергей", "Наталья", "John", "Maria", "Aliya", "Timur"]
PLATE_LETTERS = "АВЕКМНОРСТУХ"
TRGM_INDEXES = ("crm_client_search_trgm", "crm_client_phone_trgm", "crm_vehicle_plate_trgm")


def last_name(rng: random.Random) -> str:
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) + rng.choice(ENDINGS)
    return word.capitalize()


def plate(rng: random.Random) -> str:
    if rng.random() < 0.7:  # Russian style, Cyrillic letters: А123ВС77
        return (f"{rng.choice(PLATE_LETTERS)}{rng.randint(0, 999):03d}{rng.choice(PLATE_LETTERS)}"
                f"{rng.choice(PLATE_LETTERS)}{rng.randint(1, 199):02d}")
    return f"{rng.randint(0, 999):03d}{''.join(rng.choice('ABCEHKMOPTXY') for _ in range(3))}{rng.randint(1, 20):02d}"


def seed(org: Any, other: Any, n: int, rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    import importlib

    from django.db import connection

    from backend.crm.cleaning import client_derived_refresh
    from backend.crm.models import Client, Vehicle

    migration = importlib.import_module("backend.crm.migrations.0005_search_trigram_indexes")
    phones: set[str] = set()
    names, plates = [], []
    t0 = time.perf_counter()
    with connection.cursor() as cursor:  # a bulk load builds the indexes once at the end, as a restore would
        for name in TRGM_INDEXES:
            cursor.execute(f"DROP INDEX {name}")
    for organization, count in ((org, n), (other, n // 5)):
        batch: list[Client] = []
        for _ in range(count):
            while (phone := f"+7701{rng.randint(0, 9_999_999):07d}") in phones:
                pass
            phones.add(phone)
            client = Client(organization=organization, phone=phone, last_name=last_name(rng),
                            first_name=rng.choice(FIRST))
            client_derived_refresh(client)
            batch.append(client)
        Client.objects.bulk_create(batch, batch_size=5000)
        if organization is org:
            names = [c.last_name for c in batch]
        ids = list(Client.objects.filter(organization=organization).values_list("id", flat=True))
        vehicles = [Vehicle(organization=organization, client_id=i, make="Lada", plate=plate(rng))
                    for i in ids if rng.random() < 0.4]
        Vehicle.objects.bulk_create(vehicles, batch_size=5000)
        if organization is org:
            plates = [v.plate for v in vehicles]
    with connection.schema_editor() as editor:
        migration.create(None, editor)
    with connection.cursor() as cursor:  # as autovacuum would have done on a table that has been live a while
        cursor.execute("VACUUM ANALYZE crm_client")
        cursor.execute("VACUUM ANALYZE crm_vehicle")
    print(f"seeded {n:,} + {n // 5:,} clients, cars for ~40%, in {time.perf_counter() - t0:.1f} s")
    return names, sorted(p for p in phones if p.startswith("+7701")), plates


def make_queries(names: list[str], phones: list[str], plates: list[str], k: int, rng: random.Random
                 ) -> list[tuple[str, str]]:
    queries: list[tuple[str, str]] = []
    for _ in range(k):
        name = rng.choice(names)
        queries.append(("name prefix", name[: rng.randint(3, 6)].lower()))
        digits = rng.choice(phones)[5:]
        cut = rng.randint(0, 3)
        fragment = digits[cut : cut + rng.randint(4, 7)]
        queries.append(("phone digits", " ".join(fragment[i : i + 3] for i in range(0, len(fragment), 3))))
        number = rng.choice(plates)
        start = rng.randint(0, max(0, len(number) - 4))
        queries.append(("plate fragment", number[start : start + rng.randint(3, 5)].lower()))
    rng.shuffle(queries)
    return queries


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(user: Any, org_id: int, queries: list[tuple[str, str]]) -> dict[str, list[float]]:
    from backend.crm.search import client_search

    for _, q in queries[:20]:  # warm the connection, caches and the ORM
        client_search(user=user, q=q, organization_id=org_id)
    times: dict[str, list[float]] = {}
    found = 0
    for kind, q in queries:
        t0 = time.perf_counter()
        hits = client_search(user=user, q=q, organization_id=org_id)
        times.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
        found += bool(hits)
        assert all(h.client.organization_id == org_id for h in hits)
    times["all"] = [t for kind, values in times.items() for t in values]
    print(f"  queries with at least one hit: {found}/{len(queries)}")
    return times


def explain(user: Any, org_id: int, queries: list[tuple[str, str]]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backend.crm.search import client_search

    seen: set[str] = set()
    for kind, q in queries:
        if kind in seen:
            continue
        seen.add(kind)
        connection.queries_log.clear()  # a full log (9,000 entries) would make the capture come back empty
        with CaptureQueriesContext(connection) as captured:
            client_search(user=user, q=q, organization_id=org_id)
        for query in captured.captured_queries:
            if "crm_" not in query["sql"]:
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN ANALYZE " + query["sql"])
                plan = "\n    ".join(row[0] for row in cursor.fetchall())
            print(f"[{kind}: {q!r}] {query['sql'][:300]}\n    {plan}")


def db_times(user: Any, org_id: int, queries: list[tuple[str, str]]) -> dict[str, list[float]]:
    """The database's own time per search: the sum of EXPLAIN ANALYZE execution times of its statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backend.crm.search import client_search

    times: dict[str, list[float]] = {}
    for kind, q in queries:
        connection.queries_log.clear()  # a full log (9,000 entries) would make the capture come back empty
        with CaptureQueriesContext(connection) as captured:
            client_search(user=user, q=q, organization_id=org_id)
        total = 0.0
        for query in captured.captured_queries:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
                plan = cursor.fetchone()[0]
            plan = plan if isinstance(plan, list) else __import__("json").loads(plan)
            total += float(plan[0]["Execution Time"])
        times.setdefault(kind, []).append(total)
    times["all"] = [t for values in times.values() for t in values]
    return times


def report(label: str, times: dict[str, list[float]]) -> None:
    print(f"{label}")
    for kind in ("name prefix", "phone digits", "plate fragment", "all"):
        values = times[kind]
        print(f"  {kind:<15} n={len(values):4d}  p50 {statistics.median(values):7.2f} ms  "
              f"p95 {pct(values, 95):7.2f} ms  max {max(values):7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300, help="queries of each kind")
    parser.add_argument("--db-sample", type=int, default=300, help="queries whose database time is measured")
    parser.add_argument("--explain", action="store_true", help="print the plans of one query of each kind")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="brigada-bench-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.config.settings.test"
    os.environ.setdefault("BRIGADA_VAR_DIR", tmp.name)
    os.environ.setdefault("BRIGADA_TEST_DB_NAME", "brigada_search_bench")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, transaction

    if not settings.IS_POSTGRES:
        sys.exit("this benchmark measures the PostgreSQL trigram plan: set DATABASE_URL=postgres://...")
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from backend.accounts.models import User
        from backend.organizations.models import Membership, Organization, Role

        rng = random.Random(2026)
        user = User.objects.create_user("+77000000001")
        org = Organization.objects.create(name="Bench salon", kind="car_service", country="KZ")
        other = Organization.objects.create(name="Other tenant", kind="car_service", country="KZ")
        Membership.objects.create(user=user, organization=org, role=Role.MANAGER)
        names, phones, plates = seed(org, other, args.clients, rng)
        queries = make_queries(names, phones, plates, args.queries, rng)
        print(f"database: {connection.vendor} {connection.pg_version}; {len(queries)} queries, same list twice")
        floor = []
        with connection.cursor() as cursor:  # what one round trip costs on this machine right now
            for _ in range(200):
                t0 = time.perf_counter()
                cursor.execute("SELECT 1")
                cursor.fetchone()
                floor.append((time.perf_counter() - t0) * 1000)
        print(f"one SELECT 1 round trip: p50 {statistics.median(floor):.2f} ms, p95 {pct(floor, 95):.2f} ms "
              f"(a search makes 6-7: the caller's organizations, the kind queries, the hits and their plates); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        if args.explain:
            explain(user, org.pk, queries)
        with_index = measure(user, org.pk, queries)
        report("with pg_trgm GIN indexes (migration crm 0005), wall clock per search (ORM, round trips):", with_index)
        sample = queries[: args.db_sample]
        db_with = db_times(user, org.pk, sample)
        with transaction.atomic():
            with connection.cursor() as cursor:
                for name in TRGM_INDEXES:
                    cursor.execute(f"DROP INDEX {name}")
            without = measure(user, org.pk, queries)
            db_without = db_times(user, org.pk, sample)
            transaction.set_rollback(True)  # the indexes come back
        report("baseline, same queries without the trigram indexes (plain LIKE plan), wall clock:", without)
        report(f"database time per search (EXPLAIN ANALYZE, first {len(sample)} queries), with the indexes:", db_with)
        report("database time per search, without the trigram indexes:", db_without)
        ratio = pct(without["all"], 95) / max(pct(with_index["all"], 95), 1e-9)
        print(f"p95 overall: {pct(with_index['all'], 95):.2f} ms with the indexes vs {pct(without['all'], 95):.2f} ms "
              f"without ({ratio:.1f}x); target < 50 ms: {'met' if pct(with_index['all'], 95) < 50 else 'NOT met'}")
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)
        tmp.cleanup()


if __name__ == "__main__":
    main()
