"""Staff client search benchmark: 100,000 clients of one organization on PostgreSQL, the whole request path.

    DATABASE_URL=postgres://... python -u benchmarks/client_search_bench.py [--clients 100000] [--queries 200] [--keep]

Seeds a throw-away test database (bulk inserts: clients of the measured organization, a second organization's
clients that must never be found, cars for about 40% of them), then sends the same mixed queries, each typed the
way a person would, as HTTP requests through the API in-process (Django's test client with a bearer token:
middleware, authentication, the tenancy check, ``backend.crm.search.client_search``, the schema and JSON):
``GET /api/v1/crm/clients/search?q=...&organization_id=...``. Query kinds: a two-letter name prefix, a longer name
prefix, a name fragment (inside a surname, or a first name and the start of a surname: the trigram path), phone
digits, a Cyrillic plate fragment as stored and one typed on a Latin keyboard.

For every request it records the wall clock and the statements it ran; for a sample, the database's own time
(planning + execution from EXPLAIN ANALYZE of each statement, summed). Then the same requests run again with the
search indexes (pg_trgm GIN, migration crm 0005, and the "C"-collated name prefix btree, crm 0006) dropped inside a
transaction that is rolled back: the baseline, plain LIKE. Prints p50/p95/p99 per kind for both, and whether the
p95 of the whole request is under the 50 ms target. Run it niced on a quiet machine: the wall clock of a shared
2-core box measures the CPU queue as much as the code.
"""

from __future__ import annotations

import argparse
import importlib
import json
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

URL = "/api/v1/crm/clients/search"
TARGET_MS = 50.0
SYLLABLES = [
    "ка",
    "ли",
    "мо",
    "ра",
    "се",
    "ту",
    "на",
    "ви",
    "до",
    "же",
    "ба",
    "го",
    "пе",
    "ло",
    "ми",
    "ре",
    "ха",
    "ше",
    "ку",
    "зи",
    "ан",
    "ор",
    "ел",
    "ис",
    "ум",
    "ар",
    "ен",
    "ос",
    "ик",
    "ул",
]
ENDINGS = ["ов", "ова", "ин", "ина", "ев", "ева", "ский", "ская", "енко", "бек"]
FIRST = [
    "Анна",
    "Ольга",
    "Пётр",
    "Иван",
    "Айгерим",
    "Нурлан",
    "Мария",
    "Алёна",
    "Елена",
    "Дмитрий",
    "Арман",
    "Асель",
    "Сергей",
    "Наталья",
    "John",
    "Maria",
    "Aliya",
    "Timur",
]
PLATE_LETTERS = "АВЕКМНОРСТУХ"
TO_LATIN = str.maketrans("АВЕКМНОРСТУХ", "ABEKMHOPCTYX")
MIGRATIONS = (
    "backend.crm.migrations.0005_search_trigram_indexes",
    "backend.crm.migrations.0006_client_name_prefix_index",
)
SEARCH_INDEXES = (
    "crm_client_search_trgm",
    "crm_client_phone_trgm",
    "crm_vehicle_plate_trgm",
    "crm_client_org_name_prefix",
)
KINDS = (
    "name prefix, 2 letters",
    "name prefix, 3-6 letters",
    "name fragment (trigram)",
    "phone digits",
    "plate, Cyrillic",
    "plate, typed in Latin",
)


def last_name(rng: random.Random) -> str:
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) + rng.choice(ENDINGS)
    return word.capitalize()


def plate(rng: random.Random) -> str:
    if rng.random() < 0.7:  # Russian style, Cyrillic letters: А123ВС77
        return (
            f"{rng.choice(PLATE_LETTERS)}{rng.randint(0, 999):03d}{rng.choice(PLATE_LETTERS)}"
            f"{rng.choice(PLATE_LETTERS)}{rng.randint(1, 199):02d}"
        )
    return f"{rng.randint(0, 999):03d}{''.join(rng.choice('ABCEHKMOPTXY') for _ in range(3))}{rng.randint(1, 20):02d}"


