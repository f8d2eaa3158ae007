"""The tenancy walk's power: disable one tenancy guard at a time and the walk must report a hole.

Each guard is one selector or function the services rely on to keep a caller inside their organizations. Its
*mutant* keeps the signature and the role check ("does the caller hold this right somewhere?") but drops the
tenancy filter, which is the bug a hand edit or a refactor would introduce. The mutant replaces every binding of
the guard in the ``backend`` and ``mobile_api`` modules (``from x import guard`` copies included, so moving a
service into a package does not let it escape), the walk runs (stranger and mixed calls) on the routes named
below, and the test asserts it fails on each of them. Each check of the walk builds its own organizations in a
savepoint that is rolled back, so a route's verdict does not depend on which other routes are walked: walking only
the named ones proves the same as walking all of them, at a fraction of the time (ADR 0034). The walk over every
route with every guard in place is the first test below.

| guard (package: function)        | the mutant drops                      | the walk catches it on (at least)         |
| -------------------------------- | ------------------------------------- | ----------------------------------------- |
| org: organization_ids_for        | memberships (a right anywhere is a    | GET /booking/appointments/{id} stranger   |
|                                  | right in every organization)          |                                           |
| org: organization_access_check   | the 404 of every organization lookup  | POST /crm/clients, POST /crm/clients/bulk |
|                                  | (create, lists, bulk, export ...)     | stranger                                  |
| org: organization_get            | the organization lookup's access      | POST /crm/clients stranger                |
|                                  | check (client create)                 |                                           |
| org: tenant_row_for_change       | the row's organization filter (every  | PATCH /crm/clients/{client_id},           |
|                                  | change of a client or vehicle)        | .../restore, PATCH /crm/vehicles/{id}     |
| crm: client_get                  | the client card's organization filter | GET /crm/clients/{client_id} stranger     |
| crm: client_scope_ids            | the access check of a named           | GET /crm/clients, GET /crm/sources        |
|                                  | organization (lists)                  | stranger                                  |
| crm: client_references_check     | "of the client's organization":       | bulk mixed body.add_group_ids; PATCH      |
|                                  | any existing source, group or curator | client mixed body.source_id, curator_id;  |
|                                  | passes                                | POST /crm/clients mixed body.group_ids    |
| catalog: branch_get              | the branch's organization filter      | GET /catalog/services stranger            |
| org: organization_access_check,  | the import's own organization check   | POST /crm/imports stranger                |
| as bound in backend.imports only | (the row writer's check stays)        |                                           |
| imports: import_job_list         | the 404 for another organization's    | GET /crm/imports stranger                 |
|                                  | import history                        |                                           |
| crm: client_bulk_update (a line) | the organization filter on client_ids | bulk mixed body.client_ids                |
| crm: client_merge (lines)        | the duplicate's tenancy: its locked   | merge mixed body.duplicate_id             |
|                                  | lookup, the access check on its       |                                           |
|                                  | organization, the same-organization   |                                           |
|                                  | comparison                            |                                           |
| crm: client_list (a line)        | the organization filter of the list   | GET /crm/clients mixed query.group_id     |

(org: backend.organizations. Paths are under /api/v1. "stranger": another tenant sends my call; "mixed": my
call with one field naming a stranger's object.)

A guard that is a line inside a service rather than a function of its own ("(a line)" above) gets its mutant by
recompiling the service from its source with that line edited (``edited``); the test fails with "update its
mutant" when the line changes. A merge holds the duplicate with three checks, so its mutant drops all three: any
one of them alone still gives the 404.
"""

from __future__ import annotations
import __future__

import inspect
import sys
import textwrap
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model
from django.utils.translation import gettext as _

from backend.core.exceptions import NotFound, PermissionDenied, ValidationFailed
from backend.crm.models import Client, ClientGroup, ClientSource
from backend.imports.models import ImportJob
from backend.organizations.models import Branch, Membership, Organization
from backend.organizations.permissions import Perm
from mobile_api.api import api
from tests.api import tenancy_cases_registry  # noqa: F401  (fills CASES)
from tests.api.tenancy_cases import CASES, walk

