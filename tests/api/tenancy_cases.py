"""The tenancy walk: how to call every API route that takes an object id, and the checks run on each call.

A route takes an object id when the OpenAPI document gives it a path parameter, or a query parameter, JSON body
field or multipart form field named ``*_id`` / ``*_ids`` (nested objects and arrays of objects included, $refs
resolved). ``id_fields`` derives that set; ``tests/api/test_tenancy_walk.py`` fails when a route has no
``TenancyCase`` or its case leaves one of the route's id fields out, so a new route or a new body field cannot ship
without its tenancy check.

A case builds a *full* call inside one organization (``build``): every id field filled with an object of that
organization. From two such calls (mine and a stranger's) the walk derives:

* **stranger**: another tenant's owner sends my call: 404 ``not_found``, nothing changed (another tenant: an
  unrelated organization, a sibling franchise under the same HQ, or a franchise of mine when I am the HQ);
* **mixed**: my owner sends my call with one id field taken from the stranger's call (a list field gets mine *and*
  theirs): the refusal the case documents for that field (404 by default, 422 ``invalid_reference`` for a
  reference a service validates, or a list that stays inside my organization), nothing changed;
* **roles**: in my organization, every role the role → right table (``ROLE_PERMISSIONS``) gives the route's
  right succeeds, every role it does not is a 403 ``forbidden`` with nothing changed; the strongest such role
  (the most rights) is checked on its own as well.

The checks return failures instead of asserting, so ``test_tenancy_guards.py`` can run the whole walk with one
guard disabled and see it report the hole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from backend.organizations.models import Organization, Role
from backend.organizations.permissions import ROLE_PERMISSIONS, Perm
from tests.conftest import ApiClient, member
from tests.factories import OrganizationFactory

METHODS = ("get", "post", "put", "patch", "delete")
_ID_NAME = re.compile(r".+_ids?$")
_REF_PREFIX = "#/components/schemas/"


# --- the calls ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request, split by where its values go. ``files`` maps a form field to (file name, content)."""

    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


@dataclass(frozen=True)
class Expect:
    """What a refused call answers. ``scoped``: a 200 list whose items all belong to the caller's organization
    (a list filter naming a stranger's object finds nothing of theirs; it is sent without the other such filters).
    Only query filters may be ``scoped``."""

    status: int = 404
    code: str | None = "not_found"
    scoped: bool = False


NOT_FOUND = Expect()
INVALID_REFERENCE = Expect(422, "invalid_reference")
SCOPED_LIST = Expect(200, None, scoped=True)


@dataclass(frozen=True)
class TenancyCase:
    # A call with every id field filled with objects of ``organization`` (a valid body: validation runs before
    # the view, so an invalid one would hide the 404).
    build: Callable[[Organization], Call]
    # The rights the route needs (all of them, or any one with ``needs_any``): read against ROLE_PERMISSIONS.
    needs: tuple[Perm, ...] = ()
    needs_any: bool = False
    # The answer when one field carries a stranger's id, by field key ("body.source_id"); 404 when not named.
    refusals: Mapping[str, Expect] = field(default_factory=dict)
    # The answer to a role of the organization without the right: a 403, unless the right also decides whether the
    # object may be known to exist (a deleted client), where a 403 would confirm it and the answer is a 404.
    without_right: Expect = field(default_factory=lambda: Expect(403, "forbidden"))
    # For routes on the caller's own objects (a worker's offer): the roles check builds its call for the member it
    # checks, ``build_for(organization, user)``; the stranger and mixed checks still use ``build``.
    build_for: Callable[[Organization, Any], Call] | None = None


CASES: dict[tuple[str, str], TenancyCase] = {}


def register(method: str, path: str, case: TenancyCase) -> None:
    CASES[(method.lower(), path)] = case


# --- id fields, from the OpenAPI document and from a call --------------------------------------------------------


def operations(schema: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m, path): op for path, ops in schema["paths"].items() for m, op in ops.items() if m in METHODS}


