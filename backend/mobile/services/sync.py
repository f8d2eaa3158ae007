"""Delta sync for the phone: what changed for the caller since a cursor, built on the event log (decision 0022).

A phone keeps a local copy of a few *collections* (its appointments, offers, shifts, earnings, its profile and, for
staff, the clients it may see). The first call (no cursor) pages through a full snapshot of them; every later call
reads the event log after the cursor (``backend.core.event_feed``, which never skips an event committed out of id
order) and answers, for each item an event touched, its **current** state: an ``upsert`` while the item is on the
phone, a ``delete`` tombstone once it is not (cancelled, withdrawn, deleted). Replaying the pages in order therefore
leaves the phone with exactly what a new snapshot would give.

Scoping: an event only names an entity. Each collection has a *scope* (the rows that are or ever were the caller's:
their own bookings whatever the status, the clients of the organizations where they may read clients) and a *live*
filter inside it. An event whose entity is outside the scope yields nothing at all, not even a tombstone, so the
feed never tells a caller that another user's or tenant's row exists or changed.

Cursors are signed (they cannot be forged or edited), name the caller they were issued to, and are served for
``BRIGADA_SYNC_RETENTION`` after they were issued: an older one is a 410 ``sync_cursor_expired`` and the app starts
over with a snapshot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings
from django.core import signing
from django.db.models import Model, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from backend.accounts.models import User
from backend.booking.appointment_selectors import customer_own
from backend.booking.models import Appointment, AppointmentLine, AppointmentStatus
from backend.core.cursors import MAX_CURSOR_CHARS, invalid_cursor
from backend.core.event_feed import FeedPosition, feed_horizon, feed_read
from backend.crm.models import Client
from backend.mobile.exceptions import Gone, MobileErrorCode
from backend.organizations.models import Membership
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_ids_for
from backend.staffing.models import OFFER_HOLDS_PLACE, Attendance, Offer, OfferStatus, Worker
from backend.staffing.selectors import WORKER_VISIBLE

SALT = "brigada.mobile.sync"
DEFAULT_RETENTION = dt.timedelta(days=30)
MAX_PAGE = 500

Op = Literal["upsert", "delete"]


def retention() -> dt.timedelta:
    """How long a sync cursor is served after it was issued (setting ``BRIGADA_SYNC_RETENTION``)."""
    value = getattr(settings, "BRIGADA_SYNC_RETENTION", DEFAULT_RETENTION)
    return value if isinstance(value, dt.timedelta) else dt.timedelta(seconds=float(value))


@dataclass
class _Caller:
    """The caller and the organization sets the scopes need, computed once per call."""

    user: Any
    orgs_self: set[int] = field(default_factory=set)
    orgs_clients: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, user: Any) -> _Caller:
        return cls(
            user=user,
            orgs_self=organization_ids_for(user, Perm.STAFFING_SELF),
            orgs_clients=organization_ids_for(user, Perm.CLIENT_VIEW),
        )


@dataclass(frozen=True)
class SyncCollection:
    """One collection on the phone: which events touch it, which rows are the caller's, which of them are live."""

    name: str
    entity_types: tuple[str, ...]
    scope: Callable[[_Caller], QuerySet[Any]]
    live: Callable[[QuerySet[Any]], QuerySet[Any]]
    # (caller, entity type, entity ids of events) -> ids of this collection's items they may touch
    keys: Callable[[_Caller, str, list[str]], set[int]]
    shape: Callable[[QuerySet[Any]], QuerySet[Any]] = lambda qs: qs


def _uid(c: _Caller) -> int:
    return int(getattr(c.user, "pk", 0) or 0)


def _int_ids(ids: list[str]) -> set[int]:
    return {int(i) for i in ids if i.isdigit()}


def _direct(_caller: _Caller, _entity_type: str, ids: list[str]) -> set[int]:
    return _int_ids(ids)


def _appointments_scope(c: _Caller) -> QuerySet[Appointment]:
    uid = _uid(c)
    own_lines = AppointmentLine.objects.filter(staff_id=uid).values("appointment_id")
    return Appointment.objects.filter(customer_own(c.user) | Q(organization_id__in=c.orgs_self, id__in=own_lines))


def _appointments_shape(qs: QuerySet[Appointment]) -> QuerySet[Appointment]:
    return qs.select_related("branch", "branch__organization", "client").prefetch_related(
        Prefetch("lines", queryset=AppointmentLine.objects.select_related("service", "staff", "resource"))
    )


def _offers_scope(c: _Caller) -> QuerySet[Offer]:
    return Offer.objects.filter(worker__user_id=_uid(c))


def _offer_shape(qs: QuerySet[Offer]) -> QuerySet[Offer]:
    return qs.select_related("shift__order__site")