# Disabling a guard and re-walking tests our Python guards and the walk that must catch them, not the database: it
# runs in the SQLite leg only (about six minutes on PostgreSQL), while the walk itself runs on both databases.
pytestmark = pytest.mark.skipif(
    connection.vendor == "postgresql", reason="the guard mutation walk runs in the SQLite leg (database-independent)"
)

SCHEMA: dict[str, Any] = dict(api.get_openapi_schema(path_prefix="/api/v1/"))
OUR_PACKAGES = ("backend.", "mobile_api.")
# The tenancy part of the walk: stranger and mixed calls (the mutants keep the role checks), one kind of stranger
# (the franchise relations exercise organization_ids_for, which has a mutant of its own).
WALK: dict[str, Any] = {"roles": False, "strangers": ("unrelated",)}


def _our_modules(prefixes: Sequence[str] = OUR_PACKAGES) -> list[types.ModuleType]:
    return [m for name, m in list(sys.modules.items()) if m is not None and name.startswith(tuple(prefixes))]


def original(name: str, home: str) -> Callable[..., Any]:
    """The function ``name`` defined under the package ``home``, wherever it lives now (a module split into a
    package keeps it findable)."""
    found = {
        id(fn): fn
        for module in _our_modules((home,))
        if callable(fn := getattr(module, name, None)) and getattr(fn, "__module__", "").startswith(home)
    }
    assert len(found) == 1, f"{name} under {home}: found {len(found)} definitions"
    return next(iter(found.values()))


def _holds_somewhere(user: Any, perm: Perm | str) -> None:
    """The role check every mutant keeps: the caller holds the right in *some* organization."""
    if not ORIGINAL_IDS_FOR(user, perm):
        raise PermissionDenied(_("Your role does not allow this action."))


ORIGINAL_IDS_FOR = original("organization_ids_for", "backend.organizations")


# --- the mutants: each drops one tenancy filter and keeps everything else -------------------------------------


def organization_ids_for_untenanted(user: Any, perm: Perm | str | None = None) -> set[int]:
    if not ORIGINAL_IDS_FOR(user, perm):
        return set()
    return set(Organization.objects.values_list("id", flat=True))


def organization_access_check_untenanted(user: Any, organization_id: int, perm: Perm | str) -> None:
    _holds_somewhere(user, perm)


def organization_get_untenanted(user: Any, organization_id: int, perm: Perm | str = Perm.ORG_VIEW) -> Organization:
    _holds_somewhere(user, perm)
    return Organization.objects.get(id=organization_id)


def tenant_row_for_change_untenanted(
    model: type[Model], pk: int, *, user: Any, perm: Perm | str, not_found: str | None = None
) -> Model:
    row = model._default_manager.select_for_update().filter(pk=pk).first()
    if row is None:
        raise NotFound(not_found or _("Not found."))
    _holds_somewhere(user, perm)
    return row


def client_get_untenanted(*, user: Any, client_id: int) -> Client:
    client = Client.objects.filter(id=client_id).select_related("source", "curator", "organization").first()
    if client is None:
        raise NotFound(_("Client not found."))
    _holds_somewhere(user, Perm.CLIENT_VIEW)
    return client


def client_scope_ids_untenanted(user: Any, organization_id: int | None, perm: Perm = Perm.CLIENT_VIEW) -> set[int]:
    _holds_somewhere(user, perm)
    return {organization_id} if organization_id is not None else ORIGINAL_IDS_FOR(user, perm)


def client_references_check_untenanted(
    organization_id: int,
    *,
    source_id: int | None = None,
    group_ids: Sequence[int] = (),
    curator_id: int | None = None,
) -> None:
    # Checks only that the objects exist, in any organization.
    unknown = (
        (source_id is not None and not ClientSource.objects.filter(id=source_id).exists())
        or (group_ids and ClientGroup.objects.filter(id__in=group_ids).count() != len(set(group_ids)))
        or (curator_id is not None and not Membership.objects.filter(user_id=curator_id).exists())
    )
    if unknown:
        raise ValidationFailed(_("Some references are invalid."), code="invalid_reference")