def _resolve(
    node: Mapping[str, Any], components: Mapping[str, Any], seen: frozenset[str]
) -> tuple[Any, frozenset[str]]:
    ref = node.get("$ref")
    if not ref:
        return node, seen
    if ref in seen:  # a recursive schema: its fields were already listed one level up
        return {}, seen
    assert ref.startswith(_REF_PREFIX), ref
    return _resolve(components[ref.removeprefix(_REF_PREFIX)], components, seen | {ref})


def _schema_fields(
    node: Mapping[str, Any], components: Mapping[str, Any], prefix: str, seen: frozenset[str] = frozenset()
) -> Iterator[str]:
    """Keys ``prefix + name`` of every property named *_id/*_ids, into nested objects and arrays of objects."""
    node, seen = _resolve(node, components, seen)
    for combinator in ("allOf", "anyOf", "oneOf"):
        for part in node.get(combinator, ()):
            yield from _schema_fields(part, components, prefix, seen)
    if "items" in node:
        yield from _schema_fields(node["items"], components, prefix.removesuffix(".") + "[].", seen)
    for name, sub in node.get("properties", {}).items():
        if _ID_NAME.fullmatch(name):
            yield prefix + name
        yield from _schema_fields(sub, components, f"{prefix}{name}.", seen)


def id_fields(schema: Mapping[str, Any], op: Mapping[str, Any]) -> set[str]:
    """Every id an operation takes: "path.x", "query.x_id", "body.a.b_ids", "body.items[].x_id", "form.x_id"."""
    found: set[str] = set()
    for param in op.get("parameters", ()):
        name = str(param.get("name", ""))
        if param.get("in") == "path" or (param.get("in") == "query" and _ID_NAME.fullmatch(name)):
            found.add(f"{param['in']}.{name}")
    components = schema.get("components", {}).get("schemas", {})
    for content_type, media in op.get("requestBody", {}).get("content", {}).items():
        where = "body" if content_type == "application/json" else "form"
        found.update(_schema_fields(media.get("schema", {}), components, f"{where}."))
    return found


