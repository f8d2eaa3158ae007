"""The demo world's businesses, sized: the agency's pool, corporate clients and sites, the salon's masters, services
and clients, the car service's bays and clients with their vehicles.

Everything is written through the domain services with the demo admin as the actor (clients through the CRM's
bulk import path). Every object has a natural key (a phone, a name, an INN), so a second run finds it and writes
nothing. Names, phones and places come from one seeded random generator: the same size builds the same world.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.db import transaction

from backend.accounts.models import User
from backend.accounts.services import user_get_or_create_by_phone, user_update
from backend.booking.models import PatternKind, WorkPattern
from backend.booking.services.catalog import booking_policy_update, branch_service_set, service_booking_update
from backend.booking.services.schedules import work_pattern_create
from backend.catalog.models import BranchService, Resource, ResourceKind, Service, StaffService
from backend.catalog.services import resource_save, service_create, staff_service_save
from backend.core.progress import Progress
from backend.crm.models import Client, ClientSource, Vehicle
from backend.crm.services.client_import import ClientImportRow, client_bulk_upsert
from backend.crm.services.sources_groups import client_source_create
from backend.crm.services.vehicles_bulk import VehicleRow, vehicles_create_many
from backend.organizations.models import Branch, Membership, Organization, Role
from backend.organizations.services import membership_grant
from backend.staffing.models import CorporateClient, Site, SiteCondition, Worker, WorkerStatus
from backend.staffing.services.orders import client_create, site_create
from backend.staffing.services.pool_bulk import WorkerRow, workers_recruit_many, workers_status_change_many

T = TypeVar("T")

HQ = "Brigada Loaders HQ"
SALON = "Salon Aida"
CAR_SERVICE = "Tbilisi Auto Service"
#: The salon's sources: the channel mix the simulator books through (weights).
SOURCES: dict[str, float] = {"instagram": 0.38, "referral": 0.22, "google": 0.15, "2gis": 0.12, "walk-in": 0.13}
#: Where the agency's sites and workers are (the HQ's city, with a share around the Almaty franchise).
AGENCY_CITIES = ((Decimal("59.9300"), Decimal("30.3300"), 0.8), (Decimal("43.2500"), Decimal("76.9000"), 0.2))


@dataclass(frozen=True)
class WorldSize:
    """How big each business is, and how many days of history ``seed_demo`` simulates."""

    name: str
    workers: int
    corporate_clients: int
    sites: int
    masters: int
    services: int
    salon_clients: int
    bays: int
    mechanics: int
    car_clients: int
    history_days: int
    orders_per_day: float  # the agency's mean orders a weekday


SIZES: dict[str, WorldSize] = {
    # tests: the same structure, a few of each
    "tiny": WorldSize("tiny", 24, 3, 4, 4, 8, 60, 2, 2, 20, 14, 1.5),
    # CI's notebook warehouse (tests/notebooks): the tiny agency and a salon with enough clients for monthly
    # cohorts over 13 months and a churn back-test (calibration and holdout); the agency lives only the last weeks
    "ci": WorldSize("ci", 24, 3, 4, 4, 8, 300, 2, 2, 60, 400, 1.5),
    "small": WorldSize("small", 2000, 150, 300, 25, 60, 8000, 6, 6, 3000, 540, 6.0),
    "medium": WorldSize("medium", 6000, 400, 800, 60, 90, 25000, 12, 12, 9000, 540, 15.0),
}

_SALON_SERVICES = [
    ("Women's haircut", 60, 9000),
    ("Men's haircut", 45, 6000),
    ("Blow-dry", 45, 5000),
    ("Colouring", 120, 22000),
    ("Highlights", 150, 28000),
    ("Manicure", 60, 7000),
    ("Pedicure", 75, 9000),
    ("Gel polish", 60, 8000),
    ("Brow shaping", 30, 4000),
    ("Lash extensions", 120, 15000),
    ("Facial", 60, 12000),
    ("Massage", 60, 14000),
]
_CAR_SERVICES = [
    ("Oil change", 60, 120),
    ("Tyre change", 60, 80),
    ("Brake pads", 90, 180),
    ("Diagnostics", 60, 70),
    ("Wheel alignment", 60, 90),
    ("Air-con service", 90, 150),
]
_FIRST = ["Aigerim", "Dana", "Madina", "Saule", "Asel", "Aruzhan", "Dinara", "Zhanna", "Kamila", "Ainur", "Alina"]
_LAST = ["Nurlanova", "Seitkali", "Omarova", "Bekova", "Ismailova", "Abenova", "Tulegenova", "Kassymova"]
_MEN = ["Ivan", "Sergei", "Alexei", "Dmitri", "Nikolai", "Pavel", "Oleg", "Artem", "Yuri", "Maxim"]
_MEN_LAST = ["Petrov", "Ivanov", "Sidorov", "Volkov", "Kuznetsov", "Popov", "Sokolov", "Lebedev"]
_GE_FIRST = ["Giorgi", "Nino", "Levan", "Tamar", "David", "Mariam", "Irakli", "Ana"]
_GE_LAST = ["Beridze", "Kapanadze", "Gelashvili", "Lomidze", "Maisuradze", "Tsiklauri"]
_MAKES = [("Toyota", "Camry"), ("Toyota", "Prius"), ("Mercedes", "E200"), ("Opel", "Astra"), ("Honda", "Fit")]


def salon_client_phone(i: int) -> str:
    return f"+77053{i:06d}"


def car_client_phone(i: int) -> str:
    return f"+9955770{i:05d}"


def worker_phone(i: int) -> str:
    return f"+79164{i:06d}"


def master_phone(i: int) -> str:
    return f"+77071{i:06d}"


def mechanic_phone(i: int) -> str:
    return f"+9955990{i:05d}"


def inn_for(i: int) -> str:
    """A deterministic 10-digit organisation INN with a correct control digit."""
    body = f"78{i:07d}"
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    control = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11 % 10
    return body + str(control)


@dataclass
class BuildContext:
    admin: User
    size: WorldSize
    organizations: dict[str, Organization]
    stream: Any  # where progress bars go (a command's stdout), or None
    counts: dict[str, int]

    def bar(self, label: str, total: int) -> Progress:
        return Progress(label, total, stream=self.stream)


def _each(ctx: BuildContext, label: str, items: list[T], fn: Callable[[T], bool]) -> int:
    """Call ``fn`` on every item with a progress bar; returns how many it created (fn returns True for those)."""
    created = 0
    with ctx.bar(label, len(items)) as bar:
        for item in items:
            created += int(fn(item))
            bar.advance()
    return created


def _person(ctx: BuildContext, phone: str, first: str, last: str, language: str = "ru") -> User:
    user, created = user_get_or_create_by_phone(phone=phone, language=language, actor=ctx.admin)
    if created:
        user = user_update(user=user, actor=ctx.admin, first_name=first, last_name=last)
    return user


def _grant(ctx: BuildContext, user: User, org: Organization, role: str, branch: Branch | None = None) -> None:
    if not Membership.objects.filter(user=user, organization=org, role=role).exists():
        membership_grant(
            user=ctx.admin,
            member_id=user.pk,
            organization_id=org.pk,
            role=role,
            branch_id=branch.pk if branch else None,
        )


# --- booking businesses --------------------------------------------------------------------------------------------


def _services(ctx: BuildContext, org: Organization, catalogue: list[tuple[str, int, int]], n: int) -> list[Service]:
    """``n`` services: the catalogue, then numbered variants of it (a longer list of the same kinds of work)."""
    wanted: list[tuple[str, int, int]] = []
    for i in range(n):
        name, minutes, price = catalogue[i % len(catalogue)]
        tier = i // len(catalogue)
        wanted.append(
            (
                name
                if tier == 0
                else f"{name} ({['', 'senior', 'top', 'express', 'kids', 'VIP', 'XL', 'mini'][tier % 8]})",
                minutes,
                price + tier * price // 10,
            )
        )
    existing = {s.name: s for s in Service.objects.filter(organization=org)}
    out: list[Service] = []
    for name, minutes, price in wanted:
        service = existing.get(name)
        if service is None:
            service = service_create(
                user=ctx.admin, organization_id=org.pk, name=name, price=Decimal(price), duration_minutes=minutes
            )
            ctx.counts["services"] = ctx.counts.get("services", 0) + 1
        out.append(service)
    return out


def _offer_everywhere(ctx: BuildContext, branches: list[Branch], services: list[Service]) -> None:
    have = set(BranchService.objects.filter(branch__in=branches).values_list("branch_id", "service_id"))
    for branch in branches:
        for service in services:
            if (branch.pk, service.pk) not in have:
                branch_service_set(user=ctx.admin, branch_id=branch.pk, service_id=service.pk)


def _staff_at(
    ctx: BuildContext,
    org: Organization,
    branch: Branch,
    user: User,
    services: list[Service],
    *,
    start: dt.date,
    until: dt.date,
    weekdays: list[int],
) -> None:
    _grant(ctx, user, org, Role.MASTER, branch)
    have = set(StaffService.objects.filter(staff=user).values_list("service_id", flat=True))
    for service in services:
        if service.pk not in have:
            staff_service_save(
                user=ctx.admin, staff_service=StaffService(organization=org, staff=user, service=service)
            )
    # A pattern spans at most a year: one per year from the start of history to a season past today.
    have_patterns = set(WorkPattern.objects.filter(staff=user, branch=branch).values_list("anchor_date", flat=True))
    first = start
    while first <= until:
        last = min(first + dt.timedelta(days=365), until)
        if first not in have_patterns:
            work_pattern_create(
                user=ctx.admin,
                organization_id=org.pk,
                branch_id=branch.pk,
                staff_id=user.pk,
                kind=PatternKind.WEEKLY,
                anchor_date=first,
                end_date=last,
                day_start=dt.time(10),
                day_end=dt.time(20),
                breaks=[(dt.time(14), dt.time(15))],
                weekdays=weekdays,
            )
        first = last + dt.timedelta(days=1)


def _booking_policy(ctx: BuildContext, org: Organization) -> None:
    if not org.online_booking or org.booking_slot_step_minutes != 30 or org.booking_horizon_days < 60:
        booking_policy_update(
            user=ctx.admin,
            organization_id=org.pk,
            online_booking=True,
            slot_step_minutes=30,
            lead_time_minutes=0,
            horizon_days=60,
        )


def _clients_import(ctx: BuildContext, org: Organization, rows: list[ClientImportRow], label: str) -> None:
    have = set(Client.objects.filter(organization=org).values_list("phone", flat=True))
    todo = [r for r in rows if r.fields["phone"] not in have]
    with ctx.bar(label, len(rows)) as bar:
        bar.advance(len(rows) - len(todo))
        for start in range(0, len(todo), 1000):
            chunk = todo[start : start + 1000]
            with transaction.atomic():
                result = client_bulk_upsert(
                    user=ctx.admin, organization_id=org.pk, rows=chunk, batch_id=uuid.uuid4(), dry_run=False
                )
            ctx.counts[label] = ctx.counts.get(label, 0) + result.created
            bar.advance(len(chunk))


def history_start(today: dt.date, size: WorldSize) -> dt.date:
    return today - dt.timedelta(days=size.history_days)


def salon_build(ctx: BuildContext, *, start: dt.date, until: dt.date) -> None:
    org = ctx.organizations[SALON]
    rng = random.Random(f"salon:{ctx.size.name}")
    _booking_policy(ctx, org)
    branches = list(Branch.objects.filter(organization=org).order_by("id"))
    services = _services(ctx, org, _SALON_SERVICES, ctx.size.services)
    _offer_everywhere(ctx, branches, services)
    for i in range(ctx.size.masters):
        user = _person(ctx, master_phone(i), rng.choice(_FIRST), rng.choice(_LAST), "ru")
        branch = branches[i % len(branches)]
        # A master does a slice of the catalogue (a hairdresser, a nail master ...), six days of seven.
        speciality = [s for k, s in enumerate(services) if k % len(_SALON_SERVICES) // 3 == i % 4] or services
        day_off = i % 7
        _staff_at(
            ctx, org, branch, user, speciality, start=start, until=until, weekdays=[d for d in range(7) if d != day_off]
        )
    for name in SOURCES:
        if not ClientSource.objects.filter(organization=org, name=name).exists():
            client_source_create(user=ctx.admin, organization_id=org.pk, name=name)
    sources = list(SOURCES)
    weights = list(SOURCES.values())
    rows = []
    for i in range(ctx.size.salon_clients):
        female = rng.random() < 0.82
        first = rng.choice(_FIRST if female else _MEN)
        last = rng.choice(_LAST if female else _MEN_LAST)
        birthday = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 45)) if rng.random() < 0.7 else None
        fields: dict[str, Any] = {
            "phone": salon_client_phone(i),
            "first_name": first,
            "last_name": last,
            "gender": "female" if female else "male",
            "birthday": birthday,
        }
        rows.append(ClientImportRow(row=i + 1, fields=fields, source_name=rng.choices(sources, weights)[0]))
    _clients_import(ctx, org, rows, "salon clients")


def car_service_build(ctx: BuildContext, *, start: dt.date, until: dt.date) -> None:
    org = ctx.organizations[CAR_SERVICE]
    rng = random.Random(f"cars:{ctx.size.name}")
    _booking_policy(ctx, org)
    branch = Branch.objects.filter(organization=org).order_by("id").first()
    assert branch is not None
    have = set(Resource.objects.filter(branch=branch).values_list("name", flat=True))
    for i in range(ctx.size.bays):
        if f"Bay {i + 1}" not in have:
            resource_save(user=ctx.admin, resource=Resource(branch=branch, kind=ResourceKind.BAY, name=f"Bay {i + 1}"))
    services = _services(ctx, org, _CAR_SERVICES, len(_CAR_SERVICES))
    for service in services:
        if service.resource_kind != ResourceKind.BAY:
            service_booking_update(user=ctx.admin, service_id=service.pk, resource_kind=ResourceKind.BAY)
    _offer_everywhere(ctx, [branch], services)
    for i in range(ctx.size.mechanics):
        user = _person(ctx, mechanic_phone(i), rng.choice(_GE_FIRST), rng.choice(_GE_LAST), "en")
        _staff_at(
            ctx, org, branch, user, services, start=start, until=until, weekdays=[d for d in range(6) if d != i % 6]
        )
    rows = []
    for i in range(ctx.size.car_clients):
        fields: dict[str, Any] = {
            "phone": car_client_phone(i),
            "first_name": rng.choice(_GE_FIRST),
            "last_name": rng.choice(_GE_LAST),
        }
        rows.append(ClientImportRow(row=i + 1, fields=fields, source_name=None))
    _clients_import(ctx, org, rows, "car clients")
    with_car = set(Vehicle.objects.filter(organization=org).values_list("client_id", flat=True))
    todo = list(
        Client.objects.filter(organization=org).exclude(pk__in=with_car).order_by("id").values_list("pk", flat=True)
    )
    with ctx.bar("vehicles", len(todo)) as bar:
        for chunk in iter_chunks(todo, 1000):
            cars = [
                VehicleRow(
                    client_id=cid,
                    make=_MAKES[cid % len(_MAKES)][0],
                    model=_MAKES[cid % len(_MAKES)][1],
                    plate=f"{chr(65 + cid % 26)}{chr(65 + cid // 26 % 26)}-{cid % 1000:03d}-{cid % 97:02d}",
                    year=2005 + cid % 19,
                )
                for cid in chunk
            ]
            vehicles_create_many(user=ctx.admin, organization_id=org.pk, rows=cars)
            ctx.counts["vehicles"] = ctx.counts.get("vehicles", 0) + len(cars)
            bar.advance(len(cars))


# --- the agency ----------------------------------------------------------------------------------------------------


def _near(rng: random.Random) -> tuple[Decimal, Decimal]:
    lat, lon, _share = rng.choices(AGENCY_CITIES, [c[2] for c in AGENCY_CITIES])[0]
    return (
        (lat + Decimal(str(round(rng.uniform(-0.12, 0.12), 6)))).quantize(Decimal("0.000001")),
        (lon + Decimal(str(round(rng.uniform(-0.2, 0.2), 6)))).quantize(Decimal("0.000001")),
    )


def agency_build(ctx: BuildContext) -> None:
    hq = ctx.organizations[HQ]
    franchises = [o for o in ctx.organizations.values() if o.parent_id == hq.pk]
    rng = random.Random(f"agency:{ctx.size.name}")
    known = set(Worker.objects.filter(organization=hq).values_list("user__phone", flat=True))
    wanted = []
    for i in range(ctx.size.workers):
        lat, lon = _near(rng)  # drawn for every index, so a re-run draws the same places
        first, last = rng.choice(_MEN), rng.choice(_MEN_LAST)
        if worker_phone(i) not in known:
            skills = ["loader"] + (["driver"] if i % 5 == 0 else []) + (["rigger"] if i % 11 == 0 else [])
            wanted.append(WorkerRow(worker_phone(i), first, last, skills, lat, lon))
    # The demo's named worker (the one demo_info prints a token for) is in the pool too, so their token sees call-ups.
    from backend.demo.services import PEOPLE

    for person in PEOPLE:
        if person.role == Role.WORKER and person.phone not in known:
            lat, lon = _near(random.Random(f"person:{person.phone}"))
            wanted.append(WorkerRow(person.phone, person.first_name, person.last_name, ["loader"], lat, lon))
    with ctx.bar("workers", len(wanted)) as bar:
        for chunk in iter_chunks(wanted, 1000):
            with transaction.atomic():
                workers = workers_recruit_many(user=ctx.admin, organization_id=hq.pk, rows=chunk)
                ids = [w.pk for w in workers]
                workers_status_change_many(
                    user=ctx.admin, organization_id=hq.pk, worker_ids=ids, status=WorkerStatus.INTERVIEWED
                )
                workers_status_change_many(
                    user=ctx.admin, organization_id=hq.pk, worker_ids=ids, status=WorkerStatus.ACTIVE
                )
            ctx.counts["workers"] = ctx.counts.get("workers", 0) + len(chunk)
            bar.advance(len(chunk))

    owners = [hq, *franchises]
    have_clients = {c.inn: c for c in CorporateClient.objects.filter(organization__in=owners)}

    def corporate(i: int) -> bool:
        if inn_for(i) in have_clients:
            return False
        have_clients[inn_for(i)] = client_create(
            user=ctx.admin,
            organization_id=owners[i % len(owners)].pk,
            name=f"{rng.choice(['Stroy', 'Logist', 'Sklad', 'Market', 'Terminal'])} {i + 1} LLC",
            inn=inn_for(i),
            kpp="780101001",
        )
        return True

    ctx.counts["corporate clients"] = ctx.counts.get("corporate clients", 0) + _each(
        ctx, "corporate clients", list(range(ctx.size.corporate_clients)), corporate
    )
    clients = [have_clients[inn_for(i)] for i in range(ctx.size.corporate_clients)]
    have_sites = set(Site.objects.filter(client__in=clients).values_list("client_id", "name"))

    def place(i: int) -> bool:
        client = clients[i % len(clients)]
        name = f"Site {i + 1}"
        lat, lon = _near(rng)
        if (client.pk, name) in have_sites:
            return False
        site_create(
            user=ctx.admin,
            client_id=client.pk,
            name=name,
            address=f"Warehouse street {i + 1}",
            latitude=lat,
            longitude=lon,
            conditions=rng.choice([SiteCondition.OUTDOOR, SiteCondition.INDOOR, SiteCondition.WARM_WAREHOUSE]),
            time_zone="Asia/Almaty" if lat < 50 else "Europe/Moscow",
        )
        return True

    ctx.counts["sites"] = ctx.counts.get("sites", 0) + _each(ctx, "sites", list(range(ctx.size.sites)), place)


def businesses_build(ctx: BuildContext, *, start: dt.date, until: dt.date) -> None:
    """Build (or find) every business of the world at ``ctx.size``; masters' schedules run from ``start`` to
    ``until``."""
    salon_build(ctx, start=start, until=until)
    car_service_build(ctx, start=start, until=until)
    agency_build(ctx)


def iter_chunks(items: list[T], n: int) -> Iterable[list[T]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
