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

from django.db.models import Q, QuerySet

from .cleaning import search_fold
from .models import Client, Vehicle
from .selectors import client_scope_ids

MAX_QUERY = 100
MAX_LIMIT = 50
MIN_TRIGRAM = 3  # below three characters a trigram index cannot narrow anything: only name prefixes are searched
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


def _name_ids(org_ids: set[int], text: str, limit: int) -> list[int]:
    tokens = text.split()[:5]
    if len(text) < MIN_TRIGRAM:
        qs = _live(org_ids).filter(name_key__startswith=text)
    else:
        qs = _live(org_ids)
        for token in tokens:
            qs = qs.filter(search_text__contains=token)
    return list(qs.order_by("name_key", "id").values_list("id", flat=True)[:limit])


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
    if len(plate) < MIN_TRIGRAM or not any(ch.isdigit() for ch in plate):
        return []
    variants = Q()
    for variant in sorted({plate, plate.translate(_TO_LATIN), plate.translate(_TO_CYRILLIC)}):
        variants |= Q(plate__contains=variant)  # one BitmapOr over the trigram index on PostgreSQL
    rows = (
        Vehicle.objects.filter(variants, organization_id__in=org_ids, deleted_at__isnull=True,
                               client__deleted_at__isnull=True)
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
    clients = _live(org_ids).in_bulk(order)
    plates: dict[int, list[str]] = {}
    for client_id, number in (
        Vehicle.objects.filter(client_id__in=order, deleted_at__isnull=True)
        .exclude(plate="")
        .order_by("id")
        .values_list("client_id", "plate")
    ):
        plates.setdefault(client_id, []).append(number)
    return [
        ClientHit(client=clients[i], matched=matched[i], plates=plates.get(i, [])) for i in order if i in clients
    ]
