"""Recruiting many workers at once (a demo world, a migration from another system): the same rules as
``pool.worker_recruit`` and ``pool.worker_status_change``, written in a few statements instead of one
transaction per worker. All or nothing: one bad row and nothing is written."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.accounts.models import User
from backend.accounts.services import USER_EVENT_FIELDS
from backend.core.clock import clock_now
from backend.core.events import event_record_many, snapshot
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.core.phones import phone_normalize
from backend.organizations.models import Membership, Role
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check
from backend.staffing.exceptions import StaffingErrorCode
from backend.staffing.models import Worker, WorkerAvailability, WorkerStatus
from backend.staffing.selectors import pool_owner_id

from .pool import PROFILE_FIELDS, TRANSITIONS, _point_check, _window_check, skills_clean

MAX_BULK = 5000
AVAILABILITY_FIELDS = ("starts_at", "ends_at")


@dataclass(frozen=True)
class WorkerRow:
    phone: str
    first_name: str = ""
    last_name: str = ""
    skills: Sequence[str] = field(default_factory=tuple)
    home_latitude: Decimal | None = None
    home_longitude: Decimal | None = None


@transaction.atomic
def workers_recruit_many(*, user: Any, organization_id: int, rows: Sequence[WorkerRow]) -> list[Worker]:
    """Add people to the pool of ``organization_id``'s HQ as candidates, each with a worker membership there and a
    create event. Accounts are found by phone or created. 409 ``worker_exists`` when one is already in a pool (or
    a phone repeats), 422 for a bad phone, point or skill list; nothing is written then."""
    owner_id = pool_owner_id(organization_id)
    organization_access_check(user, owner_id, Perm.STAFFING_MANAGE)
    if len(rows) > MAX_BULK:
        raise ValidationFailed(_("At most %(n)d workers at once.") % {"n": MAX_BULK}, fields={"rows": [str(len(rows))]})
    phones = [phone_normalize(r.phone) for r in rows]
    for row in rows:
        _point_check(row.home_latitude, row.home_longitude)
    skills = [skills_clean(r.skills) for r in rows]
    if len(set(phones)) != len(phones):
        raise Conflict(_("A phone repeats in the list."), code=StaffingErrorCode.WORKER_EXISTS)
    accounts = {u.phone: u for u in User.objects.filter(phone__in=phones)}
    if Worker.objects.filter(user__phone__in=phones).exists():
        raise Conflict(_("This person is already in a worker pool."), code=StaffingErrorCode.WORKER_EXISTS)
    fresh = []
    for phone, row in zip(phones, rows, strict=True):
        if phone not in accounts:
            account = User(phone=phone, first_name=row.first_name, last_name=row.last_name)
            account.set_unusable_password()
            fresh.append(account)
    User.objects.bulk_create(fresh)
    new_accounts = list(User.objects.filter(phone__in=[u.phone for u in fresh]))
    accounts.update({u.phone: u for u in new_accounts})
    event_record_many(
        entities=[(u, None, snapshot(u, USER_EVENT_FIELDS)) for u in new_accounts],
        action=EventAction.CREATE,
        actor=user,
    )
    Worker.objects.bulk_create(
        [
            Worker(
                organization_id=owner_id,
                user=accounts[phone],
                skills=skill_list,
                home_latitude=row.home_latitude,
                home_longitude=row.home_longitude,
            )
            for phone, row, skill_list in zip(phones, rows, skills, strict=True)
        ]
    )
    workers = list(Worker.objects.filter(user__phone__in=phones).select_related("user").order_by("id"))
    had = set(
        Membership.objects.filter(
            user__in=[w.user for w in workers], organization_id=owner_id, role=Role.WORKER
        ).values_list("user_id", flat=True)
    )
    Membership.objects.bulk_create(
        [Membership(user=w.user, organization_id=owner_id, role=Role.WORKER) for w in workers if w.user_id not in had]
    )
    granted = Membership.objects.filter(
        user__in=[w.user for w in workers if w.user_id not in had], organization_id=owner_id, role=Role.WORKER
    )
    event_record_many(
        entities=[(m, None, {"user": m.user_id, "role": m.role}) for m in granted],
        action=EventAction.CREATE,
        actor=user,
    )
    event_record_many(
        entities=[(w, None, snapshot(w, PROFILE_FIELDS)) for w in workers], action=EventAction.CREATE, actor=user
    )
    return workers


@transaction.atomic
def workers_status_change_many(*, user: Any, organization_id: int, worker_ids: Sequence[int], status: str) -> int:
    """Move many workers of ``organization_id``'s pool one step along the ladder (interviewed, active), one status
    event each. 404 for an id outside the pool, 409 ``invalid_status_transition`` for a step the ladder does not
    have; suspension goes one by one (``pool.worker_status_change``: it withdraws offers)."""
    owner_id = pool_owner_id(organization_id)
    organization_access_check(user, owner_id, Perm.STAFFING_MANAGE)
    if status not in (WorkerStatus.INTERVIEWED, WorkerStatus.ACTIVE):
        raise Conflict(
            _("Only interviews and activations go in bulk."),
            code=StaffingErrorCode.INVALID_STATUS_TRANSITION,
            fields={"status": [status]},
        )
    ids = sorted(set(worker_ids))
    workers = list(Worker.objects.select_for_update().filter(organization_id=owner_id, pk__in=ids).order_by("id"))
    if len(workers) != len(ids):
        raise NotFound(_("Worker not found."))
    now, stamp = clock_now(), timezone.now()  # business time for the interview, wall time for the row
    changed: dict[str, Any] = {"status": status, "updated_at": stamp}
    if status == WorkerStatus.INTERVIEWED:
        changed["interviewed_at"] = now
        changed["interviewed_by"] = user if getattr(user, "is_authenticated", False) else None
    befores = []
    for worker in workers:
        if status not in TRANSITIONS.get(worker.status, frozenset()):
            raise Conflict(
                _("A %(current)s worker cannot become %(new)s.") % {"current": worker.status, "new": status},
                code=StaffingErrorCode.INVALID_STATUS_TRANSITION,
                fields={"status": [status]},
            )
        befores.append(snapshot(worker, PROFILE_FIELDS))
        for name, value in changed.items():
            setattr(worker, name, value)
    # Every row moves to the same values: one UPDATE per chunk (``bulk_update``'s CASE per row costs seconds).
    for start in range(0, len(ids), 900):
        Worker.objects.filter(pk__in=ids[start : start + 900]).update(**changed)
    event_record_many(
        entities=[(w, b, snapshot(w, PROFILE_FIELDS)) for w, b in zip(workers, befores, strict=True)],
        action=EventAction.STATUS,
        actor=user,
    )
    return len(workers)


Window = tuple[dt.datetime, dt.datetime]


@transaction.atomic
def availability_declare_many(
    *,
    user: Any,
    organization_id: int,
    declarations: Mapping[int, Sequence[Window]],
    replace_from: dt.datetime | None = None,
) -> int:
    """Windows for many workers of ``organization_id``'s pool at once (an import from a rota, the demo's history),
    with ``pool.availability_declare``'s rules for each worker: with ``replace_from`` their windows ending after
    it are replaced, overlapping or touching windows merge, one create / delete event per window. The caller needs
    STAFFING_MANAGE over the pool; 404 for a worker outside it, 422 ``invalid_availability`` for a bad window, and
    nothing is written then. Returns how many windows were created."""
    owner_id = pool_owner_id(organization_id)
    organization_access_check(user, owner_id, Perm.STAFFING_MANAGE)
    if len(declarations) > MAX_BULK:
        raise ValidationFailed(
            _("At most %(n)d workers at once.") % {"n": MAX_BULK}, fields={"declarations": [str(len(declarations))]}
        )
    ids = sorted(declarations)
    found = set(
        Worker.objects.select_for_update().filter(organization_id=owner_id, pk__in=ids).values_list("pk", flat=True)
    )
    if len(found) != len(ids):
        raise NotFound(_("Worker not found."))
    now = clock_now()
    for windows in declarations.values():
        for starts_at, ends_at in windows:
            _window_check(starts_at, ends_at, now)
    after = now if replace_from is None else min(now, replace_from)
    existing: dict[int, list[WorkerAvailability]] = defaultdict(list)
    for row in WorkerAvailability.objects.filter(worker_id__in=ids, ends_at__gt=after).order_by("starts_at", "id"):
        existing[row.worker_id].append(row)
    removed: list[WorkerAvailability] = []
    swallowed: list[WorkerAvailability] = []
    fresh: list[WorkerAvailability] = []
    for worker_id in ids:
        rows = existing.get(worker_id, [])
        if replace_from is not None:
            removed += [r for r in rows if r.ends_at > replace_from]
            rows = [r for r in rows if r.ends_at <= replace_from]
        future = [r for r in rows if r.ends_at > now]
        merged: list[Window] = []
        for start, end in sorted([*declarations[worker_id], *((r.starts_at, r.ends_at) for r in future)]):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        kept: dict[Window, WorkerAvailability] = {(r.starts_at, r.ends_at): r for r in future}
        for start, end in merged:
            if kept.pop((start, end), None) is None:
                fresh.append(WorkerAvailability(worker_id=worker_id, starts_at=start, ends_at=end))
        swallowed += kept.values()
    gone = [*removed, *swallowed]
    event_record_many(
        entities=[(r, snapshot(r, AVAILABILITY_FIELDS), None) for r in gone],
        action=EventAction.DELETE,
        actor=user,
        organization_id=owner_id,
    )
    for offset in range(0, len(gone), 900):  # SQLite's bound on query parameters
        WorkerAvailability.objects.filter(pk__in=[r.pk for r in gone[offset : offset + 900]]).delete()
    created = WorkerAvailability.objects.bulk_create(fresh, batch_size=1000)
    event_record_many(
        entities=[(r, None, snapshot(r, AVAILABILITY_FIELDS)) for r in created],
        action=EventAction.CREATE,
        actor=user,
        organization_id=owner_id,
    )
    return len(created)