def branch_get_untenanted(*, user: Any, branch_id: int, perm: Perm = Perm.ORG_VIEW) -> Branch:
    branch = Branch.objects.filter(id=branch_id).select_related("organization").first()
    if branch is None:
        raise NotFound(_("Branch not found."))
    _holds_somewhere(user, perm)
    return branch


def import_job_list_untenanted(*, user: Any, organization_id: int | None = None) -> Any:
    _holds_somewhere(user, Perm.ORG_VIEW)
    qs = ImportJob.objects.all()
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    return qs.select_related("started_by").order_by("-started_at", "-id")


def edited(function: Callable[..., Any], old: str, new: str) -> Callable[..., Any]:
    """``function`` recompiled from its own source with ``old`` replaced by ``new``: the mutant of a guard that is a
    line inside a service rather than a function of its own (decorators such as ``transaction.atomic`` included)."""
    source = textwrap.dedent(inspect.getsource(inspect.unwrap(function)))
    assert source.count(old) == 1, f"{function.__qualname__} no longer contains {old!r}: update its mutant"
    code = compile(
        source.replace(old, new),
        inspect.getfile(function),
        "exec",
        flags=__future__.annotations.compiler_flag,
        dont_inherit=True,
    )
    namespace = dict(vars(sys.modules[function.__module__]))
    exec(code, namespace)  # our own source, edited by this test
    return namespace[function.__name__]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Edit:
    """A source edit that turns the guard into its mutant."""

    old: str
    new: str


@dataclass(frozen=True)
class Guard:
    name: str  # the function, as it is named in its module
    home: str  # the package that defines it
    mutant: Callable[..., Any] | Edit
    caught_on: tuple[str, ...]  # failure lines the walk must print, at least (their beginning)
    scope: tuple[str, ...] = OUR_PACKAGES  # the modules whose bindings are swapped

    def routes(self) -> set[tuple[str, str]]:
        """The (method, path) of every route named in ``caught_on``: the walk with this guard disabled runs on them
        (the assertions are about them only; the walk over every route with every guard in place runs below and in
        test_tenancy_walk.py)."""
        found = set()
        for line in self.caught_on:
            method, path = line.split(" [", 1)[0].split(" ", 1)
            assert (method.lower(), path) in CASES, f"{self}: no tenancy case for {line!r}"
            found.add((method.lower(), path))
        return found

    def __str__(self) -> str:
        where = "" if self.scope == OUR_PACKAGES else f"@{','.join(self.scope)}"
        return f"{self.home}.{self.name}{where}"


