"""The demo world: a few organizations of different kinds with staff in every role.

Idempotent: running it again finds what exists (by phone and name) instead of duplicating. The demo-world
issue grows this into a simulated history; until then it is a small, realistic placeholder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from backend.accounts.models import User
from backend.organizations.models import Branch, Membership, Organization, OrganizationKind, Role

DEMO_ADMIN_PHONE = "+77010000000"
DEMO_ADMIN_PASSWORD = "brigada-demo"


@dataclass(frozen=True)
class DemoPerson:
    phone: str
    first_name: str
    last_name: str
    role: str
    organization: str
    language: str = "ru"


@dataclass
class DemoReport:
    organizations: list[Organization] = field(default_factory=list)
    people: list[tuple[DemoPerson, User]] = field(default_factory=list)
    extras: dict[str, int] = field(default_factory=dict)


ORGANIZATIONS: list[dict[str, object]] = [
    {
        "name": "Brigada Loaders HQ",
        "kind": OrganizationKind.STAFFING_AGENCY,
        "country": "RU",
        "time_zone": "Europe/Moscow",
        "currency": "RUB",
        "parent": None,
        "branches": [("St Petersburg, Ligovsky", "Ligovsky pr. 50", Decimal("59.9200"), Decimal("30.3550"))],
    },
    {
        "name": "Brigada Loaders Almaty",
        "kind": OrganizationKind.STAFFING_AGENCY,
        "country": "KZ",
        "time_zone": "Asia/Almaty",
        "currency": "KZT",
        "parent": "Brigada Loaders HQ",
        "branches": [("Almaty, Raiymbek", "Raiymbek ave 348", Decimal("43.2700"), Decimal("76.8800"))],
    },
    {
        "name": "Salon Aida",
        "kind": OrganizationKind.BEAUTY_SALON,
        "country": "KZ",
        "time_zone": "Asia/Almaty",
        "currency": "KZT",
        "parent": None,
        "branches": [
            ("Aida on Abay", "Abay ave 10", Decimal("43.2389"), Decimal("76.9286")),
            ("Aida on Dostyk", "Dostyk ave 85", Decimal("43.2330"), Decimal("76.9560")),
        ],
    },
    {
        "name": "Tbilisi Auto Service",
        "kind": OrganizationKind.CAR_SERVICE,
        "country": "GE",
        "time_zone": "Asia/Tbilisi",
        "currency": "GEL",
        "parent": None,
        "branches": [("Saburtalo bays", "Vazha-Pshavela ave 45", Decimal("41.7251"), Decimal("44.7445"))],
    },
]

PEOPLE: list[DemoPerson] = [
    DemoPerson("+77010000001", "Aida", "Nurlanova", Role.OWNER, "Salon Aida", "kk"),
    DemoPerson("+77010000002", "Dana", "Seitkali", Role.MANAGER, "Salon Aida"),
    DemoPerson("+77010000003", "Madina", "Omarova", Role.MASTER, "Salon Aida"),
    DemoPerson("+77010000004", "Ainur", "Bekova", Role.ANALYST, "Salon Aida", "en"),
    DemoPerson("+79110000001", "Sergei", "Volkov", Role.OWNER, "Brigada Loaders HQ"),
    DemoPerson("+79110000002", "Olga", "Smirnova", Role.DISPATCHER, "Brigada Loaders HQ"),
    DemoPerson("+79110000003", "Ivan", "Petrov", Role.WORKER, "Brigada Loaders HQ"),
    DemoPerson("+77010000005", "Yerlan", "Abenov", Role.MANAGER, "Brigada Loaders Almaty"),
    DemoPerson("+995555000001", "Giorgi", "Beridze", Role.MANAGER, "Tbilisi Auto Service", "en"),
]

# Later issues register extra demo builders (clients, services, bookings, shifts) here.
EXTRA_BUILDERS: list[Callable[[DemoReport], None]] = []


def _organization_upsert(spec: dict[str, object], by_name: dict[str, Organization]) -> Organization:
    parent_name = spec["parent"]
    org, _ = Organization.objects.update_or_create(
        name=spec["name"],
        defaults={
            "kind": spec["kind"],
            "country": spec["country"],
            "time_zone": spec["time_zone"],
            "currency": spec["currency"],
            "parent": by_name[str(parent_name)] if parent_name else None,
        },
    )
    for name, address, lat, lon in spec["branches"]:  # type: ignore[attr-defined]
        Branch.objects.update_or_create(
            organization=org, name=name, defaults={"address": address, "latitude": lat, "longitude": lon}
        )
    return org


@transaction.atomic
def demo_world_seed() -> DemoReport:
    """Create (or refresh) the demo organizations, staff and admin login."""
    report = DemoReport()
    by_name: dict[str, Organization] = {}
    for spec in ORGANIZATIONS:
        org = _organization_upsert(spec, by_name)
        by_name[org.name] = org
        report.organizations.append(org)

    admin = User.objects.filter(phone=DEMO_ADMIN_PHONE).first()
    if admin is None:
        admin = User.objects.create_superuser(
            DEMO_ADMIN_PHONE, DEMO_ADMIN_PASSWORD, first_name="Demo", last_name="Admin"
        )

    for person in PEOPLE:
        user = User.objects.filter(phone=person.phone).first()
        if user is None:
            user = User.objects.create_user(
                person.phone,
                first_name=person.first_name,
                last_name=person.last_name,
                language=person.language,
            )
        Membership.objects.get_or_create(
            user=user, organization=by_name[person.organization], role=person.role
        )
        report.people.append((person, user))

    for build in EXTRA_BUILDERS:
        build(report)
    return report