#: An offer's place is held (or was, for a no-show or an excused absence): it is a shift on the phone.
SHIFT_STATUSES = (*OFFER_HOLDS_PLACE, OfferStatus.NO_SHOW, OfferStatus.EXCUSED)


def _attendance_scope(c: _Caller) -> QuerySet[Attendance]:
    return Attendance.objects.filter(worker__user_id=_uid(c))


def _attendance_shape(qs: QuerySet[Attendance]) -> QuerySet[Attendance]:
    return qs.select_related("shift__order__site")


def _profile_scope(c: _Caller) -> QuerySet[User]:
    return User.objects.filter(pk=_uid(c))


def _profile_keys(c: _Caller, entity_type: str, ids: list[str]) -> set[int]:
    uid = _uid(c)
    if entity_type == "accounts.user":
        return {uid} if str(uid) in ids else set()
    if Worker.objects.filter(pk__in=_int_ids(ids), user_id=uid).exists():
        return {uid}
    return set()


def _clients_scope(c: _Caller) -> QuerySet[Client]:
    return Client.objects.filter(organization_id__in=c.orgs_clients)


def _clients_shape(qs: QuerySet[Client]) -> QuerySet[Client]:
    return qs.select_related("source", "curator").prefetch_related("groups")


COLLECTIONS: tuple[SyncCollection, ...] = (
    SyncCollection(
        name="profile",
        entity_types=("accounts.user", "staffing.worker"),
        scope=_profile_scope,
        live=lambda qs: qs,
        keys=_profile_keys,
    ),
    SyncCollection(
        name="appointments",
        entity_types=("booking.appointment",),
        scope=_appointments_scope,
        live=lambda qs: qs.exclude(status__in=(AppointmentStatus.CANCELLED, AppointmentStatus.HELD)),
        keys=_direct,
        shape=_appointments_shape,
    ),
    SyncCollection(
        name="offers",
        entity_types=("staffing.offer",),
        scope=_offers_scope,
        live=lambda qs: qs.filter(WORKER_VISIBLE, status__in=(OfferStatus.OFFERED, OfferStatus.STANDBY)),
        keys=_direct,
        shape=_offer_shape,
    ),
    SyncCollection(
        name="shifts",
        entity_types=("staffing.offer",),
        scope=_offers_scope,
        live=lambda qs: qs.filter(status__in=SHIFT_STATUSES),
        keys=_direct,
        shape=_offer_shape,
    ),
    SyncCollection(
        name="earnings",
        entity_types=("staffing.attendance",),
        scope=_attendance_scope,
        live=lambda qs: qs.filter(hours__isnull=False, pay_amount__isnull=False),
        keys=_direct,
        shape=_attendance_shape,
    ),
    SyncCollection(
        name="clients",
        entity_types=("crm.client",),
        scope=_clients_scope,
        live=lambda qs: qs.filter(deleted_at__isnull=True),
        keys=_direct,
        shape=_clients_shape,
    ),
)
_BY_NAME = {c.name: c for c in COLLECTIONS}
MEMBERSHIP = "organizations.membership"
ENTITY_TYPES = tuple(sorted({MEMBERSHIP, *(t for c in COLLECTIONS for t in c.entity_types)}))


@dataclass(frozen=True)
class SyncChange:
    collection: str
    id: int
    op: Op
    row: Model | None  # the current row for an upsert (shaped by the transport), None for a tombstone


@dataclass(frozen=True)
class SyncPage:
    changes: list[SyncChange]
    cursor: str
    has_more: bool
    snapshot: bool  # True while the pages are a full snapshot (the app replaces its copy with what they bring)


# --- cursors ----------------------------------------------------------------------------------------------------


def _cursor_issue(user: Any, state: dict[str, Any]) -> str:
    return signing.dumps({"u": user.pk, **state}, salt=SALT, compress=True)


def _cursor_read(user: Any, cursor: str) -> dict[str, Any]:
    if len(cursor) > MAX_CURSOR_CHARS:
        raise invalid_cursor()
    try:
        state = signing.loads(cursor, salt=SALT, max_age=retention())
    except signing.SignatureExpired as exc:
        raise Gone(
            _("This sync cursor is too old; start again without one to get a full snapshot."),
            code=MobileErrorCode.SYNC_CURSOR_EXPIRED,
        ) from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise invalid_cursor() from exc
    if not isinstance(state, dict) or state.get("u") != user.pk or state.get("m") not in ("s", "d"):
        raise invalid_cursor()  # another user's cursor is as meaningless as a forged one
    return state


def _position(raw: Any) -> FeedPosition:
    if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, int) and v >= 0 for v in raw)):
        raise invalid_cursor()
    return FeedPosition(raw[0], raw[1])


# --- the two phases -----------------------------------------------------------------------------------------------