GUARDS = (
    Guard(
        "organization_ids_for",
        "backend.organizations",
        organization_ids_for_untenanted,
        # organization_access_check no longer goes through it (one recursive query of its own, ADR 0025 addendum):
        # the mutant shows on the routes that filter by organization_ids_for directly.
        ("GET /api/v1/booking/appointments/{appointment_id} [stranger]",),
    ),
    Guard(
        "organization_access_check",
        "backend.organizations",
        organization_access_check_untenanted,
        ("POST /api/v1/crm/clients [stranger]", "POST /api/v1/crm/clients/bulk [stranger]"),
    ),
    Guard(
        "organization_get",
        "backend.organizations",
        organization_get_untenanted,
        ("POST /api/v1/crm/clients [stranger]",),
    ),
    Guard(
        "tenant_row_for_change",
        "backend.organizations",
        tenant_row_for_change_untenanted,
        (
            "PATCH /api/v1/crm/clients/{client_id} [stranger]",
            "POST /api/v1/crm/clients/{client_id}/restore [stranger]",
            "PATCH /api/v1/crm/vehicles/{vehicle_id} [stranger]",
        ),
    ),
    Guard("client_get", "backend.crm", client_get_untenanted, ("GET /api/v1/crm/clients/{client_id} [stranger]",)),
    Guard(
        "client_scope_ids",
        "backend.crm",
        client_scope_ids_untenanted,
        ("GET /api/v1/crm/clients [stranger]", "GET /api/v1/crm/sources [stranger]"),
    ),
    Guard(
        "client_references_check",
        "backend.crm",
        client_references_check_untenanted,
        (
            "POST /api/v1/crm/clients/bulk [mixed body.add_group_ids]",
            "PATCH /api/v1/crm/clients/{client_id} [mixed body.source_id]",
            "PATCH /api/v1/crm/clients/{client_id} [mixed body.curator_id]",
            "POST /api/v1/crm/clients [mixed body.group_ids]",
        ),
    ),
    Guard("branch_get", "backend.catalog", branch_get_untenanted, ("GET /api/v1/catalog/services [stranger]",)),
    Guard(
        "organization_access_check",
        "backend.organizations",
        organization_access_check_untenanted,
        ("POST /api/v1/crm/imports [stranger]",),
        scope=("backend.imports",),
    ),
    Guard(
        "import_job_list",
        "backend.imports",
        import_job_list_untenanted,
        ("GET /api/v1/crm/imports [stranger]",),
    ),
    # Guards that are lines inside a service or selector:
    Guard(
        "client_bulk_update",
        "backend.crm",
        Edit(
            "Client.objects.filter(organization_id=organization_id, id__in=ids,",
            "Client.objects.filter(id__in=ids,",
        ),
        ("POST /api/v1/crm/clients/bulk [mixed body.client_ids]",),
    ),
    Guard(
        "client_merge",
        "backend.crm",
        Edit(
            """.filter(organization_id__in=organization_ids_for(user))
        .order_by("id")
    }
    if len(locked) != 2:
        raise NotFound(_("Client not found."))
    survivor, duplicate = locked[client_id], locked[duplicate_id]
    for client in (survivor, duplicate):
        organization_access_check(user, client.organization_id, Perm.CLIENT_CHANGE)
    organization_access_check(user, duplicate.organization_id, Perm.CLIENT_DELETE)
    if survivor.organization_id != duplicate.organization_id:
        raise NotFound(_("Client not found."))""",
            """.order_by("id")
    }
    if len(locked) != 2:
        raise NotFound(_("Client not found."))
    survivor, duplicate = locked[client_id], locked[duplicate_id]
    organization_access_check(user, survivor.organization_id, Perm.CLIENT_CHANGE)
    organization_access_check(user, survivor.organization_id, Perm.CLIENT_DELETE)""",
        ),
        ("POST /api/v1/crm/clients/{client_id}/merge [mixed body.duplicate_id]",),
    ),
    Guard(
        "client_list",
        "backend.crm",
        Edit("Client.objects.filter(organization_id__in=org_ids)", "Client.objects.all()"),
        ("GET /api/v1/crm/clients [mixed query.group_id]",),
    ),
)


def disable(monkeypatch: pytest.MonkeyPatch, guard: Guard) -> int:
    """Swap every binding of the guard in ``guard.scope`` for its mutant; returns how many were swapped."""
    target = original(guard.name, guard.home)
    mutant = edited(target, guard.mutant.old, guard.mutant.new) if isinstance(guard.mutant, Edit) else guard.mutant
    swapped = 0
    for module in _our_modules(guard.scope):
        for attr, value in list(vars(module).items()):
            if value is target:
                monkeypatch.setattr(module, attr, mutant)
                swapped += 1
    return swapped


@pytest.mark.django_db
def test_the_walk_passes_with_every_guard_in_place() -> None:
    assert walk(SCHEMA, **WALK) == []


@pytest.mark.django_db
@pytest.mark.parametrize("guard", GUARDS, ids=str)
def test_the_walk_reports_the_hole_a_disabled_guard_leaves(monkeypatch: pytest.MonkeyPatch, guard: Guard) -> None:
    assert disable(monkeypatch, guard) > 0, f"{guard} is no longer used: update the table in this module"

    failures = walk(SCHEMA, **WALK, routes=guard.routes())

    missed = [line for line in guard.caught_on if not any(f.startswith(line) for f in failures)]
    assert failures, f"the walk did not notice {guard} disabled"
    assert missed == [], f"expected failures missing: {missed}; the walk reported: {failures}"
