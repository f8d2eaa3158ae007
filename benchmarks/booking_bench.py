"""Booking benchmark: slot search on a busy branch, the slots endpoint against a trivial one, concurrent bookings.

    python benchmarks/booking_bench.py [--days 14] [--searches 300] [--requests 400] [--writes 400] [--threads 16]

The world: one branch of 20 masters and 30 services (some need one of 4 bays, some have buffers), everyone working
09:00-21:00 with a break every day, and 60% of the working minutes booked over the next 14 days (written as the
booking services store visits: appointment, line, occupancy). Then:

1. the slot search in process (``slot_search``: its queries and the computation; one service, one local day, a
   named master or any master), median and p95, and the pure computation alone on a loaded board;
2. real HTTP against a threaded WSGI server serving the Django application in this process (127.0.0.1, one new
   connection per request): ``GET /api/v1/booking/slots`` beside ``GET /api/v1/me`` (authenticated, one token
   lookup) with the same client threads, alternating in rounds; target: the slots endpoint at >= 0.5x the trivial
   endpoint's rate;
3. with ``DATABASE_URL`` set (PostgreSQL): concurrent ``POST /api/v1/booking/appointments`` by customers racing for
   a shared pool of free slots, beside a trivial authenticated POST (``POST /api/v1/crm/sources``) with the same
   threads; bookings/s and p95 of both; target: no response other than 201 and 409.

Runs on a fresh SQLite file in a temporary directory, or on PostgreSQL in a throw-away test database when
DATABASE_URL is set. Timings depend on the machine's load: the script prints ``os.getloadavg()`` beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import socketserver
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ZONE_NAME = "Europe/Vilnius"
MASTERS, SERVICES, BAYS = 20, 30, 4
BOOKED_SHARE = 0.6


def say(message: str) -> None:
    print(message, flush=True)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- the world ---------------------------------------------------------------------------------------------------


def build_world(days: int, seed: int) -> dict[str, Any]:
    """The branch, its catalog and schedules, and 60% of its masters' working minutes booked."""
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from backend.accounts.models import User
    from backend.booking.models import (
        Appointment,
        AppointmentLine,
        AppointmentStatus,
        BookingChannel,
        Occupancy,
        PatternKind,
        WorkPattern,
    )
    from backend.catalog.models import BranchService, Resource, ResourceKind, Service, StaffService
    from backend.crm.models import Client
    from backend.organizations.models import Branch, Membership, Organization, Role

    rnd = random.Random(seed)
    zone = ZoneInfo(ZONE_NAME)
    org = Organization.objects.create(
        name="Bench salon",
        kind="beauty_salon",
        country="LT",
        time_zone=ZONE_NAME,
        currency="EUR",
        online_booking=True,
        booking_slot_step_minutes=15,
        booking_lead_time_minutes=0,
        booking_horizon_days=60,
    )
    branch = Branch.objects.create(organization=org, name="Centre", time_zone=ZONE_NAME)
    bays = [Resource.objects.create(branch=branch, kind=ResourceKind.BAY, name=f"Bay {i}") for i in range(BAYS)]
    services = []
    for i in range(SERVICES):
        service = Service.objects.create(
            organization=org,
            name=f"Service {i:02d}",
            duration_minutes=rnd.choice([30, 45, 60, 60, 90, 120]),
            price=Decimal(rnd.randint(10, 90)),
            buffer_after_minutes=rnd.choice([0, 0, 5, 10]),
            resource_kind=ResourceKind.BAY if i < 5 else "",
        )
        BranchService.objects.create(organization=org, branch=branch, service=service)
        services.append(service)
    today = timezone.now().astimezone(zone).date()
    first_day, last_day = today + dt.timedelta(days=1), today + dt.timedelta(days=days)
    masters: list[Any] = []
    skills: dict[int, list[Any]] = {}
    for i in range(MASTERS):
        user = User.objects.create_user(f"+37060{i:06d}", first_name=f"Master{i:02d}")
        Membership.objects.create(user=user, organization=org, role=Role.MASTER)
        own = rnd.sample(services, 12)
        for service in own:
            StaffService.objects.create(organization=org, staff=user, service=service)
        WorkPattern.objects.create(
            organization=org,
            branch=branch,
            staff=user,
            kind=PatternKind.WEEKLY,
            weekdays=list(range(7)),
            anchor_date=today,
            end_date=today + dt.timedelta(days=days + 30),
            day_start=dt.time(9),
            day_end=dt.time(21),
            breaks=[["14:00", "15:00"]],
        )
        masters.append(user)
        skills[user.pk] = own
    clients = Client.objects.bulk_create(
        [Client(organization=org, phone=f"+37061{i:06d}", first_name=f"Client{i}") for i in range(400)]
    )

    # Fill each master's day to 60% of its working minutes with random services that fit.
    working_minutes = 11 * 60
    appointments: list[Appointment] = []
    pending_lines: list[tuple[int, AppointmentLine, Occupancy]] = []
    bay_busy: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {bay.pk: [] for bay in bays}
    booked_total = 0
    day = first_day
    while day <= last_day:
        for master in masters:
            held: list[tuple[dt.datetime, dt.datetime]] = []
            booked = 0
            for _attempt in range(300):
                if booked >= BOOKED_SHARE * working_minutes - 15:
                    break
                service = rnd.choice(skills[master.pk])
                if booked + service.duration_minutes > BOOKED_SHARE * working_minutes:
                    continue
                minute = rnd.randrange(9 * 60, 21 * 60, 15)
                start = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=zone)
                end = start + dt.timedelta(minutes=service.duration_minutes)
                occupied = (start, end + dt.timedelta(minutes=service.buffer_after_minutes))
                lunch = (
                    dt.datetime.combine(day, dt.time(14), tzinfo=zone),
                    dt.datetime.combine(day, dt.time(15), tzinfo=zone),
                )
                close = dt.datetime.combine(day, dt.time(21), tzinfo=zone)
                if occupied[1] > close or (occupied[0] < lunch[1] and lunch[0] < occupied[1]):
                    continue
                if any(occupied[0] < b and a < occupied[1] for a, b in held):
                    continue
                bay_id = None
                if service.resource_kind:
                    bay_id = next(
                        (
                            pk
                            for pk, ranges in bay_busy.items()
                            if not any(occupied[0] < b and a < occupied[1] for a, b in ranges)
                        ),
                        None,
                    )
                    if bay_id is None:
                        continue
                    bay_busy[bay_id].append(occupied)
                held.append(occupied)
                booked += service.duration_minutes
                appointment = Appointment(
                    organization=org,
                    branch=branch,
                    client=rnd.choice(clients),
                    staff=master,
                    starts_at=start,
                    ends_at=end,
                    status=AppointmentStatus.BOOKED,
                    channel=BookingChannel.STAFF,
                    price=service.price,
                    currency="EUR",
                )
                line = AppointmentLine(
                    position=0,
                    service=service,
                    staff=master,
                    resource_id=bay_id,
                    starts_at=start,
                    ends_at=end,
                    duration_minutes=service.duration_minutes,
                    buffer_after_minutes=service.buffer_after_minutes,
                    price=service.price,
                )
                occupancy = Occupancy(
                    organization=org,
                    branch=branch,
                    staff=master,
                    resource_id=bay_id,
                    starts_at=occupied[0],
                    ends_at=occupied[1],
                )
                pending_lines.append((len(appointments), line, occupancy))
                appointments.append(appointment)
            booked_total += booked
        day += dt.timedelta(days=1)
    Appointment.objects.bulk_create(appointments, batch_size=500)
    for index, line, _ in pending_lines:
        line.appointment = appointments[index]
    AppointmentLine.objects.bulk_create([line for _, line, _ in pending_lines], batch_size=500)
    for _, line, occupancy in pending_lines:
        occupancy.line = line
    Occupancy.objects.bulk_create([occupancy for _, _, occupancy in pending_lines], batch_size=500)
    share = booked_total / (MASTERS * days * working_minutes)
    say(
        f"world: {MASTERS} masters, {SERVICES} services, {BAYS} bays, {len(appointments)} visits over {days} days, "
        f"{share:.0%} of working minutes booked"
    )
    return {
        "org": org,
        "branch": branch,
        "services": services,
        "masters": masters,
        "skills": skills,
        "days": [first_day + dt.timedelta(days=i) for i in range(days)],
    }