def _indexes(action: str) -> None:
    from django.db import connection

    with connection.schema_editor() as editor:
        for name in MIGRATIONS:
            getattr(importlib.import_module(name), action)(None, editor)


def seed(org: Any, other: Any, n: int, rng: random.Random) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    from django.db import connection

    from backend.crm.cleaning import client_derived_refresh
    from backend.crm.models import Client, Vehicle

    phones: set[str] = set()
    names: list[tuple[str, str]] = []
    plates: list[str] = []
    t0 = time.perf_counter()
    _indexes("drop")  # a bulk load builds the indexes once at the end, as a restore would
    for organization, count in ((org, n), (other, n // 5)):
        batch: list[Client] = []
        for _ in range(count):
            while (phone := f"+7701{rng.randint(0, 9_999_999):07d}") in phones:
                pass
            phones.add(phone)
            client = Client(
                organization=organization, phone=phone, last_name=last_name(rng), first_name=rng.choice(FIRST)
            )
            client_derived_refresh(client)
            batch.append(client)
        Client.objects.bulk_create(batch, batch_size=5000)
        if organization is org:
            names = [(c.first_name, c.last_name) for c in batch]
        ids = list(Client.objects.filter(organization=organization).values_list("id", flat=True))
        vehicles = [
            Vehicle(organization=organization, client_id=i, make="Lada", plate=plate(rng))
            for i in ids
            if rng.random() < 0.4
        ]
        Vehicle.objects.bulk_create(vehicles, batch_size=5000)
        if organization is org:
            plates = [v.plate for v in vehicles]
    _indexes("create")
    with connection.cursor() as cursor:  # as autovacuum would have done on a table that has been live a while
        cursor.execute("VACUUM ANALYZE crm_client")
        cursor.execute("VACUUM ANALYZE crm_vehicle")
    print(f"seeded {n:,} + {n // 5:,} clients, cars for ~40%, in {time.perf_counter() - t0:.1f} s")
    return names, sorted(p for p in phones if p.startswith("+7701")), plates


def make_queries(
    names: list[tuple[str, str]], phones: list[str], plates: list[str], k: int, rng: random.Random
) -> list[tuple[str, str]]:
    queries: list[tuple[str, str]] = []
    cyrillic_plates = [p for p in plates if p[0] in PLATE_LETTERS]
    for _ in range(k):
        first, last = rng.choice(names)
        queries.append((KINDS[0], last[:2].lower()))
        queries.append((KINDS[1], last[: rng.randint(3, 6)].lower()))
        if rng.random() < 0.5:  # inside the surname: no name starts with it, only the trigram index finds it
            start = rng.randint(2, max(2, len(last) - 4))
            queries.append((KINDS[2], last[start : start + rng.randint(3, 5)].lower()))
        else:  # "анна кар": the first name and the start of the surname, words in any order
            queries.append((KINDS[2], f"{first.lower()} {last[:3].lower()}"))
        digits = rng.choice(phones)[5:]
        cut = rng.randint(0, 3)
        fragment = digits[cut : cut + rng.randint(4, 7)]
        queries.append((KINDS[3], " ".join(fragment[i : i + 3] for i in range(0, len(fragment), 3))))
        number = rng.choice(cyrillic_plates)
        start = rng.randint(0, max(0, len(number) - 4))
        piece = number[start : start + rng.randint(3, 5)]
        queries.append((KINDS[4], piece.lower()))
        number = rng.choice(cyrillic_plates)
        piece = number[: rng.randint(4, 6)]
        queries.append((KINDS[5], piece.translate(TO_LATIN).lower()))  # А123ВС typed as a123bc
    rng.shuffle(queries)
    return queries


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Requester:
    """GET the search route in-process, as a phone would: bearer token, query string, JSON answer."""

    def __init__(self, user: Any, org_id: int) -> None:
        from django.test import Client as HttpClient

        from backend.accounts.tokens import token_pair_issue

        self.http = HttpClient()
        self.headers = {"Authorization": f"Bearer {token_pair_issue(user=user).access_token}"}
        self.org_id = org_id

    def get(self, q: str) -> tuple[float, float, list[dict[str, Any]], list[str]]:
        """(wall ms, this process's CPU ms, the hits, the statements run)."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        connection.queries_log.clear()  # a full log (9,000 entries) would make the capture come back empty
        with CaptureQueriesContext(connection) as captured:
            c0, t0 = time.process_time(), time.perf_counter()
            answer = self.http.get(URL, {"q": q, "organization_id": str(self.org_id)}, headers=self.headers)
            elapsed, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        assert answer.status_code == 200, answer.content
        return elapsed, cpu, answer.json()["items"], [c["sql"] for c in captured.captured_queries]


def db_time(statements: list[str]) -> float:
    """The database's own time for a request's statements: planning + execution, from EXPLAIN ANALYZE."""
    from django.db import connection

    total = 0.0
    for sql in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0]
        plan = plan if isinstance(plan, list) else json.loads(plan)
        total += float(plan[0]["Execution Time"]) + float(plan[0].get("Planning Time", 0.0))
    return total


Times = dict[str, list[float]]


def measure(
    requester: Requester, org_id: int, queries: list[tuple[str, str]], db_sample: int
) -> tuple[Times, Times, Times, dict[str, list[int]]]:
    for _, q in queries[:30]:  # warm the connection, caches, the ORM and the URL resolver
        requester.get(q)
    wall: Times = {}
    cpu: Times = {}
    trips: dict[str, list[int]] = {}
    captured: list[tuple[str, list[str]]] = []
    found = 0
    for kind, q in queries:
        elapsed, used, items, statements = requester.get(q)
        wall.setdefault(kind, []).append(elapsed)
        cpu.setdefault(kind, []).append(used)
        trips.setdefault(kind, []).append(len(statements))
        captured.append((kind, statements))
        found += bool(items)
        assert all(item["organization_id"] == org_id for item in items), "another tenant's client was found"
    db: Times = {}
    for kind, statements in captured[:db_sample]:
        db.setdefault(kind, []).append(db_time(statements))
    for table in (wall, cpu, db):
        table["all"] = [t for kind, values in list(table.items()) for t in values]
    trips["all"] = [t for values in list(trips.values()) for t in values]
    print(f"  requests with at least one hit: {found}/{len(queries)}")
    return wall, cpu, db, trips


def explain(requester: Requester, queries: list[tuple[str, str]]) -> None:
    from django.db import connection

    seen: set[str] = set()
    for kind, q in queries:
        if kind in seen:
            continue
        seen.add(kind)
        *_, statements = requester.get(q)
        print(f"--- {kind}: {q!r} ({len(statements)} statements)")
        for sql in statements:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN ANALYZE " + sql)
                plan = "\n      ".join(row[0] for row in cursor.fetchall())
            print(f"  {sql[:400]}\n      {plan}")


def report(label: str, times: dict[str, list[float]], trips: dict[str, list[int]] | None = None) -> None:
    print(label)
    for kind in (*KINDS, "all"):
        values = times.get(kind) or []
        if not values:
            continue
        extra = f"  round trips {statistics.mean(trips[kind]):.1f}" if trips else ""
        print(
            f"  {kind:<26} n={len(values):4d}  p50 {statistics.median(values):7.2f}  p95 {pct(values, 95):7.2f}  "
            f"p99 {pct(values, 99):7.2f}  max {max(values):7.2f} ms{extra}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200, help="queries of each kind")
    parser.add_argument("--db-sample", type=int, default=600, help="requests whose database time is measured")
    parser.add_argument("--explain", action="store_true", help="print the plans of one request of each kind")
    parser.add_argument("--skip-baseline", action="store_true", help="only the indexed run")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the seeded database afterwards and reuse it when it is there (seeding is slow)",
    )
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
        sys.exit("this benchmark measures the PostgreSQL plans: set DATABASE_URL=postgres://...")
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=args.keep, serialize=False)
    try:
        from backend.accounts.models import User
        from backend.crm.models import Client, Vehicle
        from backend.organizations.models import Membership, Organization, Role

        rng = random.Random(2026)
        org = Organization.objects.filter(name="Bench salon").first()
        if org is not None and Client.objects.filter(organization=org).count() == args.clients:
            user = User.objects.get(phone="+77000000001")
            clients = Client.objects.filter(organization=org).order_by("id")
            names = list(clients.values_list("first_name", "last_name"))
            phones = sorted(clients.values_list("phone", flat=True))
            plates = list(Vehicle.objects.filter(organization=org).order_by("id").values_list("plate", flat=True))
            print(f"reusing the seeded database {test_db} ({args.clients:,} clients)")
        else:
            if org is not None:
                sys.exit(f"{test_db} holds another seed: run once without --keep to start afresh")
            user = User.objects.create_user("+77000000001")
            org = Organization.objects.create(name="Bench salon", kind="car_service", country="KZ")
            other = Organization.objects.create(name="Other tenant", kind="car_service", country="KZ")
            Membership.objects.create(user=user, organization=org, role=Role.MANAGER)
            names, phones, plates = seed(org, other, args.clients, rng)
        queries = make_queries(names, phones, plates, args.queries, rng)
        requester = Requester(user, org.pk)
        version = getattr(connection, "pg_version", "")
        print(f"database: {connection.vendor} {version}; {len(queries)} requests, same list twice")
        floor = []
        with connection.cursor() as cursor:  # what one round trip costs on this machine right now
            for _ in range(200):
                t0 = time.perf_counter()
                cursor.execute("SELECT 1")
                cursor.fetchone()
                floor.append((time.perf_counter() - t0) * 1000)
        print(
            f"one SELECT 1 round trip: p50 {statistics.median(floor):.2f} ms, p95 {pct(floor, 95):.2f} ms; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        if args.explain:
            explain(requester, queries)
        wall, cpu, db, trips = measure(requester, org.pk, queries, args.db_sample)
        report("WITH the search indexes: whole request, wall clock (HTTP in-process, ms):", wall, trips)
        report("WITH the search indexes: CPU of the API process per request (ms):", cpu)
        report(f"WITH the search indexes: database time per request (first {args.db_sample} requests, ms):", db)
        if not args.skip_baseline:
            with transaction.atomic():
                _indexes("drop")
                base_wall, _base_cpu, base_db, base_trips = measure(requester, org.pk, queries, args.db_sample)
                transaction.set_rollback(True)  # the indexes come back
            report("BASELINE, no search indexes (plain LIKE): whole request, wall clock (ms):", base_wall, base_trips)
            report("BASELINE: database time per request (ms):", base_db)
            ratio = pct(base_wall["all"], 95) / max(pct(wall["all"], 95), 1e-9)
            print(
                f"p95 whole request: {pct(wall['all'], 95):.2f} ms with the indexes vs "
                f"{pct(base_wall['all'], 95):.2f} ms without ({ratio:.1f}x)"
            )
        failing = [kind for kind in (*KINDS, "all") if pct(wall[kind], 95) >= TARGET_MS]
        verdict = "PASS" if not failing else f"FAIL ({', '.join(failing)})"
        print(
            f"target p95 < {TARGET_MS:.0f} ms for the whole request, every kind and overall: {verdict}; "
            f"overall p95 {pct(wall['all'], 95):.2f} ms (CPU p95 {pct(cpu['all'], 95):.2f} ms), "
            f"database p95 {pct(db['all'], 95):.2f} ms; "
            f"load average now {os.getloadavg()[0]:.1f}"
        )
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0, keepdb=args.keep)
        tmp.cleanup()


if __name__ == "__main__":
    main()
