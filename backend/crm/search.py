"""Staff type-ahead over clients: one box for a name, phone digits or a car plate (see ADR 0025).

Three narrow queries instead of one OR across tables, because each can use its own trigram index on PostgreSQL
(``crm_client_search_trgm``, ``crm_client_phone_trgm``, ``crm_vehicle_plate_trgm``; migration crm 0005) while an
OR with a join to vehicles cannot; on SQLite the same queries run as LIKE over the lowercase search column.
Every query is scoped to the organizations where the caller may view clients, and deleted clients are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import FilteredRelation, Q, QuerySet
from django.db.models.functions import Collate

from .cleaning import search_fold
from .models import Client, Vehicle
from .selectors import client_scope_ids

MAX_QUERY = 100
MAX_LIMIT = 50
MIN_TRIGRAM = 3  # below three characters a trigram index cannot narrow anything: only name prefixes are searched
HIT_FIELDS = ("id", "organization_id", "phone", "first_name", "last_name", "middle_name")  # what a hit shows
_LONG_DIGITS = re.compile(r"\d{5}")
_PHONEISH = re.compile(r"^[\d\s()+\-./]+$")
# Russian and Kazakh plates use the twelve Cyrillic letters that look like Latin ones; a plate typed on either
# keyboard finds one stored in the other.
_CYRILLIC = "АВЕКМНОРСТУХ"
_LATIN = "ABEKMHOPCTYX"
_TO_LATIN = str.maketrans(_CYRILLIC, _LATIN)
_TO_CYRILLIC = str.maketrans(_LATIN, _CYRILLIC)


@dataclass
class ClientHit:
    """One client found, with what matched (``name``, ``phone``, ``plate``) and the plates of their cars."""

    client: Client
    matched: list[str] = field(default_factory=list)
    plates: list[str] = field(default_factory=list)


def plate_fold(text: str) -> str:
    """A plate fragment as stored: upper-case letters and digits only (spaces, dashes and case dropped)."""
    return re.sub(r"[^0-9A-ZА-ЯЁ]", "", text.upper())


def _live(org_ids: set[int]) -> QuerySet[Client]:
    return Client.objects.filter(organization_id__in=org_ids, deleted_at__isnull=True)


def _name_prefix(qs: QuerySet[Client], text: str) -> QuerySet[Client]:
    """Clients whose ``name_key`` starts with ``text``, in code-point order of the name.

    On PostgreSQL the comparison and the order are in the "C" collation, which is what the partial index
    ``crm_client_org_name_prefix`` (migration crm 0006) is built in: a btree in a linguistic collation
    (ru_RU, en_US) cannot answer LIKE 'ab%' at all, and one in ``varchar_pattern_ops`` answers it but not the
    ORDER BY, so every match would be fetched and sorted; in "C" the scan stops after ``limit`` rows. SQLite
    compares and sorts by code point already. The keys are lowercase with ё folded, so code-point order is the
    alphabet for Russian and Latin names (Kazakh letters come after я).
    """
    if connection.vendor == "postgresql":
        return qs.alias(name_c=Collate("name_key", "C")).filter(name_c__startswith=text).order_by("name_c", "id")
    return qs.filter(name_key__startswith=text).order_by("name_key", "id")


def _name_ids(org_ids: set[int], text: str, limit: int) -> list[int]:
    """Names starting with ``text`` first (a range on ``crm_client_org_name_prefix``, alphabetical by name), then,
    from three characters on and only while the page is not full, names holding every word anywhere (the trigram
    index): a type-ahead mostly gets a prefix of the surname, and then never pays for the substring query."""
    # name_key holds names only: a fragment with a digit is a code, an e-mail or a plate, never a name's start.
    has_digit = any(ch.isdigit() for ch in text)
    prefix = [] if has_digit else list(_name_prefix(_live(org_ids), text).values_list("id", flat=True)[:limit])
    if len(text) < MIN_TRIGRAM or len(prefix) >= limit:
        return prefix
    qs = _live(org_ids)
    for token in text.split()[:5]:
        qs = qs.filter(search_text__contains=token)
    if prefix:
        qs = qs.exclude(id__in=prefix)
    return prefix + list(qs.order_by("name_key", "id").values_list("id", flat=True)[: limit - len(prefix)])


def _phone_ids(org_ids: set[int], digits: str, limit: int) -> list[int]:
    if len(digits) < MIN_TRIGRAM:
        return []
    # Phones are stored as E.164 ("+" and digits), so the digits typed in any format are a substring; a number
    # typed in the national format with the trunk prefix 8 (8 701 ... for +7 701 ...) is tried as +7 too.
    q = Q(phone__contains=digits)
    if len(digits) == 11 and digits.startswith("8"):
        q |= Q(phone="+7" + digits[1:])
    return list(_live(org_ids).filter(q).order_by("phone", "id").values_list("id", flat=True)[:limit])


def _plate_ids(org_ids: set[int], plate: str, limit: int) -> list[int]:
    # Plates carry digits; a fragment without any is a name being typed, and searching cars for it costs a query.
    # No plate of the region holds five digits in a row (А123ВС77, 123ABC02, 1234АВ77): that is a phone number.
    if len(plate) < MIN_TRIGRAM or not any(ch.isdigit() for ch in plate) or _LONG_DIGITS.search(plate):
        return []
    variants = Q()
    for variant in sorted({plate, plate.translate(_TO_LATIN), plate.translate(_TO_CYRILLIC)}):
        variants |= Q(plate__contains=variant)  # one BitmapOr over the trigram index on PostgreSQL
    rows = (
        Vehicle.objects.filter(
            variants, organization_id__in=org_ids, deleted_at__isnull=True, client__deleted_at__isnull=True
        )
        .order_by("plate", "id")
        .values_list("client_id", flat=True)[: limit * 2]
    )
    return list(dict.fromkeys(rows))[:limit]  # a client with two matching cars once


def client_search(*, user: Any, q: str, organization_id: int | None = None, limit: int = 20) -> list[ClientHit]:
    """Clients the caller may see whose name, phone or car plate matches ``q``, best kind of match first.

    A query that looks like a phone number (digits and ``+ ( ) - .`` only) lists phone matches first, then plates;
    anything else lists name matches first (every word somewhere in the name, e-mail or code), then plates.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    org_ids = client_scope_ids(user, organization_id)
    raw = q.replace("\x00", "").strip()[:MAX_QUERY]
    text = search_fold(raw)
    if len(text) < 2:
        return []
    digits = re.sub(r"\D", "", raw)
    plate = plate_fold(raw)
    phoneish = bool(_PHONEISH.match(raw)) and bool(digits)
    kinds: list[tuple[str, list[int]]] = []
    if phoneish:
        kinds.append(("phone", _phone_ids(org_ids, digits, limit)))
    else:
        kinds.append(("name", _name_ids(org_ids, text, limit)))
    if len(kinds[0][1]) < limit:  # a full page of the first kind would push every plate hit off it
        kinds.append(("plate", _plate_ids(org_ids, plate, limit)))
    order: list[int] = []
    matched: dict[int, list[str]] = {}
    for kind, ids in kinds:
        for client_id in ids:
            if client_id not in matched:
                order.append(client_id)
                matched[client_id] = []
            matched[client_id].append(kind)
    order = order[:limit]
    return _hits(org_ids, order, matched)


def _hits(org_ids: set[int], order: list[int], matched: dict[int, list[str]]) -> list[ClientHit]:
    """The found clients (only what a hit shows) with the plates of their live cars: one query, a LEFT JOIN."""
    cars = FilteredRelation("vehicles", condition=Q(vehicles__deleted_at__isnull=True) & ~Q(vehicles__plate=""))
    rows = (
        _live(org_ids)
        .filter(id__in=order)
        .annotate(car=cars)
        .order_by("id", "car__id")
        .values_list(*HIT_FIELDS, "car__plate")
    )
    clients: dict[int, Client] = {}
    plates: dict[int, list[str]] = {}
    for *values, number in rows:
        client_id = values[0]
        if client_id not in clients:
            clients[client_id] = Client.from_db(None, list(HIT_FIELDS), values)
        if number:
            plates.setdefault(client_id, []).append(number)
    return [ClientHit(client=clients[i], matched=matched[i], plates=plates.get(i, [])) for i in order if i in clients]
