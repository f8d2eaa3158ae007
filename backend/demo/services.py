"""The demo world: a few organizations of different kinds with staff in every role.

Idempotent: running it again finds what exists (by phone and name) instead of duplicating. Everything is written
through the domain services with the demo admin as the actor, so the event log holds the demo world like any other
data. The demo-world issue grows this into a simulated history; until then it is a small, realistic placeholder.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models, transaction

from backend.accounts.models import User
from backend.accounts.services import (
    superuser_bootstrap,
    user_get_or_create_by_phone,
    user_password_set,
    user_update,
)
from backend.organizations.models import Branch, Membership, Organization, OrganizationKind, Role
from backend.organizations.services import (
    branch_create,
    branch_update,
    membership_grant,
    organization_create,
    organization_update,
)

DEMO_ADMIN_PHONE = "+77010000000"


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
    admin: User | None = None  # the actor every builder writes as
    # Set only when this run created the admin or reset its password: shown once, stored only as a hash.
    admin_password: str | None = None
    organizations: list[Organization] = field(default_factory=list)
    people: list[tuple[DemoPerson, User]] = field(default_factory=list)
    extras: dict[str, int] = field(default_factory=dict)


ORGANIZATIONS: list[dict[str, Any]] = [
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
        "name": "Brigada Loaders Pushkin",
        "kind": OrganizationKind.STAFFING_AGENCY,
        "country": "RU",
        "time_zone": "Europe/Moscow",
        "currency": "RUB",
        "parent": "Brigada Loaders HQ",
        "branches": [("Pushkin, Oranzhereinaya", "Oranzhereinaya st 2", Decimal("59.7200"), Decimal("30.4100"))],
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
            ("Aida on Satpaev", "Satpaev st 30", Decimal("43.2360"), Decimal("76.9170")),
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

# Later issues register extra demo builders (clients, services, bookings, shifts) here. A builder writes through
# the services with ``report.admin`` as the actor, like everything above.
EXTRA_BUILDERS: list[Callable[[DemoReport], None]] = []


def demo_admin_password_new() -> str:
    """A fresh random password for the demo back office (about 96 bits)."""
    return secrets.token_urlsafe(12)


def _differs(instance: models.Model, values: Mapping[str, Any]) -> dict[str, Any]:
    # Compared as Python values, so Decimal("43.27") and a stored 43.270000 are equal and no empty event is written.
    return {name: value for name, value in values.items() if getattr(instance, name) != value}


def _organization_upsert(admin: User, spec: Mapping[str, Any], by_name: dict[str, Organization]) -> Organization:
    parent = by_name[str(spec["parent"])] if spec["parent"] else None
    values = {k: spec[k] for k in ("name", "kind", "country", "time_zone", "currency")}
    org = Organization.objects.filter(name=spec["name"]).first()
    if org is None:
        org = organization_create(user=admin, data={**values, "parent": parent})
    else:
        changes = _differs(org, {**values, "parent_id": parent.pk if parent else None})
        if changes:
            if "parent_id" in changes:
                changes["parent"] = changes.pop("parent_id")
            org = organization_update(user=admin, organization_id=org.pk, data=changes)
    for name, address, lat, lon in spec["branches"]:
        place = {"address": address, "latitude": lat, "longitude": lon}
        branch = Branch.objects.filter(organization=org, name=name).first()
        if branch is None:
            branch_create(user=admin, organization_id=org.pk, data={"name": name, **place})
        elif changes := _differs(branch, place):
            branch_update(user=admin, branch_id=branch.pk, data=changes)
    return org


def _admin_ensure(*, reset_password: bool, report: DemoReport) -> User:
    admin = User.objects.filter(phone=DEMO_ADMIN_PHONE).first()
    if admin is None:
        report.admin_password = demo_admin_password_new()
        return superuser_bootstrap(
            phone=DEMO_ADMIN_PHONE,
            password=report.admin_password,
            first_name="Demo",
            last_name="Admin",
            created_by="seed_demo",
        )
    if reset_password:
        report.admin_password = demo_admin_password_new()
        user_password_set(user=admin, actor=admin, password=report.admin_password)
    return admin


@transaction.atomic
def demo_world_seed(*, reset_admin_password: bool = False) -> DemoReport:
    """Create (or refresh) the demo organizations, staff and admin login, all through the services.

    The admin gets a random password when it is created (or when ``reset_admin_password``); the report carries it
    so the caller can show it once. It is never stored in clear.
    """
    report = DemoReport()
    admin = _admin_ensure(reset_password=reset_admin_password, report=report)
    report.admin = admin
    by_name: dict[str, Organization] = {}
    for spec in ORGANIZATIONS:
        org = _organization_upsert(admin, spec, by_name)
        by_name[org.name] = org
        report.organizations.append(org)

    for person in PEOPLE:
        user, created = user_get_or_create_by_phone(phone=person.phone, language=person.language, actor=admin)
        if created:
            user = user_update(user=user, actor=admin, first_name=person.first_name, last_name=person.last_name)
        organization = by_name[person.organization]
        if not Membership.objects.filter(user=user, organization=organization, role=person.role).exists():
            membership_grant(user=admin, member_id=user.pk, organization_id=organization.pk, role=person.role)
        report.people.append((person, user))

    for build in EXTRA_BUILDERS:
        build(report)
    return report


@dataclass
class WorldReport:
    seed: DemoReport
    size: str
    counts: dict[str, int]
    events_written: int


def demo_world_build(
    *, size: str, stream: Any = None, reset_admin_password: bool = False, today: Any = None
) -> WorldReport:
    """The demo organizations and people (:func:`demo_world_seed`), then every business at ``size``
    (``backend.demo.world.SIZES``). Idempotent: a second run finds everything and writes no event."""
    import datetime as dt

    from backend.core.models import Event
    from backend.demo.simulator.booking import SCHEDULE_AHEAD_DAYS
    from backend.demo.world import SIZES, BuildContext, businesses_build, history_start

    spec = SIZES[size]
    events_before = Event.objects.count()
    report = demo_world_seed(reset_admin_password=reset_admin_password)
    assert report.admin is not None
    today = today or dt.date.today()
    ctx = BuildContext(
        admin=report.admin,
        size=spec,
        organizations={o.name: o for o in report.organizations},
        stream=stream,
        counts={},
    )
    businesses_build(
        ctx,
        start=history_start(today, spec) - dt.timedelta(days=7),
        until=today + dt.timedelta(days=SCHEDULE_AHEAD_DAYS),
    )
    return WorldReport(seed=report, size=size, counts=ctx.counts, events_written=Event.objects.count() - events_before)


#: Where the dispatchers' live order board and the salon's journal are served (the back office's live pages,
#: backend.backoffice.urls).
LIVE_BOARD_PATH = "/backoffice/staffing/board/"
JOURNAL_PATH = "/backoffice/booking/journal/"
#: A customer of the salon for the customer token (the first demo salon client's phone, so bookings find them).
DEMO_CUSTOMER_PHONE = "+77053000000"


@dataclass(frozen=True)
class DemoToken:
    role: str
    phone: str
    organization: str
    access_token: str


def demo_tokens_issue() -> list[DemoToken]:
    """A fresh bearer token for one demo person of every role, and one for a salon customer (through the token
    service, recorded as issued by the demo). Refuses (LookupError) when the demo world is not seeded."""
    from backend.accounts.tokens import token_pair_issue_by_operator

    tokens = []
    seen: set[str] = set()
    for person in PEOPLE:
        if person.role in seen:
            continue
        user = User.objects.filter(phone=person.phone, is_active=True).first()
        if user is None:
            raise LookupError("the demo world is not seeded")
        seen.add(person.role)
        pair = token_pair_issue_by_operator(user=user, issued_by="demo", user_agent="make demo")
        tokens.append(DemoToken(person.role, person.phone, person.organization, pair.access_token))
    customer, _created = user_get_or_create_by_phone(phone=DEMO_CUSTOMER_PHONE, language="ru")
    pair = token_pair_issue_by_operator(user=customer, issued_by="demo", user_agent="make demo")
    tokens.append(DemoToken("customer", DEMO_CUSTOMER_PHONE, "Salon Aida (books online)", pair.access_token))
    return tokens