# --- 1. the slot search in process -----------------------------------------------------------------------------


def random_query(world: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    master = rnd.choice(world["masters"])
    service = rnd.choice(world["skills"][master.pk])
    return {
        "service_id": service.pk,
        "date": rnd.choice(world["days"]),
        "staff_id": master.pk if rnd.random() < 0.5 else None,
    }


def bench_search(world: dict[str, Any], customer: Any, searches: int, seed: int) -> None:
    from backend.booking.selectors import booking_board, booking_context, slot_search, visit_specs
    from backend.booking.services.availability import local_day_bounds, visit_slots

    rnd = random.Random(seed)
    branch = world["branch"]
    say(f"1. slot search in process, {searches} searches (one service, one day; half of them any master) ...")
    timings, found = [], 0
    for _ in range(searches):
        q = random_query(world, rnd)
        started = time.perf_counter()
        result = slot_search(
            user=customer,
            branch_id=branch.pk,
            service_ids=[q["service_id"]],
            first_day=q["date"],
            staff_id=q["staff_id"],
        )
        timings.append((time.perf_counter() - started) * 1000)
        found += len(result.slots)
    say(
        f"   slot_search: median {statistics.median(timings):.2f} ms, p95 {pct(timings, 0.95):.2f} ms "
        f"({found / searches:.1f} slots per search; {load()})"
    )
    # The computation alone, on boards loaded beforehand: what the queries add is the difference.
    context = booking_context(user=customer, branch_id=branch.pk)
    prepared = []
    for _ in range(min(searches, 100)):
        q = random_query(world, rnd)
        specs = visit_specs(context, [q["service_id"]])
        window = (local_day_bounds(context.zone, q["date"])[0], local_day_bounds(context.zone, q["date"])[1])
        staff = None if q["staff_id"] is None else [q["staff_id"]]
        prepared.append(
            (specs, window, q["staff_id"], booking_board(branch=branch, specs=specs, window=window, staff_ids=staff))
        )
    compute = []
    now = dt.datetime.now(dt.UTC)
    for specs, window, staff_id, board in prepared:
        started = time.perf_counter()
        visit_slots(
            board=board,
            specs=specs,
            staff_id=staff_id,
            window=window,
            step_minutes=context.step_minutes,
            not_before=now,
            not_after=now + dt.timedelta(days=60),
        )
        compute.append((time.perf_counter() - started) * 1000)
    say(f"   the computation alone: median {statistics.median(compute):.2f} ms, p95 {pct(compute, 0.95):.2f} ms")
    wide = []
    for _ in range(20):
        q = random_query(world, rnd)
        started = time.perf_counter()
        slot_search(
            user=customer,
            branch_id=branch.pk,
            service_ids=[q["service_id"]],
            first_day=world["days"][0],
            last_day=world["days"][-1],
        )
        wide.append((time.perf_counter() - started) * 1000)
    say(
        f"   {len(world['days'])}-day range, any master: median {statistics.median(wide):.1f} ms, "
        f"p95 {pct(wide, 0.95):.1f} ms"
    )


# --- HTTP ---------------------------------------------------------------------------------------------------------


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the listen backlog: the default 5 resets connections of 16 eager clients


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _close_connection_after(app: Callable[..., Any]) -> Callable[..., Any]:
    """Each request runs in its own server thread: close that thread's database connection when it is done."""
    from django.db import connections

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            return list(app(environ, start_response))
        finally:
            connections.close_all()

    return wrapped


def serve() -> tuple[Any, int]:
    import logging

    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    # After the application's setup (which configures logging again): 409s are expected, do not log each one.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    server = make_server(
        "127.0.0.1",
        0,
        _close_connection_after(application),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def request(port: int, method: str, path: str, token: str, body: Any = None) -> tuple[int, float, bytes]:
    started = time.perf_counter()
    connection = HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1"}
    payload = None
    if body is not None:
        payload = json.dumps(body)
        headers["Content-Type"] = "application/json"
        headers["Idempotency-Key"] = uuid.uuid4().hex
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        content = response.read()
    except OSError as error:  # counted as status 0: a transport failure is a failure too
        return 0, time.perf_counter() - started, repr(error).encode()
    finally:
        connection.close()
    return response.status, time.perf_counter() - started, content


def run_clients(
    threads: int, jobs: list[Callable[[], tuple[int, float, bytes]]]
) -> tuple[float, list[tuple[int, float, bytes]]]:
    """Run ``jobs`` on ``threads`` client threads; the wall time and every (status, seconds, body)."""
    results: list[tuple[int, float, bytes]] = []
    lock = threading.Lock()
    queue = list(reversed(jobs))

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop()
            outcome = job()
            with lock:
                results.append(outcome)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - started, results


def _queries(path: str, token: str) -> int:
    """How many queries one request makes (in process, through Django's test client)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        Client().get(path, headers={"Authorization": f"Bearer {token}"})
    return len(captured.captured_queries)


def _slots_path(branch_id: int, q: dict[str, Any]) -> str:
    path = f"/api/v1/booking/slots?branch_id={branch_id}&service_id={q['service_id']}&date={q['date'].isoformat()}"
    return path + (f"&staff_id={q['staff_id']}" if q["staff_id"] else "")


def bench_http(world: dict[str, Any], port: int, token: str, count: int, threads: int, seed: int) -> bool:
    rnd = random.Random(seed)
    branch_id = world["branch"].pk
    say(
        f"2. real HTTP (threaded WSGI server on 127.0.0.1), {count} requests per endpoint, {threads} client threads ..."
    )
    paths = [_slots_path(branch_id, random_query(world, rnd)) for _ in range(count)]
    request(port, "GET", paths[0], token)  # warm up both
    request(port, "GET", "/api/v1/me", token)
    # Alternate the two in rounds, so a change of the machine's load mid-run weighs on both alike.
    rounds = 4
    trivial_time = slots_time = 0.0
    trivial: list[tuple[int, float, bytes]] = []
    slots: list[tuple[int, float, bytes]] = []
    for r in range(rounds):
        part = paths[r * count // rounds : (r + 1) * count // rounds]
        spent, answers = run_clients(threads, [lambda: request(port, "GET", "/api/v1/me", token)] * len(part))
        trivial_time, trivial = trivial_time + spent, trivial + answers
        spent, answers = run_clients(threads, [lambda p=p: request(port, "GET", p, token) for p in part])
        slots_time, slots = slots_time + spent, slots + answers
    bad = Counter(status for status, _, _ in trivial + slots if status != 200)
    trivial_rps, slots_rps = count / trivial_time, count / slots_time
    ratio = slots_rps / trivial_rps
    say(
        f"   GET /api/v1/me:            {trivial_rps:7.1f} req/s, "
        f"p95 {pct([s for _, s, _ in trivial], 0.95) * 1000:6.1f} ms"
    )
    say(
        f"   GET /api/v1/booking/slots: {slots_rps:7.1f} req/s, "
        f"p95 {pct([s for _, s, _ in slots], 0.95) * 1000:6.1f} ms"
    )
    counts = [_queries(p, token) for p in ("/api/v1/me", paths[0])]
    say(f"   database queries per request: /me {counts[0]}, /booking/slots {counts[1]}")
    passed = ratio >= 0.5 and not bad
    say(
        f"   slots / trivial = {ratio:.2f}x (target >= 0.5x): {'PASS' if passed else 'FAIL'}"
        + (f"; non-200 answers: {dict(bad)}" if bad else "")
        + f" ({load()})"
    )
    return passed


# --- 3. concurrent bookings (PostgreSQL) ------------------------------------------------------------------------


def bench_writes(world: dict[str, Any], port: int, manager_token: str, count: int, threads: int, seed: int) -> bool:
    from backend.accounts.models import User
    from backend.accounts.tokens import token_pair_issue
    from backend.booking.selectors import slot_search

    rnd = random.Random(seed)
    branch = world["branch"]
    customers = [User.objects.create_user(f"+37062{i:06d}", first_name=f"Customer{i}") for i in range(threads * 2)]
    tokens = [token_pair_issue(user=c).access_token for c in customers]
    # A shared pool of free slots: several clients race for each one, as on a popular evening.
    pool: list[dict[str, Any]] = []
    for day in world["days"][:3]:
        for service in rnd.sample(world["services"], 6):
            for slot in slot_search(
                user=customers[0], branch_id=branch.pk, service_ids=[service.pk], first_day=day
            ).slots[:8]:
                pool.append(
                    {
                        "branch_id": branch.pk,
                        "service_id": service.pk,
                        "staff_id": slot.staff_id,
                        "start": slot.start.isoformat(),
                    }
                )
    size = max(1, count // 3)
    pool = rnd.sample(pool, min(size, len(pool)))
    say(
        f"3. concurrent writes (PostgreSQL), {count} POSTs per endpoint, {threads} client threads, "
        f"{len(pool)} free slots raced for ..."
    )
    picks = [(rnd.choice(pool), rnd.choice(tokens)) for _ in range(count)]
    jobs = [
        (lambda body=body, token=token: request(port, "POST", "/api/v1/booking/appointments", token, body))
        for body, token in picks
    ]
    trivial_jobs = [
        (
            lambda i=i: request(
                port,
                "POST",
                "/api/v1/crm/sources",
                manager_token,
                {"organization_id": world["org"].pk, "name": f"Bench {i}"},
            )
        )
        for i in range(count)
    ]
    trivial_time, trivial = run_clients(threads, trivial_jobs)
    booking_time, bookings = run_clients(threads, jobs)
    statuses = Counter(status for status, _, _ in bookings)
    others = {s: n for s, n in statuses.items() if s not in (201, 409)}
    say(
        f"   POST /api/v1/crm/sources:          {count / trivial_time:7.1f} req/s, "
        f"p95 {pct([s for _, s, _ in trivial], 0.95) * 1000:6.1f} ms, "
        f"statuses {dict(Counter(s for s, _, _ in trivial))}"
    )
    say(
        f"   POST /api/v1/booking/appointments: {count / booking_time:7.1f} req/s "
        f"({statuses.get(201, 0) / booking_time:.1f} bookings/s), "
        f"p95 {pct([s for _, s, _ in bookings], 0.95) * 1000:6.1f} ms, "
        f"statuses {dict(statuses)}"
    )
    booked = statuses.get(201, 0)
    passed = not others and booked <= len(pool)
    if others:
        sample = next(body for status, _, body in bookings if status in others)
        say(f"   an unexpected answer: {sample[:300]!r}")
    say(
        f"   {booked} booked for {len(pool)} slots, 0 answers other than 201/409 required: "
        f"{'PASS' if passed else 'FAIL'} ({load()})"
    )
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--writes", type=int, default=400)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="brigada-bench-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.config.settings.test"
    os.environ.setdefault("BRIGADA_VAR_DIR", tmp.name)
    os.environ.setdefault("BRIGADA_TEST_DB_NAME", "brigada_booking_bench")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0  # each server thread closes its connection per request
    test_db = None
    say(f"database: {'PostgreSQL' if settings.IS_POSTGRES else 'SQLite (a temporary file)'}; {load()}")
    if settings.IS_POSTGRES:
        test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    else:
        call_command("migrate", verbosity=0)
    server = None
    try:
        from backend.accounts.models import User
        from backend.accounts.tokens import token_pair_issue
        from backend.organizations.models import Membership, Role

        say("building the world ...")
        world = build_world(args.days, args.seed)
        customer = User.objects.create_user("+37069000000", first_name="Customer")
        bench_search(world, customer, args.searches, args.seed)
        server, port = serve()
        results = [bench_http(world, port, token_pair_issue(user=customer).access_token, args.requests, 4, args.seed)]
        if settings.IS_POSTGRES:
            manager = User.objects.create_user("+37069000001", first_name="Manager")
            Membership.objects.create(user=manager, organization=world["org"], role=Role.MANAGER)
            results.append(
                bench_writes(
                    world, port, token_pair_issue(user=manager).access_token, args.writes, args.threads, args.seed
                )
            )
        else:
            say("3. concurrent writes: skipped (set DATABASE_URL to a PostgreSQL server)")
        say("all targets: " + ("PASS" if all(results) else "FAIL"))
    finally:
        if server is not None:
            server.shutdown()
        connection.close()
        if test_db is not None:
            connection.creation.destroy_test_db(test_db, verbosity=0)
        tmp.cleanup()


if __name__ == "__main__":
    main()