def _value_fields(value: Any, prefix: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        for name, sub in value.items():
            if _ID_NAME.fullmatch(name):
                yield prefix + name
            yield from _value_fields(sub, f"{prefix}{name}.")
    elif isinstance(value, list):
        for item in value:
            yield from _value_fields(item, prefix.removesuffix(".") + "[].")


def call_fields(call: Call) -> set[str]:
    """The id fields a call fills, in the keys ``id_fields`` uses."""
    found = {f"path.{name}" for name in call.path}
    found |= {f"query.{name}" for name in call.query if _ID_NAME.fullmatch(name)}
    found |= set(_value_fields(call.body or {}, "body."))
    found |= set(_value_fields(call.form or {}, "form."))
    return found


def _swap(mine: Any, theirs: Any, steps: list[str]) -> Any:
    """``mine`` with the value at ``steps`` taken from ``theirs``; a list of ids gets mine and theirs."""
    step = steps[0]
    if step.endswith("[]"):
        name = step.removesuffix("[]")
        items = [_swap(m, t, steps[1:]) for m, t in zip(mine[name], theirs[name], strict=False)]
        return {**mine, name: items + mine[name][len(items) :]}
    if len(steps) > 1:
        return {**mine, step: _swap(mine[step], theirs[step], steps[1:])}
    value = theirs[step]
    return {**mine, step: [*mine[step], *value] if isinstance(value, list) else value}


def mixed_call(mine: Call, theirs: Call, key: str) -> Call:
    """My call with the id field ``key`` carrying the stranger's object."""
    where, _, rest = key.partition(".")
    steps = rest.replace("[].", "[]\x00").replace(".", "\x00").split("\x00")
    return replace(mine, **{where: _swap(getattr(mine, where), getattr(theirs, where), steps)})


# --- roles, from the role -> right table --------------------------------------------------------------------


def role_holds(role: str, case: TenancyCase) -> bool:
    granted = ROLE_PERMISSIONS.get(role, frozenset())
    if not case.needs:
        return True
    return any(p in granted for p in case.needs) if case.needs_any else all(p in granted for p in case.needs)


def roles_lacking(case: TenancyCase) -> list[str]:
    return [role for role in Role.values if not role_holds(role, case)]


def strongest_roles_lacking(case: TenancyCase) -> list[str]:
    """The roles without the route's right that hold the most rights (all of them when several tie)."""
    lacking = roles_lacking(case)
    if not lacking:
        return []
    most = max(len(ROLE_PERMISSIONS[r]) for r in lacking)
    return [r for r in lacking if len(ROLE_PERMISSIONS[r]) == most]


# --- sending and checking -------------------------------------------------------------------------------------


def send(client: ApiClient, method: str, path: str, call: Call) -> Any:
    url = re.sub(r"\{(\w+)\}", lambda m: str(call.path[m.group(1)]), path)
    query = {k: v for k, v in call.query.items() if v is not None}
    if method == "get":
        return client.get(url, data=query)
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    if call.form is not None or call.files:
        data: dict[str, Any] = {k: v for k, v in (call.form or {}).items() if v is not None}
        data.update({name: SimpleUploadedFile(fname, content) for name, (fname, content) in call.files.items()})
        return client.post(url, data=data)
    if method == "delete":
        return client.delete(url)
    return getattr(client, method)(url, json=call.body if call.body is not None else {})


# Tables that only reference data lives in (content types, permissions) are left out of the snapshot.
_STATIC_TABLES = {"contenttypes.ContentType", "auth.Permission"}


def db_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: a refused call must leave all of them as they were."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values_list())
        for model in apps.get_models()
        if model._meta.label not in _STATIC_TABLES and not model._meta.proxy
    }


def _changes(before: Mapping[str, list[Any]], after: Mapping[str, list[Any]]) -> list[str]:
    return [label for label in before if before[label] != after[label]]