def _snapshot_page(caller: _Caller, state: dict[str, Any], limit: int) -> SyncPage:
    """The next ``limit`` live rows of the snapshot, collection by collection, in primary-key order."""
    horizon = _position(state.get("h"))
    index, after = state.get("c"), state.get("k")
    if not (isinstance(index, int) and 0 <= index <= len(COLLECTIONS) and isinstance(after, int)):
        raise invalid_cursor()
    changes: list[SyncChange] = []
    while index < len(COLLECTIONS) and len(changes) < limit:
        collection = COLLECTIONS[index]
        rows = list(
            collection.shape(collection.live(collection.scope(caller)).filter(pk__gt=after).order_by("pk"))[
                : limit - len(changes)
            ]
        )
        changes += [SyncChange(collection.name, row.pk, "upsert", row) for row in rows]
        if len(changes) < limit:
            index, after = index + 1, 0
        else:
            after = rows[-1].pk
    if index >= len(COLLECTIONS):
        cursor = _cursor_issue(caller.user, {"m": "d", "p": [horizon.xid, horizon.id]})
        return SyncPage(changes=changes, cursor=cursor, has_more=False, snapshot=True)
    cursor = _cursor_issue(caller.user, {"m": "s", "c": index, "k": after, "h": [horizon.xid, horizon.id]})
    return SyncPage(changes=changes, cursor=cursor, has_more=True, snapshot=True)


def _access_changed(caller: _Caller, events: Sequence[Any]) -> bool:
    """Whether one of ``events`` granted, changed or revoked a membership of the caller: what they may see changed,
    and old rows of a newly reachable organization have no event after the cursor to bring them."""
    uid, ids = _uid(caller), []
    for event in events:
        if event.entity_type != MEMBERSHIP:
            continue
        if uid in ((event.before or {}).get("user"), (event.after or {}).get("user")):
            return True  # a grant or a revocation (the revoked row is gone: its event still names the user)
        ids.append(event.entity_id)
    return bool(ids) and Membership.objects.filter(pk__in=_int_ids(ids), user_id=uid).exists()


def _delta_page(caller: _Caller, after: FeedPosition, limit: int) -> SyncPage:
    """The current state of every item the next ``limit`` events touched, once each."""
    page = feed_read(after=after, entity_types=ENTITY_TYPES, limit=limit)
    if _access_changed(caller, page.events):
        raise Gone(
            _("Your access changed; start again without a cursor to get a full snapshot."),
            code=MobileErrorCode.SYNC_RESYNC_REQUIRED,
        )
    touched: dict[str, list[str]] = {}
    for event in page.events:
        touched.setdefault(event.entity_type, []).append(event.entity_id)
    changes: list[SyncChange] = []
    for collection in COLLECTIONS:
        ids: set[int] = set()
        for entity_type in collection.entity_types:
            if entity_type in touched:
                ids |= collection.keys(caller, entity_type, touched[entity_type])
        if not ids:
            continue
        scoped = collection.scope(caller).filter(pk__in=ids)
        mine = set(scoped.values_list("pk", flat=True))
        live = {row.pk: row for row in collection.shape(collection.live(scoped))}
        for pk in sorted(mine):
            row = live.get(pk)
            changes.append(SyncChange(collection.name, pk, "upsert" if row is not None else "delete", row))
    cursor = _cursor_issue(caller.user, {"m": "d", "p": [page.position.xid, page.position.id]})
    return SyncPage(changes=changes, cursor=cursor, has_more=not page.complete, snapshot=False)


def sync_page(*, user: Any, cursor: str | None, limit: int = 200) -> SyncPage:
    """One page of the caller's sync: a snapshot page without ``cursor`` (or with a snapshot cursor), else the
    changes after it. 410 ``sync_cursor_expired`` past the retention window, 422 ``invalid_cursor`` for anything
    that is not a cursor issued to this caller."""
    limit = max(1, min(limit, MAX_PAGE))
    caller = _Caller.of(user)
    if cursor is None:
        # The horizon is taken before any row is read: whatever changes while the snapshot is paged through is
        # after it, and the deltas bring it (again, harmlessly: an upsert carries the state, not a difference).
        horizon = feed_horizon()
        return _snapshot_page(caller, {"c": 0, "k": 0, "h": [horizon.xid, horizon.id]}, limit)
    state = _cursor_read(user, cursor)
    if state["m"] == "s":
        return _snapshot_page(caller, state, limit)
    return _delta_page(caller, _position(state.get("p")), limit)


def sync_collections() -> Sequence[str]:
    """The names of the collections a phone keeps, in the order a snapshot brings them."""
    return [c.name for c in COLLECTIONS]


__all__ = ["COLLECTIONS", "SyncChange", "SyncPage", "retention", "sync_collections", "sync_page"]