def _body(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _judge(response: Any, expect: Expect, organization: Organization) -> str | None:
    payload = _body(response)
    if response.status_code != expect.status:
        return f"answered {response.status_code} instead of {expect.status}: {response.content[:200]!r}"
    if expect.code is not None:
        code = (payload or {}).get("error", {}).get("code")
        if code != expect.code:
            return f"answered code {code!r} instead of {expect.code!r}"
    if expect.scoped:
        foreign = [i for i in (payload or {}).get("items", []) if i.get("organization_id") != organization.pk]
        if foreign:
            return f"listed {len(foreign)} item(s) of another organization"
    return None


def _isolated(run: Callable[[], str | None]) -> str | None:
    """Run one check in a savepoint that is rolled back: checks do not see each other's rows, and a database
    error (possible with a guard disabled) does not poison the rest of the walk on PostgreSQL."""
    try:
        with transaction.atomic():
            try:
                return run()
            finally:
                transaction.set_rollback(True)
    except Exception as exc:  # a disabled guard may well end in a server error: that is a failure, not a crash
        return f"raised {type(exc).__name__}: {exc}"


def _refused(client: ApiClient, method: str, path: str, call: Call, expect: Expect, org: Organization) -> str | None:
    before = db_snapshot()
    problem = _judge(send(client, method, path, call), expect, org)
    changed = _changes(before, db_snapshot())
    if changed:
        problem = "; ".join(filter(None, [problem, f"changed {', '.join(changed)}"]))
    return problem


def _unrelated() -> tuple[Organization, Organization]:
    return OrganizationFactory(), OrganizationFactory()


def _sibling_franchise() -> tuple[Organization, Organization]:
    hq = OrganizationFactory()
    return OrganizationFactory(parent=hq), OrganizationFactory(parent=hq)


def _franchise_below() -> tuple[Organization, Organization]:
    hq = OrganizationFactory()
    return hq, OrganizationFactory(parent=hq)


# Who the stranger is (mine, theirs): HQ memberships cover franchises, so a sibling franchise and a franchise
# looking up at its HQ's own data are strangers too.
STRANGERS: dict[str, Callable[[], tuple[Organization, Organization]]] = {
    "unrelated": _unrelated,
    "sibling franchise": _sibling_franchise,
    "franchise below": _franchise_below,
}


def check_stranger(method: str, path: str, case: TenancyCase, stranger: str = "unrelated") -> str | None:
    """Another tenant's owner sends my call: 404, nothing changed."""

    def run() -> str | None:
        mine, theirs = STRANGERS[stranger]()
        call = case.build(mine)
        return _refused(ApiClient(member(theirs, Role.OWNER)), method, path, call, NOT_FOUND, theirs)

    return _isolated(run)


def mixed_fields(schema: Mapping[str, Any], method: str, path: str) -> list[str]:
    """The fields that get a mixed call: every id field of a route that takes more than one (with a single one,
    the mixed call would be the stranger's call again)."""
    fields_ = id_fields(schema, operations(schema)[(method, path)])
    return sorted(fields_) if len(fields_) > 1 else []


def check_mixed(method: str, path: str, case: TenancyCase, key: str) -> str | None:
    """My owner sends my call with ``key`` naming the stranger's object: the documented refusal, nothing changed."""

    expect = case.refusals.get(key, NOT_FOUND)

    def run() -> str | None:
        mine = OrganizationFactory()
        owner = member(mine, Role.OWNER)
        call = mixed_call(case.build(mine), case.build(OrganizationFactory()), key)
        if expect.scoped:
            # A foreign filter goes alone: next to my other filters it could never match a stranger's object,
            # and a list that forgot its organization filter would pass unseen.
            others = {k.partition(".")[2] for k, e in case.refusals.items() if e.scoped and k != key}
            call = replace(call, query={k: v for k, v in call.query.items() if k not in others})
        return _refused(ApiClient(owner), method, path, call, expect, mine)

    return _isolated(run)


def check_role(method: str, path: str, case: TenancyCase, role: str) -> str | None:
    """A role with the route's right succeeds; one without it gets a 403 and changes nothing."""

    def run() -> str | None:
        mine = OrganizationFactory()
        caller = member(mine, role)
        call = case.build_for(mine, caller) if case.build_for is not None else case.build(mine)
        client = ApiClient(caller)
        if not role_holds(role, case):
            return _refused(client, method, path, call, case.without_right, mine)
        response = send(client, method, path, call)
        if not 200 <= response.status_code < 300:
            return f"{role} holds the right but got {response.status_code}: {response.content[:200]!r}"
        return None

    return _isolated(run)


def walk(
    schema: Mapping[str, Any],
    *,
    roles: bool = True,
    strangers: Iterable[str] = tuple(STRANGERS),
    routes: Collection[tuple[str, str]] | None = None,
) -> list[str]:
    """Run every check of every case (of ``routes`` only, (method, path) pairs, when given); one line per failure
    ("METHOD path [check]: problem"). Each check builds its own organizations in a savepoint that is rolled back, so
    a route's checks answer the same whether the other routes are walked too or not."""
    failures: list[str] = []
    for (method, path), case in sorted(CASES.items()):
        if routes is not None and (method, path) not in routes:
            continue
        checks: list[tuple[str, Callable[[], str | None]]] = [
            ("stranger" if s == "unrelated" else f"stranger {s}", partial(check_stranger, method, path, case, s))
            for s in strangers
        ]
        for key in mixed_fields(schema, method, path):
            checks.append((f"mixed {key}", partial(check_mixed, method, path, case, key)))
        if roles:
            for role in Role.values:
                checks.append((f"role {role}", partial(check_role, method, path, case, role)))
        for name, check in checks:
            problem = check()
            if problem:
                failures.append(f"{method.upper()} {path} [{name}]: {problem}")
    return failures
